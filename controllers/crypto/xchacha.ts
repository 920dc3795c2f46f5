/**
 * Internal: XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03 §2.3) with the bulk work in OpenSSL.
 *
 *   subkey = HChaCha20(key, nonce[0..16])                  (@noble/ciphers `hchacha`, draft §2.2)
 *   iv     = 00 00 00 00 || nonce[16..24]
 *   output = ChaCha20-Poly1305(subkey, iv, aad, plaintext)  (RFC 8439, node:crypto / OpenSSL)
 *
 * The bytes are exactly those of @noble/ciphers' `xchacha20poly1305` (xchacha.test.ts checks the draft's
 * vector and random inputs against it): only the speed differs. HChaCha20 is one ChaCha block; the
 * stream cipher and Poly1305 run in OpenSSL instead of JavaScript.
 *
 * NB: the subkey goes to OpenSSL as a KeyObject, not a Buffer. Given a Buffer, `createCipheriv` first
 * probes whether it is a KeyObject or a CryptoKey, and each probe throws and catches a native error:
 * that costs more than encrypting a kilobyte. The subkey's JavaScript copy is zeroed at once.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { hchacha } from '@noble/ciphers/chacha.js';

export const XCHACHA_NONCE_LENGTH = 24;
export const XCHACHA_TAG_LENGTH = 16;

/** "expand 32-byte k" as little-endian words (RFC 8439 §2.3). */
const SIGMA = Uint32Array.of(0x61707865, 0x3320646e, 0x79622d32, 0x6b206574);

// Scratch words, used and zeroed within one synchronous call.
const keyWords = new Uint32Array(8);
const nonceWords = new Uint32Array(4);
const subkeyWords = new Uint32Array(8);
const keyBytes = new Uint8Array(keyWords.buffer);
const nonceBytes = new Uint8Array(nonceWords.buffer);
const subkeyBytes = new Uint8Array(subkeyWords.buffer);

/** The ChaCha20-Poly1305 key and IV of one XChaCha20-Poly1305 message. */
function derive(key: Uint8Array, nonce: Uint8Array): { subkey: KeyObject; iv: Uint8Array } {
  if (key.length !== 32 || nonce.length !== XCHACHA_NONCE_LENGTH) {
    throw new Error('XChaCha20-Poly1305 takes a 32-byte key and a 24-byte nonce');
  }
  // NB: copies, so the words are aligned whatever the callers' byte offsets, and read in the byte
  // order hchacha expects on either endianness (it swaps on big-endian hosts).
  keyBytes.set(key);
  nonceBytes.set(nonce.subarray(0, 16));
  try {
    hchacha(SIGMA, keyWords, nonceWords, subkeyWords);
    const subkey = createSecretKey(subkeyBytes);
    const iv = new Uint8Array(12);
    iv.set(nonce.subarray(16, XCHACHA_NONCE_LENGTH), 4);
    return { subkey, iv };
  } finally {
    keyWords.fill(0);
    nonceWords.fill(0);
    subkeyWords.fill(0);
  }
}

/**
 * Encrypts `plaintext` into `out` at `at`: ciphertext (plaintext.length bytes) then the 16-byte tag.
 * `key` is 32 bytes and `nonce` 24 (the callers check).
 */
export function xchachaSealInto(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  out: Uint8Array,
  at: number,
): void {
  const { subkey, iv } = derive(key, nonce);
  const c = createCipheriv('chacha20-poly1305', subkey, iv, { authTagLength: XCHACHA_TAG_LENGTH });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  out.set(c.update(plaintext), at);
  c.final();
  out.set(c.getAuthTag(), at + plaintext.length);
}

/** Encrypts: ciphertext || 16-byte tag. */
export function xchachaSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(plaintext.length + XCHACHA_TAG_LENGTH);
  xchachaSealInto(key, nonce, aad, plaintext, out, 0);
  return out;
}

/**
 * Decrypts ciphertext || tag. Throws a plain Error when the tag does not verify (the callers name the
 * error); nothing decrypted is returned or kept then.
 */
export function xchachaOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array {
  if (sealed.length < XCHACHA_TAG_LENGTH) throw new Error('ciphertext shorter than its tag');
  const length = sealed.length - XCHACHA_TAG_LENGTH;
  const { subkey, iv } = derive(key, nonce);
  const d = createDecipheriv('chacha20-poly1305', subkey, iv, { authTagLength: XCHACHA_TAG_LENGTH });
  d.setAAD(aad, { plaintextLength: length });
  d.setAuthTag(sealed.subarray(length));
  const plaintext = d.update(sealed.subarray(0, length));
  try {
    d.final();
  } catch (e) {
    plaintext.fill(0);
    throw e;
  }
  return ownBytes(plaintext);
}

/**
 * `b` as a plain Uint8Array. OpenSSL's output comes in a Buffer of its own: viewed as is, no copy. Were it
 * a slice of a shared pool, callers could read neighbouring bytes through `.buffer`: that is copied out,
 * and the original zeroed.
 */
function ownBytes(b: Buffer): Uint8Array {
  if (b.byteOffset === 0 && b.buffer.byteLength === b.length) return new Uint8Array(b.buffer, 0, b.length);
  const out = new Uint8Array(b);
  b.fill(0);
  return out;
}
