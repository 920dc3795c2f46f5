/**
 * Credentials for a paired agent, from public keys only: an mTLS client certificate of the internal
 * CA for the agent's TLS key (identity: the URI SAN Palisade sets), and a NATS user JWT for its user
 * nkey, signed by the tenant's account and scoped like every agent user (nats/protocol `agentUserJwt`).
 * The record update that goes with them is pure (nextRecord): the new certificate and user become
 * current, the previous ones stay valid until the next renewal, the ones before are revoked.
 */
import type { X509Certificate } from 'node:crypto';
import type { AgentRecord, PairedCertificate } from '../clusteragent/record.ts';
import { agentUserJwt } from '../nats/protocol/index.ts';
import { issueClientCertificate, type VerifiedRequest } from '../pki/index.ts';
import type { AgentCredentials } from './proto.ts';
import type { ChannelDeps } from './deps.ts';
import { identityURI } from './identity.ts';

export interface Issued {
  credentials: AgentCredentials;
  certificate: PairedCertificate;
  /** The NATS user now certified ('' when messaging is off). */
  user: string;
  userExp?: number;
}

const INSTALLATION_WAIT_MS = 10_000;

export class ChannelUnavailableError extends Error {
  override readonly name = 'ChannelUnavailableError';
}

/** Signs both credentials for one agent. */
export async function issueAgentCredentials(
  d: ChannelDeps,
  o: {
    tenantUID: string;
    agent: string;
    agentUID: string;
    natsUserPublicKey: string;
    publicKey: VerifiedRequest['publicKey'];
  },
): Promise<Issued> {
  // NB: right after a start the record may still be on its way: a pairing then waits, not fails.
  const installationID = d.installationID() ?? (await d.installationLoaded?.(INSTALLATION_WAIT_MS));
  const ca = d.ca();
  if (!installationID) throw new ChannelUnavailableError('the installation record is not loaded yet; retry');
  if (!ca) throw new ChannelUnavailableError('the internal CA is not loaded yet; retry');
  const now = d.now();
  // NB: back-dated a minute: an agent whose clock runs a little behind can use it at once.
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + d.certificateLifetimeMs);
  const { certPem, serial } = await issueClientCertificate({
    ca: ca.pair,
    publicKey: o.publicKey,
    uris: [identityURI({ installationID, tenantUID: o.tenantUID, clusterAgentUID: o.agentUID })],
    notBefore,
    notAfter,
    rand: d.rand,
  });
  const account = d.nats?.accountKey(o.tenantUID);
  const exp = Math.floor(notAfter.getTime() / 1000);
  const jwt = account
    ? agentUserJwt(account, {
        tenantUID: o.tenantUID,
        agent: o.agent,
        user: o.natsUserPublicKey,
        issuedAt: Math.floor(now.getTime() / 1000),
        expiresAt: exp,
      })
    : '';
  const lifetime = notAfter.getTime() - now.getTime();
  return {
    credentials: {
      clientCertificate: certPem,
      caBundle: ca.bundle,
      natsUserJwt: jwt,
      natsUrl: account ? (d.nats?.url ?? '') : '',
      notAfter: exp,
      renewAfter: Math.floor((now.getTime() + (2 * lifetime) / 3) / 1000),
    },
    certificate: { serial: normalizeSerial(serial), notAfter: notAfter.toISOString() },
    user: account ? o.natsUserPublicKey : '',
    ...(account ? { userExp: exp } : {}),
  };
}

/** Serials compared as lowercase hex without leading zeros (Node and @peculiar/x509 differ there). */
export function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

/** The serial of a PEM or DER certificate, normalized. */
export function serialOf(cert: X509Certificate): string {
  return normalizeSerial(cert.serialNumber);
}

/**
 * The record once `issued` is the agent's: current first, the one before kept (valid until the next
 * renewal), anything older retired (revoked by the ClusterAgent controller).
 */
export function nextRecord(r: AgentRecord, issued: Issued, now: Date): AgentRecord {
  const exp = r.expiresAt ? Math.floor(Date.parse(r.expiresAt) / 1000) : undefined;
  const current = r.user ? { user: r.user, ...(exp !== undefined ? { exp } : {}) } : undefined;
  const retired = [...r.retired, ...(r.previousUser ? [r.previousUser] : [])];
  return {
    ...r,
    user: issued.user,
    version: r.version + 1,
    issuedAt: now.toISOString(),
    ...(issued.userExp !== undefined ? { expiresAt: new Date(issued.userExp * 1000).toISOString() } : {}),
    retired,
    ...(current && current.user !== issued.user ? { previousUser: current } : { previousUser: undefined }),
    certificates: [issued.certificate, ...(r.certificates?.slice(0, 1) ?? [])],
  };
}
