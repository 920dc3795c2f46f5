/**
 * A small Palisade for the agent's unit tests: a real gRPC server on loopback implementing
 * agents.proto's Pairing and ClusterChannel with a throwaway CA. It checks what the real one must check
 * (the code, the CSR's proof of possession, the client certificate on every ClusterChannel call) and
 * records what it saw. Not a model of Palisade's policies: those are the operator's tests.
 */
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { status, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import {
  clusterChannelService,
  pairingService,
  type AgentCredentials,
  type Command,
  type PairRequest,
  type RenewRequest,
  type ReportRequest,
} from '../../controllers/agentchannel/proto.ts';
import { spkiFingerprint } from '../../controllers/agentchannel/identity.ts';
import { createCA, issueLeaf, RSA_SHA256, serialFrom, type IssuedPair } from '../../controllers/pki/index.ts';
import { x509 } from '../../controllers/pki/peculiar.ts';
import { startKeyServer } from '../../controllers/keyservice/server.ts';

export const TENANT_UID = '0123456789ab';
const AGENT_UID = '11111111-2222-4333-8444-555555555555';
const URI = `spiffe://palisade-${'ab'.repeat(16)}/tenants/${TENANT_UID}/clusteragents/${AGENT_UID}`;
const rand = (n: number) => new Uint8Array(randomBytes(n));

export interface Seen {
  pairs: PairRequest[];
  /** Serial of the client certificate of each accepted Report, in order. */
  reports: { serial: string; health: string; statistics: Record<string, string> }[];
  renewals: RenewRequest[];
}

export interface FakePalisade {
  readonly address: string;
  readonly ca: IssuedPair;
  readonly pin: string;
  readonly seen: Seen;
  /** Refuse every ClusterChannel call from now on, and end open command streams (a deleted agent). */
  revoke(): void;
  /** Send a command on every open stream. */
  command(verb: string): void;
  /** Certificates issued: lifetime and renew-after, relative to now (seconds). */
  lifetime: { notAfter: number; renewAfter: number };
  stop(): Promise<void>;
}

export async function startFakePalisade(o: {
  code: string;
  port?: number;
  ca?: IssuedPair;
  /** Codes valid besides `code` (each once). */
  moreCodes?: string[];
  /** false: Palisade without messaging (no NATS user JWT). */
  messaging?: boolean;
}): Promise<FakePalisade> {
  const now = new Date();
  const day = 86_400_000;
  const ca =
    o.ca ??
    (await createCA({
      subject: 'CN=Test CA',
      notBefore: new Date(+now - day),
      notAfter: new Date(+now + day),
      rand,
    }));
  const leaf = await issueLeaf({
    ca,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    notBefore: new Date(+now - day),
    notAfter: new Date(+now + day),
    rand,
  });
  const seen: Seen = { pairs: [], reports: [], renewals: [] };
  const streams = new Set<ServerWritableStream<object, Command>>();
  let revoked = false;
  const used = new Set<string>();
  const codes = [o.code, ...(o.moreCodes ?? [])];
  const lifetime = { notAfter: 3600, renewAfter: 2400 };

  const issue = async (csrDer: Uint8Array, natsKey: string): Promise<AgentCredentials> => {
    const csr = new x509.Pkcs10CertificateRequest(csrDer);
    if (!(await csr.verify())) throw new Error('CSR signature');
    const signingKey = await createPrivateKey(ca.keyPem).toCryptoKey(RSA_SHA256, false, ['sign']);
    const t = Math.floor(Date.now() / 1000);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serialFrom(rand),
      subject: 'CN=agent',
      issuer: new x509.X509Certificate(ca.certPem).subject,
      notBefore: new Date((t - 60) * 1000),
      notAfter: new Date((t + lifetime.notAfter) * 1000),
      publicKey: await csr.publicKey.export(),
      signingKey,
      signingAlgorithm: RSA_SHA256,
      extensions: [
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: URI }]),
      ],
    });
    return {
      clientCertificate: cert.toString('pem'),
      caBundle: ca.certPem,
      natsUserJwt: o.messaging === false ? '' : `jwt-for-${natsKey}`,
      natsUrl: '',
      notAfter: t + lifetime.notAfter,
      renewAfter: t + lifetime.renewAfter,
    };
  };

  /** The caller's certificate serial, or a refusal. */
  const caller = (call: { getAuthContext(): { sslPeerCertificate?: { raw: Buffer } } | null }) => {
    const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
    if (!raw || revoked) return undefined;
    const cert = new X509Certificate(raw);
    return cert.verify(new X509Certificate(ca.certPem).publicKey) ? cert.serialNumber : undefined;
  };
  const denied = { code: status.PERMISSION_DENIED, details: 'agent unknown, deleted or suspended' };

  const pairing = {
    Pair: (call: ServerUnaryCall<PairRequest, unknown>, cb: sendUnaryData<unknown>) => {
      seen.pairs.push(call.request);
      const code = call.request.code;
      // The fake's agent belongs to tenant acme.
      const otherTenant = call.request.tenant && call.request.tenant !== 'acme';
      if (!codes.includes(code) || used.has(code) || otherTenant)
        return cb({ code: status.PERMISSION_DENIED, details: 'code refused' });
      used.add(code);
      issue(call.request.certificateRequest, call.request.natsUserPublicKey).then(
        (credentials) =>
          cb(null, {
            credentials,
            tenant: 'acme',
            namespace: 'tenant-acme',
            clusterAgent: 'edge',
            clusterName: 'edge-cluster',
            // The first code's ID is C0DE1D, the next ones' C0DE2D, C0DE3D…
            codeId: `C0DE${codes.indexOf(code) + 1}D`,
          }),
        (e: Error) => cb({ code: status.INVALID_ARGUMENT, details: e.message }),
      );
    },
  };
  const channel = {
    Report: (call: ServerUnaryCall<ReportRequest, unknown>, cb: sendUnaryData<unknown>) => {
      const serial = caller(call);
      if (!serial) return cb(denied);
      seen.reports.push({ serial, health: call.request.health, statistics: call.request.statistics });
      cb(null, { reportIntervalSeconds: 0 });
    },
    Commands: (call: ServerWritableStream<object, Command>) => {
      if (!caller(call)) return call.emit('error', denied);
      streams.add(call);
      call.on('cancelled', () => streams.delete(call));
    },
    Renew: (call: ServerUnaryCall<RenewRequest, unknown>, cb: sendUnaryData<unknown>) => {
      if (!caller(call)) return cb(denied);
      seen.renewals.push(call.request);
      issue(call.request.certificateRequest, call.request.natsUserPublicKey).then(
        (credentials) => cb(null, { credentials }),
        (e: Error) => cb({ code: status.INVALID_ARGUMENT, details: e.message }),
      );
    },
  };
  // The operator's own gRPC server (TLS settings, optional client certificates), with these handlers.
  const server = await startKeyServer({
    address: `127.0.0.1:${o.port ?? 0}`,
    // NB: the chain includes the CA, which is what lets an agent pin it by fingerprint.
    tls: { cert: `${leaf.certPem.trim()}\n${ca.certPem}`, key: leaf.keyPem, ca: ca.certPem },
    services: [
      { definition: pairingService(), handlers: pairing },
      { definition: clusterChannelService(), handlers: channel },
    ],
  });
  return {
    address: `127.0.0.1:${server.port}`,
    ca,
    pin: spkiFingerprint(ca.certPem),
    seen,
    lifetime,
    revoke() {
      revoked = true;
      for (const s of streams) s.emit('error', denied);
      streams.clear();
    },
    command(verb) {
      for (const s of streams) s.write({ id: `cmd-${Math.random().toString(16).slice(2, 8)}`, verb });
    },
    stop: async () => {
      for (const s of streams) s.end();
      await server.close(0);
    },
  };
}
