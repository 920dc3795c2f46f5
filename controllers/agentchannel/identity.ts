/**
 * An agent's identity on the cluster channel, and how an agent pins Palisade's CA.
 *
 * The identity is one URI SAN in the agent's client certificate, set by Palisade when it signs:
 *
 *   spiffe://palisade-<installationID>/tenants/<tenantUID>/clusteragents/<clusterAgentUID>
 *
 * (a SPIFFE ID: the trust domain names the installation, the path the tenant and the ClusterAgent by
 * their immutable UIDs, never by names a tenant could reuse after a delete). The parser is strict: any
 * other shape, case or extra segment is no identity at all.
 *
 * The CA pin is the SHA-256 of the CA certificate's SubjectPublicKeyInfo (DER), written
 * `sha256:<64 lowercase hex>`, as `kubeadm join --discovery-token-ca-cert-hash` does: it survives the CA
 * being re-issued with the same key and is short enough to paste beside a pairing code.
 */
import { createHash, X509Certificate } from 'node:crypto';

export interface AgentIdentity {
  /** 32 lowercase hex (installation/record.ts). */
  installationID: string;
  /** 12 lowercase hex (the Tenant's UID). */
  tenantUID: string;
  /** The ClusterAgent's metadata.uid (a lowercase UUID). */
  clusterAgentUID: string;
}

const INSTALLATION = /^[0-9a-f]{32}$/;
const TENANT = /^[0-9a-f]{12}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const URI =
  /^spiffe:\/\/palisade-([0-9a-f]{32})\/tenants\/([0-9a-f]{12})\/clusteragents\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export class InvalidIdentityError extends Error {
  override readonly name = 'InvalidIdentityError';
}

/** The URI SAN for `id`; throws on a malformed part (the signer must never write a half-identity). */
export function identityURI(id: AgentIdentity): string {
  if (!INSTALLATION.test(id.installationID)) throw new InvalidIdentityError('installation ID is not 32 hex');
  if (!TENANT.test(id.tenantUID)) throw new InvalidIdentityError('tenant UID is not 12 hex');
  if (!UUID.test(id.clusterAgentUID)) throw new InvalidIdentityError('ClusterAgent UID is not a UUID');
  return `spiffe://palisade-${id.installationID}/tenants/${id.tenantUID}/clusteragents/${id.clusterAgentUID}`;
}

/** The identity a URI SAN names, or undefined when it is not exactly of Palisade's shape. */
export function parseIdentityURI(uri: string): AgentIdentity | undefined {
  const m = URI.exec(uri);
  if (!m) return undefined;
  return { installationID: m[1] as string, tenantUID: m[2] as string, clusterAgentUID: m[3] as string };
}

/**
 * The agent identity of a certificate's `subjectaltname` as Node reports it (`tls.PeerCertificate` or
 * `X509Certificate.subjectAltName`: `URI:…, DNS:…`). Exactly one URI SAN of Palisade's shape, or none:
 * a certificate naming two agents names no one.
 */
export function identityFromSubjectAltName(subjectAltName: string | undefined): AgentIdentity | undefined {
  const uris = (subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
  if (uris.length !== 1) return undefined;
  return parseIdentityURI(uris[0] as string);
}

/** `sha256:<hex>` of the certificate's SubjectPublicKeyInfo (DER). */
export function spkiFingerprint(cert: X509Certificate | string): string {
  const c = typeof cert === 'string' ? new X509Certificate(cert) : cert;
  const spki = c.publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

const PIN = /^sha256:[0-9a-f]{64}$/;

/** Whether `pin` is a well-formed `sha256:<64 hex>` (case-insensitive hex accepted, as kubeadm does). */
export function isSpkiPin(pin: string): boolean {
  return PIN.test(pin.toLowerCase());
}

/** Whether any certificate of a PEM bundle has the pinned SPKI fingerprint. */
export function bundleMatchesPin(bundlePem: string, pin: string): boolean {
  const want = pin.toLowerCase();
  const blocks = bundlePem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.some((b) => {
    try {
      return spkiFingerprint(b) === want;
    } catch {
      return false;
    }
  });
}
