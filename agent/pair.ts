/**
 * `palisade-agent pair`: one pairing code in, the agent's credentials stored in its own cluster out.
 *
 *   1. Pin Palisade's CA by fingerprint (pin.ts).
 *   2. Make the agent's keys here (keys.ts); only the public halves leave.
 *   3. Pairing.Pair over TLS trusting only the pinned CA.
 *   4. Check what came back: the certificate is for OUR key and issued by a CA of the returned bundle
 *      (which the agent trusts from then on), and its URI SAN names a tenant and an agent; then store it
 *      with the private keys (store.ts).
 *
 * The code is never logged or stored; the log names the code's public ID that Palisade returns.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { identityFromSubjectAltName } from '../controllers/agentchannel/identity.ts';
import { pemBlocks } from '../controllers/pki/x509.ts';
import { AgentClient, CallError, isRefusal, type AgentCredentials } from './grpc.ts';
import { generateAgentKeys, type AgentKeys } from './keys.ts';
import { fetchPinnedCa } from './pin.ts';
import type { CredentialStore, StoredCredentials } from './store.ts';

export const AGENT_VERSION = 'palisade-agent/0.1.0';

/** Palisade refused the code (wrong, used up, expired, or its ClusterAgent is gone or suspended). */
export class PairingRefusedError extends Error {
  override name = 'PairingRefusedError';
}

export interface PairOptions {
  code: string;
  /** `host:port` of Palisade's gRPC server. */
  server: string;
  /** `sha256:<hex>` of the CA's public key. */
  caFingerprint: string;
  serverName?: string;
  /** The Tenant (name) the agent means to join: Palisade refuses a code of any other tenant's agent. */
  tenant?: string;
  store: CredentialStore;
  log?: (line: string) => void;
  now?: () => Date;
}

/** The tenant UID in a client certificate's URI SAN (the identity Palisade sets). */
export function tenantUIDOf(cert: X509Certificate): string {
  const id = identityFromSubjectAltName(cert.subjectAltName);
  if (!id)
    throw new Error(
      `the issued certificate names no Palisade agent identity (${cert.subjectAltName ?? 'no SANs'})`,
    );
  return id.tenantUID;
}

type IssuedField =
  'certPem' | 'keyPem' | 'natsSeed' | 'natsJwt' | 'natsUrl' | 'notAfter' | 'renewAfter' | 'tenantUID';

/** What stays the same across a renewal: where Palisade is, the CAs trusted so far, which agent this is. */
export function unissued(c: StoredCredentials): Omit<StoredCredentials, IssuedField> {
  const { server, serverName, caPem, tenant, namespace, clusterAgent, clusterName, codeId } = c;
  return {
    server,
    ...(serverName ? { serverName } : {}),
    caPem,
    tenant,
    namespace,
    clusterAgent,
    clusterName,
    ...(codeId ? { codeId } : {}),
  };
}

/**
 * Credentials to store from what Palisade returned for `keys`: refuses a certificate that is not for
 * the agent's own key or not issued by a CA of the returned bundle (then something is badly wrong;
 * storing it would only fail later, less clearly).
 *
 * The returned CA bundle becomes what the agent trusts from now on, in place of the CA it pinned or was
 * given before: it came over TLS verified against that one. After an internal CA rotation it holds the
 * new CA beside the old, and Palisade's servers present the new one only once every live agent has
 * renewed (docs/certificates.md); a bundle without certificates leaves the trust as it was.
 */
export function adoptCredentials(
  got: AgentCredentials | null | undefined,
  keys: AgentKeys,
  base: Omit<StoredCredentials, IssuedField>,
): StoredCredentials {
  if (!got?.clientCertificate) throw new Error('Palisade returned no client certificate');
  const leaf = new X509Certificate(got.clientCertificate);
  const certificates = (pem: string) => pemBlocks(pem).filter((b) => b.label === 'CERTIFICATE');
  const trust = certificates(got.caBundle ?? '').length ? got.caBundle : base.caPem;
  const cas = certificates(trust).map((b) => new X509Certificate(b.pem));
  if (!leaf.publicKey.equals(createPublicKey(createPrivateKey(keys.tlsKeyPem)))) {
    throw new Error('the returned certificate is not for the key this agent made');
  }
  if (!cas.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey))) {
    throw new Error('the returned certificate is not signed by a CA of the returned bundle');
  }
  const tenantUID = tenantUIDOf(leaf);
  return {
    ...base,
    caPem: trust,
    certPem: got.clientCertificate,
    keyPem: keys.tlsKeyPem,
    natsSeed: keys.natsSeed,
    natsJwt: got.natsUserJwt,
    natsUrl: got.natsUrl,
    notAfter: got.notAfter,
    renewAfter: got.renewAfter,
    tenantUID,
  };
}

/** Pairs and stores; returns what was stored. Throws PairingRefusedError when Palisade refuses the code. */
export async function pairAgent(o: PairOptions): Promise<StoredCredentials> {
  const log = o.log ?? (() => undefined);
  const caPem = await fetchPinnedCa(o.server, o.caFingerprint, {
    ...(o.serverName ? { serverName: o.serverName } : {}),
    ...(o.now ? { now: o.now() } : {}),
  });
  log(`pinned Palisade's CA ${o.caFingerprint} at ${o.server}`);
  const keys = await generateAgentKeys();
  const client = new AgentClient({
    address: o.server,
    caPem,
    ...(o.serverName ? { serverName: o.serverName } : {}),
  });
  try {
    const res = await client
      .pair({
        code: o.code,
        natsUserPublicKey: keys.natsPublicKey,
        certificateRequest: keys.certificateRequest,
        agentVersion: AGENT_VERSION,
        ...(o.tenant ? { tenant: o.tenant } : {}),
      })
      .catch((e: unknown) => {
        throw pairingError(e);
      });
    const stored = adoptCredentials(res.credentials, keys, {
      server: o.server,
      ...(o.serverName ? { serverName: o.serverName } : {}),
      caPem,
      tenant: res.tenant,
      namespace: res.namespace,
      clusterAgent: res.clusterAgent,
      clusterName: res.clusterName,
      ...(res.codeId ? { codeId: res.codeId } : {}),
    });
    await o.store.save(stored);
    log(
      `paired as ClusterAgent ${res.namespace}/${res.clusterAgent} of tenant ${res.tenant} ` +
        `(code ID ${res.codeId}); credentials stored in ${o.store.where}`,
    );
    return stored;
  } finally {
    client.close();
  }
}

function pairingError(e: unknown): Error {
  if (isRefusal(e)) return new PairingRefusedError(`pairing refused: ${(e as CallError).message}`);
  if (e instanceof CallError && e.code === status.RESOURCE_EXHAUSTED) {
    const after = e.metadata?.get('retry-after-seconds')[0];
    return new Error(`pairing rate-limited${after ? `; retry after ${String(after)} s` : ''}: ${e.message}`);
  }
  return e instanceof Error ? e : new Error(String(e));
}
