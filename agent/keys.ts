/**
 * The agent's own keys, made where it runs: a NATS user nkey and an ECDSA P-256 TLS key with a PKCS#10
 * request for it (RFC 2986; signed by the key itself, so the request proves possession). Only the public
 * halves (`natsPublicKey`, `certificateRequest`) are ever sent; the private ones go to the agent's own
 * credential store and nowhere else.
 */
import { KeyObject } from 'node:crypto';
import { createKeyPair } from '../controllers/nats/protocol/nkeys.ts';
import { webcrypto, x509 } from '../controllers/pki/peculiar.ts';

/** ECDSA on P-256 with SHA-256: a strong curve (pki keyStrength) and signing in microseconds. */
const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface AgentKeys {
  /** The NATS user seed (`SU...`): secret. */
  natsSeed: string;
  natsPublicKey: string;
  /** The TLS private key, PKCS#8 PEM: secret. */
  tlsKeyPem: string;
  /** The PKCS#10 request (DER) for the TLS key. */
  certificateRequest: Uint8Array;
}

export async function generateAgentKeys(commonName = 'palisade-agent'): Promise<AgentKeys> {
  const nkey = createKeyPair('U');
  const keys = (await webcrypto.subtle.generateKey(ECDSA_P256, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  // NB: the subject is ignored by Palisade (it sets the identity); a CN only makes the request readable.
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${commonName}`,
    keys,
    signingAlgorithm: ECDSA_P256,
  });
  return {
    natsSeed: nkey.seed,
    natsPublicKey: nkey.publicKey,
    tlsKeyPem: KeyObject.from(keys.privateKey).export({ format: 'pem', type: 'pkcs8' }).toString(),
    certificateRequest: new Uint8Array(csr.rawData),
  };
}
