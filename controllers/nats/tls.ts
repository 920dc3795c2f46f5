import type { ServerNames, TlsIssuer, TlsMaterial } from './protocol/index.ts';
import {
  ensureInstallationCertNow,
  INSTALLATION_CERT_LIFETIME_MS,
  type InstallationCertSpec,
} from '../internalca/installationcerts.ts';
import { activeCA, bundleOf, listCAVersions, type CAVersion } from '../internalca/ca.ts';
import { issueLeaf, type RandomSource } from '../pki/index.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { AuditLog, Logger } from '../runtime/log.ts';
import { NATS_SECRETS, NatsComponent } from './secrets.ts';

/** Backdated so a server whose clock is slightly behind still accepts its own certificate. */
const BACKDATE_MS = 3_600_000;

/** DNS names the server certificate covers: the chart's Service, and loopback for local runs. */
export function serverNames(namespace: string): ServerNames {
  const svc = 'palisade-nats';
  return {
    dnsNames: [
      svc,
      `${svc}.${namespace}`,
      `${svc}.${namespace}.svc`,
      `${svc}.${namespace}.svc.cluster.local`,
      'localhost',
    ],
    ipAddresses: ['127.0.0.1', '::1'],
  };
}

/** `palisade-nats-tls`: an installation certificate the internal CA keeper renews and reissues. */
export function natsTlsSpec(namespace: string): InstallationCertSpec {
  return { name: NATS_SECRETS.tls, component: NatsComponent.Tls, ...serverNames(namespace) };
}

/** The nats-server certificate's source: a {@link TlsIssuer}, and the Secret kept current. */
export interface NatsTls extends TlsIssuer {
  /**
   * The server's TLS Secret as it must be now: created at first start, later renewed or reissued after a
   * CA rotation (controllers/certificatebinding/installationcerts.ts; the keeper does the same while
   * the operator runs).
   */
  ensureSecret(at: { now(): Date; log: Logger; audit: AuditLog }): Promise<Secret>;
}

/**
 * The nats-server certificate from Palisade's internal CA (RSA-2048, like every inter-service
 * certificate): clients trust the same bundle as for every other internal endpoint (ConfigMap
 * `palisade-ca-bundle`). The CA exists before this runs: it is an earlier start-up task.
 */
export function internalCaIssuer(d: {
  client: KubeClient;
  namespace: string;
  rand: RandomSource;
  overlapMs?: number;
}): NatsTls {
  return {
    issueServer: async (names, now) => serverTls(await listCAVersions(d), names, now, d.rand),
    ensureSecret: (at) => ensureInstallationCertNow({ ...d, ...at }, natsTlsSpec(d.namespace)),
  };
}

/** A server certificate for `names` from the active CA of `versions`, with the bundle clients trust. */
export async function serverTls(
  versions: readonly CAVersion[],
  names: ServerNames,
  now: Date,
  rand: RandomSource,
): Promise<TlsMaterial> {
  const ca = activeCA(versions);
  if (!ca) throw new Error('the internal CA does not exist yet; the NATS server certificate waits for it');
  const leaf = await issueLeaf({
    ca: ca.pair,
    dnsNames: names.dnsNames,
    ipAddresses: names.ipAddresses,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(
      Math.min(now.getTime() + INSTALLATION_CERT_LIFETIME_MS, ca.cert.validToDate.getTime()),
    ),
    rand,
  });
  return { caPem: bundleOf(versions), certPem: leaf.certPem, keyPem: leaf.keyPem };
}
