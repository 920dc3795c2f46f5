/**
 * Internal: Argon2id (RFC 9106, version 0x13) as used by passphrase.ts and identifiers.ts, with
 * cost bounds checked before any work, so a crafted blob or hash string cannot make us allocate
 * gigabytes or spin for minutes. Uses the async variant, which yields to the event loop about every
 * 10 ms: a 64 MiB derivation takes over a second in pure JS and must not stall the process.
 */
import { argon2idAsync } from '@noble/hashes/argon2.js';
import { isWellFormed, utf8 } from './bytes.ts';
import { CryptoInputError } from './errors.ts';

/** Argon2id cost parameters (RFC 9106 §3.1: m, t, p). */
export type Argon2Params = {
  /** Memory in KiB (m), at least 8 × parallelism. */
  readonly memoryKiB: number;
  /** Passes over memory (t). */
  readonly iterations: number;
  /** Lanes (p). */
  readonly parallelism: number;
};

/** Upper bounds accepted from stored parameters: 1 GiB, 16 passes, 16 lanes. */
export const ARGON2_LIMITS = { maxMemoryKiB: 1 << 20, maxIterations: 16, maxParallelism: 16 } as const;

const MAX_SECRET_BYTES = 4096;

/** Describes why `p` is out of bounds, or returns undefined when it is acceptable. */
export function argon2ParamsProblem(p: Argon2Params): string | undefined {
  const { memoryKiB: m, iterations: t, parallelism: l } = p;
  if (!Number.isInteger(l) || l < 1 || l > ARGON2_LIMITS.maxParallelism) {
    return `parallelism ${l} is outside 1..${ARGON2_LIMITS.maxParallelism}`;
  }
  if (!Number.isInteger(t) || t < 1 || t > ARGON2_LIMITS.maxIterations) {
    return `iterations ${t} is outside 1..${ARGON2_LIMITS.maxIterations}`;
  }
  if (!Number.isInteger(m) || m < 8 * l || m > ARGON2_LIMITS.maxMemoryKiB) {
    return `memory ${m} KiB is outside ${8 * l}..${ARGON2_LIMITS.maxMemoryKiB} KiB`;
  }
  return undefined;
}

export type Argon2Inputs = {
  readonly password: Uint8Array;
  readonly salt: Uint8Array;
  readonly params: Argon2Params;
  readonly length: number;
  /** Argon2 secret K: the pepper. */
  readonly secret?: Uint8Array;
  /** Argon2 associated data X: a domain label. */
  readonly label?: Uint8Array;
};

/** Argon2id; the caller has checked `params` with argon2ParamsProblem. */
export function argon2id(i: Argon2Inputs): Promise<Uint8Array> {
  return argon2idAsync(i.password, i.salt, {
    m: i.params.memoryKiB,
    t: i.params.iterations,
    p: i.params.parallelism,
    dkLen: i.length,
    ...(i.secret ? { key: i.secret } : {}),
    ...(i.label ? { personalization: i.label } : {}),
  });
}

/**
 * UTF-8 of a passphrase or password after Unicode NFC normalisation (as RFC 8265's OpaqueString
 * profile does), so the same text typed on systems that compose differently gives the same bytes.
 * Throws CryptoInputError('BadInput') when empty, over 4096 bytes, or not well-formed Unicode.
 */
export function secretText(s: string, what: string): Uint8Array {
  if (typeof s !== 'string' || !isWellFormed(s)) {
    throw new CryptoInputError('BadInput', `${what} must be a well-formed Unicode string`);
  }
  const bytes = utf8(s.normalize('NFC'));
  if (bytes.length === 0) throw new CryptoInputError('BadInput', `${what} must not be empty`);
  if (bytes.length > MAX_SECRET_BYTES) {
    throw new CryptoInputError('BadInput', `${what} is longer than ${MAX_SECRET_BYTES} bytes`);
  }
  return bytes;
}
