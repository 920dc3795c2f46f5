/**
 * Pairing codes: what a person types on the remote cluster, and the keyed hash Palisade keeps instead.
 *
 * A code is 12 characters from a 30-character alphabet with no look-alikes (no 0/O, 1/I/L, U/V kept
 * apart by dropping U), shown in groups of four: `ABCD-EFGH-JKMN` — about 58.9 bits, so even without
 * the rate limits a guesser needs ~10^17 tries. Case, spaces and dashes are ignored when redeeming.
 *
 * Stored: only `HMAC-SHA256(pepper, "palisade.dev/pairing-code/v1" || 0x00 || code)` (hex), with the
 * installation's hash salt as the pepper, so a copy of the keystore record alone does not let anyone
 * brute-force the code offline. The first 32 hex of it are a lookup label (the record is found in
 * O(1)); the whole hash is then compared in constant time.
 *
 * The code ID (`pc-<12 hex>`) is a separate random value: public, for status and audit.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTVWXYZ23456789';
export const CODE_LENGTH = 12;
const GROUP = 4;
const DOMAIN = 'palisade.dev/pairing-code/v1';
/** Hex characters of the hash used as the lookup label (a label value holds at most 63). */
export const LOOKUP_CHARS = 32;

export type RandomSource = (n: number) => Uint8Array;

/** A new code, grouped for reading (`ABCD-EFGH-JKMN`). Unbiased: bytes ≥ 240 are drawn again. */
export function newCode(rand: RandomSource): string {
  const limit = 256 - (256 % CODE_ALPHABET.length);
  let out = '';
  while (out.length < CODE_LENGTH) {
    for (const b of rand(CODE_LENGTH * 2)) {
      if (b >= limit || out.length === CODE_LENGTH) continue;
      out += CODE_ALPHABET[b % CODE_ALPHABET.length];
    }
  }
  return groupCode(out);
}

function groupCode(code: string): string {
  const parts: string[] = [];
  for (let i = 0; i < code.length; i += GROUP) parts.push(code.slice(i, i + GROUP));
  return parts.join('-');
}

/** A new public code ID. */
export function newCodeID(rand: RandomSource): string {
  return `pc-${Buffer.from(rand(6)).toString('hex')}`;
}

/**
 * The canonical form of what someone typed (upper case, no spaces or dashes), or undefined when it
 * cannot be a code at all (wrong length, a character outside the alphabet).
 */
export function normalizeCode(typed: string): string | undefined {
  if (typed.length > 64) return undefined;
  const c = typed.toUpperCase().replace(/[\s-]/g, '');
  if (c.length !== CODE_LENGTH) return undefined;
  for (const ch of c) if (!CODE_ALPHABET.includes(ch)) return undefined;
  return c;
}

/** The keyed hash of a normalized code (hex). */
export function codeHash(pepper: Uint8Array, normalized: string): string {
  return createHmac('sha256', pepper).update(`${DOMAIN}\0${normalized}`).digest('hex');
}

/** The lookup label of a hash. */
export const lookupOf = (hash: string) => hash.slice(0, LOOKUP_CHARS);

/** Constant-time equality of two hex hashes (false on a length mismatch, which no valid hash has). */
export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === 32 && y.length === 32 && timingSafeEqual(x, y);
}
