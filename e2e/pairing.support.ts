/**
 * A test-side agent for the pairing and cluster channel journeys: its own keys (NATS user nkey, P-256
 * TLS key), a PKCS#10 request, and gRPC calls made directly, so hostile cases (another tenant's names,
 * a self-made certificate) can be driven as well as honest ones.
 */
import { webcrypto, type webcrypto as wc, KeyObject } from 'node:crypto';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import {
  clusterChannelClient,
  pairingClient,
  type AgentClient,
  type Command,
  type PairRequest,
  type PairResponse,
  type RenewResponse,
  type ReportRequest,
  type ReportResponse,
} from '../controllers/agentchannel/proto.ts';
import { createKeyPair, type NKeyPair } from '../controllers/nats/protocol/index.ts';
import { x509 } from '../controllers/pki/peculiar.ts';

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface AgentKeys {
  nats: NKeyPair;
  tls: wc.CryptoKeyPair;
  keyPem: string;
  csr: Uint8Array;
}

export async function agentKeys(): Promise<AgentKeys> {
  const tls = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as wc.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=test-agent',
    keys: tls,
    signingAlgorithm: EC,
  });
  return {
    nats: createKeyPair('U'),
    tls,
    keyPem: KeyObject.from(tls.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
    csr: new Uint8Array(csr.rawData),
  };
}

/** A self-signed certificate naming `uri`, on the agent's key: what a forger can make without the CA. */
export async function selfMadeCertificate(keys: AgentKeys, uri: string): Promise<string> {
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=forged',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    keys: keys.tls,
    signingAlgorithm: EC,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: uri }])],
  });
  return cert.toString('pem');
}

export type Outcome<T> =
  { ok: true; value: T } | { ok: false; code: number; details: string; retryAfter?: string };

function unary<Req, Res>(
  client: AgentClient,
  method: string,
  req: Req,
  md = new Metadata(),
): Promise<Outcome<Res>> {
  return new Promise((resolve) => {
    let trailer: Metadata | undefined;
    const call = (client[method] as (...a: unknown[]) => { on(e: string, f: (m: Metadata) => void): void })(
      req,
      md,
      { deadline: Date.now() + 20_000 },
      (err: ServiceError | null, res: Res) =>
        resolve(
          err
            ? {
                ok: false,
                code: err.code,
                details: err.details,
                ...((trailer ?? err.metadata)?.get('retry-after-seconds')[0]
                  ? { retryAfter: String((trailer ?? err.metadata).get('retry-after-seconds')[0]) }
                  : {}),
              }
            : { ok: true, value: res },
        ),
    );
    call.on('status', (s: Metadata & { metadata?: Metadata }) => (trailer = s.metadata));
  });
}

export function pairWith(
  address: string,
  caPem: string,
  req: Partial<PairRequest>,
): Promise<Outcome<PairResponse>> {
  const client = pairingClient(address, credentials.createSsl(Buffer.from(caPem)));
  return unary<Partial<PairRequest>, PairResponse>(client, 'Pair', req).finally(() => client.close());
}

/** A cluster channel client with a client certificate (PEM) and its key. */
export class Channel {
  readonly client: AgentClient;
  constructor(address: string, caPem: string, certPem: string, keyPem: string) {
    this.client = clusterChannelClient(
      address,
      credentials.createSsl(Buffer.from(caPem), Buffer.from(keyPem), Buffer.from(certPem)),
    );
  }
  report(req: Partial<ReportRequest>, md?: Metadata): Promise<Outcome<ReportResponse>> {
    return unary(this.client, 'Report', req, md);
  }
  renew(keys: AgentKeys): Promise<Outcome<RenewResponse>> {
    return unary(this.client, 'Renew', {
      natsUserPublicKey: keys.nats.publicKey,
      certificateRequest: keys.csr,
    });
  }
  /** Opens Commands; resolves `ended` with the status code the stream ends with. */
  commands(): { received: Command[]; ended: Promise<{ code: number; details: string }>; cancel(): void } {
    const received: Command[] = [];
    const stream = (this.client.Commands as (r: unknown) => NodeJS.EventEmitter & { cancel(): void })({});
    const ended = new Promise<{ code: number; details: string }>((resolve) => {
      stream.on('data', (c: Command) => received.push(c));
      stream.on('error', (e: ServiceError) => resolve({ code: e.code, details: e.details }));
      stream.on('end', () => resolve({ code: 0, details: 'end' }));
    });
    return { received, ended, cancel: () => stream.cancel() };
  }
  close(): void {
    this.client.close();
  }
}
