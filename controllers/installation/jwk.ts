import { createHash, createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';

/** The public JWK (Ed25519: kty, crv, x) of a PKCS#8 DER private key. */
export function publicJwk(pkcs8Der: Uint8Array): JsonWebKey {
  const pub = createPublicKey(createPrivateKey({ key: Buffer.from(pkcs8Der), format: 'der', type: 'pkcs8' }));
  const jwk = pub.export({ format: 'jwk' });
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
}

/** RFC 7638 JWK thumbprint (base64url SHA-256 of the canonical members), used as the `kid`. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return createHash('sha256').update(canonical).digest('base64url');
}
