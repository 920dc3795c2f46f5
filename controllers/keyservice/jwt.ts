/**
 * Compact JWS (RFC 7515 §7.1) with EdDSA over Ed25519 (RFC 8037), signed with node:crypto: the access
 * tokens the Tokens service issues. Only signing lives here; verifying is the relying party's job, with any
 * JOSE library and the published JWKS.
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';

export interface JwtHeader {
  alg: 'EdDSA';
  /** RFC 9068 §2.1: an OAuth 2.0 access token. */
  typ: 'at+jwt';
  kid: string;
}

export type JwtClaims = Record<string, string | number | string[]>;

const b64url = (s: string | Uint8Array) => Buffer.from(s).toString('base64url');

/** `header.claims.signature`, each base64url without padding. */
export function signJwt(header: JwtHeader, claims: JwtClaims, key: KeyObject): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(sign(null, Buffer.from(input), key))}`;
}

/** The private key object of a PKCS#8 DER Ed25519 key (parse once, sign many times). */
export function ed25519Key(pkcs8Der: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.from(pkcs8Der), format: 'der', type: 'pkcs8' });
}
