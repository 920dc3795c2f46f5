/**
 * 256-bit keys and their public names.
 *
 * Every key in Palisade (root key versions, tenant data keys) is 32 uniformly random bytes. Two
 * public values are derived from a key, both safe to put in status, Events, logs and audit records:
 *
 * - `keyId(key)`: 16 lowercase hex chars = the first 8 bytes of HMAC-SHA-256(key, "palisade key id v1").
 *   It locates the key that sealed an envelope (it is stored in the envelope header) and catches a
 *   keyring that hands back the wrong key. It is a name, not an authenticator: with 64 bits,
 *   collisions become likely only around 2^32 keys, and the AEAD tag is what proves integrity.
 * - `fingerprint(key)`: "sha256:" + hex of SHA-256("palisade key fingerprint v1" || 0x00 || key), the full
 *   32 bytes. Operators can recompute it from a restored key with
 *   `(printf 'palisade key fingerprint v1\0'; cat key.bin) | sha256sum`.
 *
 * Why they reveal nothing: HMAC-SHA-256 keyed by the secret is a PRF, so its outputs are
 * indistinguishable from random strings to anyone without the key; SHA-256 is preimage-resistant,
 * and the input has 256 bits of entropy, so recovering the key from the fingerprint means searching
 * 2^256 candidates. The distinct labels make both values differ from every other hash or MAC the
 * system computes over the key, and neither value is used as key material anywhere. This argument
 * holds only for high-entropy keys, which is why both functions refuse anything but 32 bytes: never
 * "fingerprint" a password this way.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, requireKey, takeRandom, toHex, utf8, type RandomSource } from './bytes.ts';
import { CryptoInputError } from './errors.ts';

/** Length in bytes of every key (root keys, tenant data keys): 256 bits. */
export const KEY_LENGTH = 32;
/** Length in bytes of a key ID (16 hex chars). */
export const KEY_ID_LENGTH = 8;

const KEY_ID_LABEL = utf8('palisade key id v1');
const FINGERPRINT_LABEL = concat(utf8('palisade key fingerprint v1'), Uint8Array.of(0));

/** A fresh 256-bit key drawn from `rand`. */
export function generateDataKey(rand: RandomSource): Uint8Array {
  return takeRandom(rand, KEY_LENGTH);
}

/** The raw 8 bytes behind `keyId`; the envelope header stores these. */
export function keyIdBytes(key: Uint8Array): Uint8Array {
  requireKey(key, 'key');
  return hmac(sha256, key, KEY_ID_LABEL).subarray(0, KEY_ID_LENGTH);
}

/** Short public identifier of a key: 16 lowercase hex chars. Safe to show anywhere. */
export function keyId(key: Uint8Array): string {
  return toHex(keyIdBytes(key));
}

/** Public fingerprint of a key: `sha256:` + 64 lowercase hex chars. Safe to show anywhere. */
export function fingerprint(key: Uint8Array): string {
  requireKey(key, 'key');
  return `sha256:${toHex(sha256(concat(FINGERPRINT_LABEL, key)))}`;
}

// NB: declared before the class, whose static block sets it.
let preparedMaterial: (k: PreparedKey) => { bytes: Uint8Array; idBytes: Uint8Array };

/**
 * A key held for many seals and opens (a tenant data key the key service keeps open): a private copy of
 * the 32 bytes with its key ID computed once, instead of an HMAC on every call. The copy cannot be changed
 * from outside, so the ID always names these bytes; `wipe()` zeroes them, and every later use throws
 * (WipedKey) rather than seal under zeros with the old ID.
 */
export class PreparedKey {
  readonly #bytes: Uint8Array;
  #wiped = false;
  /** `keyId` of the key. */
  readonly id: string;
  /** `keyIdBytes` of the key. */
  readonly #idBytes: Uint8Array;

  constructor(key: Uint8Array) {
    requireKey(key, 'key');
    this.#bytes = Uint8Array.from(key);
    this.#idBytes = keyIdBytes(this.#bytes);
    this.id = toHex(this.#idBytes);
  }

  get wiped(): boolean {
    return this.#wiped;
  }

  /** Overwrites the key with zeros; every later use throws. */
  wipe(): void {
    this.#bytes.fill(0);
    this.#wiped = true;
  }

  static {
    preparedMaterial = (k) => {
      if (k.#wiped) throw new CryptoInputError('WipedKey', 'the key was wiped (dropped) and cannot be used');
      return { bytes: k.#bytes, idBytes: k.#idBytes };
    };
  }
}

/** A key as given, prepared once. */
export function prepareKey(key: Uint8Array): PreparedKey {
  return new PreparedKey(key);
}

/**
 * Internal (not in index.ts): the bytes and ID bytes to seal or open with, from a prepared key (throws
 * WipedKey once wiped) or from raw bytes (checked, ID computed now).
 */
export function keyMaterial(
  key: Uint8Array | PreparedKey,
  what: string,
): { bytes: Uint8Array; idBytes: Uint8Array } {
  if (key instanceof PreparedKey) return preparedMaterial(key);
  requireKey(key, what);
  return { bytes: key, idBytes: keyIdBytes(key) };
}

/** True for a well-formed key ID (16 lowercase hex chars). */
export function isKeyId(s: string): boolean {
  return /^[0-9a-f]{16}$/.test(s);
}
