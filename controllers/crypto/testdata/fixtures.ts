/**
 * Test fixtures. Every key here is obviously fake: consecutive byte values. Never use in production.
 */
import type { RandomSource } from '../bytes.ts';

/** n consecutive byte values starting at `from` (mod 256). */
export function run(from: number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);
}

/** Fake root key version 1: 0x00..0x1f. */
export const FAKE_ROOT_KEY_V1 = run(0x00, 32);
/** Fake root key version 2: 0x20..0x3f. */
export const FAKE_ROOT_KEY_V2 = run(0x20, 32);
/** Fake tenant data key: 0x40..0x5f. */
export const FAKE_DATA_KEY = run(0x40, 32);
/** Fake installation hash salt: 0x60..0x7f. */
export const FAKE_HASH_SALT = run(0x60, 32);

/** Deterministic "randomness": consecutive bytes from `from`, continuing across calls. */
export function countingRandom(from: number): RandomSource {
  let next = from;
  return (n) => {
    const out = run(next, n);
    next = (next + n) & 0xff;
    return out;
  };
}

/** A seeded PRNG (mulberry32) for property tests: reproducible, NOT cryptographic. */
export function seededRandom(seed: number): RandomSource & { int(max: number): number } {
  let a = seed >>> 0;
  const word = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const rand = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => word() & 0xff);
  return Object.assign(rand, { int: (max: number) => word() % max });
}

export function hex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
