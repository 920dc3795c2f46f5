/** Internal byte helpers. Not exported from index.ts. */
import { CryptoInputError } from './errors.ts';

/**
 * The one source of randomness: returns `n` bytes from a CSPRNG. Injected so that tests are
 * deterministic; production passes `(n) => crypto.getRandomValues(new Uint8Array(n))`.
 */
export type RandomSource = (n: number) => Uint8Array;

const encoder = new TextEncoder();

/** Draws exactly `n` bytes and copies them, so a source that reuses its buffer cannot alias ours. */
export function takeRandom(rand: RandomSource, n: number): Uint8Array {
  const out: unknown = rand(n);
  if (!(out instanceof Uint8Array) || out.length !== n) {
    throw new CryptoInputError(
      'BadRandomSource',
      `random source returned ${describe(out)}, expected ${n} bytes`,
    );
  }
  return new Uint8Array(out);
}

/**
 * A RandomSource for hot paths that make many small draws (a 24-byte nonce per encryption): it takes
 * `blockBytes` at a time from `rand` and hands out copies of consecutive slices, each used once and zeroed
 * in the block as it goes. One call to the system CSPRNG costs more than a kilobyte of AEAD; this makes it
 * one call per ~170 nonces. Draws over a quarter of a block go to `rand` directly.
 */
export function randomPool(rand: RandomSource, blockBytes = 4096): RandomSource {
  let block: Uint8Array = new Uint8Array(0);
  let at = 0;
  return (n) => {
    if (n > blockBytes / 4) return takeRandom(rand, n);
    if (at + n > block.length) {
      block.fill(0);
      block = takeRandom(rand, blockBytes);
      at = 0;
    }
    const out = block.slice(at, at + n);
    block.fill(0, at, at + n);
    at += n;
    return out;
  };
}

function describe(v: unknown): string {
  return v instanceof Uint8Array ? `${v.length} bytes` : `a ${typeof v}`;
}

export function requireKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    const got = key instanceof Uint8Array ? `${key.length} bytes` : `a ${typeof key}`;
    throw new CryptoInputError('BadKeyLength', `${what} must be 32 bytes, got ${got}`);
  }
}

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** True when `s` has no lone UTF-16 surrogates, i.e. UTF-8 encoding it is lossless and injective. */
export function isWellFormed(s: string): boolean {
  return !/\p{Cs}/u.test(s);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function u16be(n: number): Uint8Array {
  return Uint8Array.of(n >>> 8, n & 0xff);
}

export function u32be(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

export function readU32be(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at);
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Compares two byte strings in time that depends only on their lengths. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}
