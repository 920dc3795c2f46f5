/**
 * Palisade's own HTTPS endpoint: the probe and metrics handlers served with the certificate of the
 * internal CertificateBinding `palisade-operator-tls` in the operator's namespace (declared by the chart
 * or the platform engineer, like any other binding; see docs/certificates.md). TLS 1.2 is the floor, with
 * only forward-secret AEAD suites; a renewed certificate is picked up without a restart.
 *
 * It reads the Secret by name (a GET per minute), so it runs on standby replicas too, with no
 * informer of its own.
 */
import https from 'node:https';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CertificateBinding } from '../../crds/v1alpha1/index.ts';
import type { Clock, Timer } from '../runtime/clock.ts';
import { describeError } from '../runtime/errors.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { Logger } from '../runtime/log.ts';
import { parseAddress } from '../runtime/server.ts';
import { secretString as secretText } from '../runtime/objects.ts';

export const OPERATOR_TLS_SECRET = 'palisade-operator-tls';

/** TLS 1.2 suites: ECDHE + AEAD only (Mozilla "intermediate"); TLS 1.3 suites are all strong. */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** The TLS settings every Palisade-served endpoint uses. */
export function hardenedTls(pem: { cert: string; key: string }) {
  return {
    ...pem,
    minVersion: 'TLSv1.2' as const,
    ciphers: TLS12_CIPHERS,
    honorCipherOrder: true,
  };
}

/** The binding a deployment declares for the endpoint (apply it alongside the operator; docs/certificates.md). */
export function operatorTlsBinding(namespace: string): CertificateBinding {
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'CertificateBinding',
    metadata: { name: OPERATOR_TLS_SECRET, namespace },
    spec: {
      secretName: OPERATOR_TLS_SECRET,
      expiryWarning: '336h',
      internal: {
        dnsNames: [
          'localhost',
          `palisade-operator.${namespace}.svc`,
          `palisade-operator.${namespace}.svc.cluster.local`,
        ],
        duration: '2160h',
        renewBefore: '720h',
      },
    },
  };
}

export interface SecureEndpoint {
  /** The bound port, once the certificate was found and the server listens. */
  port(): number | undefined;
  close(): Promise<void>;
}

const WAIT_MS = 2_000;
const RELOAD_MS = 60_000;
const NAG_AFTER = 15;

/** Starts polling for the certificate; listens once it exists and reloads it when it changes. */
export function startSecureEndpoint(o: {
  address: string;
  client: KubeClient;
  namespace: string;
  handler: http.RequestListener;
  log: Logger;
  clock: Clock;
}): SecureEndpoint {
  let server: https.Server | undefined;
  let version: string | undefined;
  let timer: Timer | undefined;
  let attempts = 0;
  let closed = false;

  const load = async () => {
    const secret = await o.client.get<Secret>({
      kind: 'Secret',
      name: OPERATOR_TLS_SECRET,
      namespace: o.namespace,
    });
    const cert = secret && secretText(secret, 'tls.crt');
    const key = secret && secretText(secret, 'tls.key');
    if (!cert || !key || !secret) return false;
    if (secret.metadata.resourceVersion === version) return true;
    if (server) {
      server.setSecureContext(hardenedTls({ cert, key }));
      version = secret.metadata.resourceVersion;
      o.log.info('reloaded the HTTPS endpoint certificate', { secret: OPERATOR_TLS_SECRET });
      return true;
    }
    const s = https.createServer(hardenedTls({ cert, key }), o.handler);
    const { host, port } = parseAddress(o.address);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => resolve());
    });
    server = s;
    version = secret.metadata.resourceVersion;
    o.log.info('HTTPS endpoint listening', { address: o.address, port: (s.address() as AddressInfo).port });
    return true;
  };

  const tick = () => {
    if (closed) return;
    load().then(
      (found) => {
        if (!found && ++attempts === NAG_AFTER) {
          o.log.warn('waiting for the HTTPS endpoint certificate: declare the internal CertificateBinding', {
            secret: OPERATOR_TLS_SECRET,
            namespace: o.namespace,
          });
        }
        if (!closed) timer = o.clock.setTimer(found ? RELOAD_MS : WAIT_MS, tick);
      },
      (e: unknown) => {
        o.log.warn('could not load the HTTPS endpoint certificate; retrying', { error: describeError(e) });
        if (!closed) timer = o.clock.setTimer(WAIT_MS, tick);
      },
    );
  };
  tick();

  return {
    port: () => (server?.address() as AddressInfo | null)?.port,
    close: async () => {
      closed = true;
      timer?.cancel();
      const s = server;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
