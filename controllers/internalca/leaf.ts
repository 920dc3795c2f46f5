import type { X509Certificate } from 'node:crypto';
import { factsOf, parseCertificates, parsePrivateKey, type CertificateFacts } from '../pki/index.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { secretString as secretText } from '../runtime/objects.ts';

/** Label on a leaf Secret the internal CA issued: the key ID of the CA version that signed it. */
export const CA_ID_LABEL = 'palisade.dev/ca-id';

/** A leaf certificate Secret as stored: its certificate, whether its key matches, which CA issued it. */
export interface StoredLeaf {
  cert?: X509Certificate;
  facts?: CertificateFacts;
  keyMatches: boolean;
  caId?: string;
  bundle?: string;
}

export function readLeaf(secret: Secret): StoredLeaf {
  const caId = secret.metadata.labels?.[CA_ID_LABEL];
  const bundle = secretText(secret, 'ca.crt');
  try {
    const [cert] = parseCertificates(secretText(secret, 'tls.crt') ?? '');
    if (!cert) return { keyMatches: false, caId, bundle };
    const keyMatches = cert.checkPrivateKey(parsePrivateKey(secretText(secret, 'tls.key') ?? ''));
    return { cert, facts: factsOf(cert), keyMatches, caId, bundle };
  } catch {
    return { keyMatches: false, caId, bundle };
  }
}
