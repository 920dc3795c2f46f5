/**
 * NATS JWTs (github.com/nats-io/jwt v2), signed with {@link NKeyPair} (node:crypto Ed25519).
 *
 *   header  = {"typ":"JWT","alg":"ed25519-nkey"}
 *   token   = b64url(header) "." b64url(claims) "." b64url(Ed25519(b64url(header) "." b64url(claims)))
 *   claims  = { jti, iat, iss, name, sub, [exp], nats: { ..., type, version: 2 } }
 *
 * `jti` is base32(SHA-256(claims without jti)), as the Go library computes it, so the same claims always
 * give the same token: a JWT rendered twice from the same input is byte-identical, and a config or
 * Secret derived from it does not change. `iat` is passed in (seconds): the resolver keeps whichever
 * JWT has the newer `iat`, so callers choose it (see `nextIssuedAt`).
 */
import { createHash } from 'node:crypto';
import { base32, decodePublicKey, verifySignature, type NKeyPair, type NKeyRole } from './nkeys.ts';

export type ClaimType = 'operator' | 'account' | 'user' | 'generic';

export interface Claims<N extends object = Record<string, unknown>> {
  jti: string;
  iat: number;
  iss: string;
  name: string;
  sub: string;
  exp?: number;
  nats: N & { type?: ClaimType; version?: number };
}

const HEADER = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' })).toString('base64url');
export interface EncodeInput<N extends object> {
  name: string;
  subject: string;
  issuedAt: number;
  expiresAt?: number;
  type: ClaimType;
  nats: N;
}

/** Signs claims; `signer` becomes `iss`. Pure apart from the signature, which is deterministic too. */
export function encodeJwt<N extends object>(input: EncodeInput<N>, signer: NKeyPair): string {
  const body: Omit<Claims<N>, 'jti'> & { jti?: string } = {
    iat: input.issuedAt,
    iss: signer.publicKey,
    name: input.name,
    sub: input.subject,
    ...(input.expiresAt !== undefined ? { exp: input.expiresAt } : {}),
    nats: { ...input.nats, type: input.type, version: 2 },
  };
  const jti = base32(createHash('sha256').update(JSON.stringify(body)).digest());
  const claims = Buffer.from(JSON.stringify({ jti, ...body })).toString('base64url');
  const signed = `${HEADER}.${claims}`;
  return `${signed}.${Buffer.from(signer.sign(Buffer.from(signed))).toString('base64url')}`;
}

export class JwtError extends Error {
  override name = 'JwtError';
}

/** Decodes a JWT after checking its signature against its `iss`; `issuerRole` checks who signed it. */
export function decodeJwt<N extends object = Record<string, unknown>>(
  token: string,
  issuerRole?: NKeyRole,
): Claims<N> {
  const parts = token.trim().split('.');
  if (parts.length !== 3) throw new JwtError('malformed JWT');
  const [h, c, s] = parts as [string, string, string];
  let claims: Claims<N>;
  try {
    claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as Claims<N>;
  } catch (e) {
    throw new JwtError('malformed JWT claims', { cause: e });
  }
  try {
    decodePublicKey(claims.iss, issuerRole);
  } catch (e) {
    throw new JwtError('JWT issuer is not a valid nkey of the expected role', { cause: e });
  }
  if (!verifySignature(claims.iss, Buffer.from(`${h}.${c}`), Buffer.from(s, 'base64url'))) {
    throw new JwtError('JWT signature does not verify');
  }
  return claims;
}

/** An `iat` (seconds) newer than `previous`, so the resolver never keeps an older JWT over a newer one. */
export function nextIssuedAt(now: Date, previous?: number): number {
  const t = Math.floor(now.getTime() / 1000);
  return previous !== undefined && previous >= t ? previous + 1 : t;
}
