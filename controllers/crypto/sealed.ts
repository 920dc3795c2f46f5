/**
 * Internal: the keyed sealed format shared by key envelopes (envelope.ts) and tenant data
 * ciphertexts (data.ts). Both are XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03 §2.3) under a
 * 256-bit key named in the header by version and key ID. Layout, integers unsigned big-endian:
 *
 *   offset  size  field
 *        0     4  magic (per format)
 *        4     1  format version = 0x01
 *        5     4  key version (≥ 1)
 *        9     8  key ID: first 8 bytes of HMAC-SHA-256(key, "palisade key id v1") (keys.ts)
 *       17    24  nonce, random
 *       41   n+16 XChaCha20-Poly1305 ciphertext of the n-byte plaintext || 16-byte Poly1305 tag
 *
 * AEAD associated data = bytes 0..17 of the header || the format's own AAD tail. The header is
 * thus authenticated too, and because it has a fixed length the concatenation is unambiguous.
 * Random 192-bit nonces are safe for any realistic number of messages under one key (draft §2.1).
 * The AEAD is xchacha.ts (the same bytes as @noble/ciphers' xchacha20poly1305, computed by OpenSSL).
 * A key is raw bytes (its ID computed on each call) or a PreparedKey (keys.ts: its ID computed once).
 */
import { concat, constantTimeEqual, readU32be, takeRandom, toHex, type RandomSource } from './bytes.ts';
import { EnvelopeError, CryptoInputError } from './errors.ts';
import { keyMaterial, type PreparedKey } from './keys.ts';
import { xchachaOpen, xchachaSealInto } from './xchacha.ts';

export const FORMAT_VERSION = 1;
export const AUTHENTICATED_PREFIX = 17;
export const NONCE_LENGTH = 24;
export const HEADER_LENGTH = AUTHENTICATED_PREFIX + NONCE_LENGTH;
export const TAG_LENGTH = 16;

export type SealedFormat = {
  /** Four magic bytes. */
  readonly magic: Uint8Array;
  /** What the bytes are, for messages: "key envelope". */
  readonly what: string;
  /** Which key seals them, for messages: "root key". */
  readonly keyKind: string;
  readonly maxPlaintext: number;
};

/** What the header of a sealed value says, readable without any key. */
export type SealedHeader = {
  readonly formatVersion: number;
  readonly keyVersion: number;
  readonly keyId: string;
  readonly nonce: Uint8Array;
  /** Length of ciphertext + tag. */
  readonly ciphertextLength: number;
};

export type KeyLookup = (keyVersion: number, keyId: string) => Uint8Array | PreparedKey | undefined;

export function seal(
  f: SealedFormat,
  plaintext: Uint8Array,
  key: Uint8Array | PreparedKey,
  keyVersion: number,
  aadTail: Uint8Array,
  rand: RandomSource,
): Uint8Array {
  const k = keyMaterial(key, f.keyKind);
  if (!Number.isInteger(keyVersion) || keyVersion < 1 || keyVersion > 0xffffffff) {
    throw new CryptoInputError('BadInput', `${f.keyKind} version must be an integer in 1..4294967295`);
  }
  if (plaintext.length > f.maxPlaintext) {
    throw new EnvelopeError(
      'BadLength',
      `plaintext is ${plaintext.length} bytes; a ${f.what} holds at most ${f.maxPlaintext}`,
    );
  }
  const nonce = takeRandom(rand, NONCE_LENGTH);
  // One buffer for the whole output; the AAD is its authenticated prefix followed by the tail.
  const out = new Uint8Array(HEADER_LENGTH + plaintext.length + TAG_LENGTH);
  out.set(f.magic, 0);
  out[4] = FORMAT_VERSION;
  new DataView(out.buffer).setUint32(5, keyVersion);
  out.set(k.idBytes, 9);
  out.set(nonce, AUTHENTICATED_PREFIX);
  const aad = concat(out.subarray(0, AUTHENTICATED_PREFIX), aadTail);
  xchachaSealInto(k.bytes, nonce, aad, plaintext, out, HEADER_LENGTH);
  return out;
}

export function parse(f: SealedFormat, bytes: Uint8Array): SealedHeader {
  return {
    formatVersion: check(f, bytes),
    keyVersion: readU32be(bytes, 5),
    keyId: toHex(bytes.subarray(9, AUTHENTICATED_PREFIX)),
    nonce: bytes.slice(AUTHENTICATED_PREFIX, HEADER_LENGTH),
    ciphertextLength: bytes.length - HEADER_LENGTH,
  };
}

/** The key version of well-formed sealed bytes; throws like `parse` otherwise. */
export function keyVersionOf(f: SealedFormat, bytes: Uint8Array): number {
  check(f, bytes);
  return readU32be(bytes, 5);
}

/** Checks magic, format version and length; returns the format version. */
function check(f: SealedFormat, bytes: Uint8Array): number {
  const magicLength = f.magic.length;
  for (let i = 0; i < Math.min(bytes.length, magicLength); i++) {
    if (bytes[i] !== f.magic[i]) throw new EnvelopeError('BadMagic', `not a ${f.what}: wrong magic bytes`);
  }
  if (bytes.length <= magicLength) throw truncated(f, bytes.length);
  const formatVersion = bytes[magicLength] ?? 0;
  if (formatVersion !== FORMAT_VERSION) {
    throw new EnvelopeError(
      'UnsupportedVersion',
      `${f.what} format version ${formatVersion} is not supported (this code reads ${FORMAT_VERSION})`,
    );
  }
  if (bytes.length < HEADER_LENGTH + TAG_LENGTH) throw truncated(f, bytes.length);
  const max = HEADER_LENGTH + f.maxPlaintext + TAG_LENGTH;
  if (bytes.length > max) {
    throw new EnvelopeError(
      'BadLength',
      `${f.what} is ${bytes.length} bytes, longer than the maximum ${max}`,
    );
  }
  return formatVersion;
}

export function open(f: SealedFormat, bytes: Uint8Array, lookup: KeyLookup, aadTail: Uint8Array): Uint8Array {
  const h = parse(f, bytes);
  const key = lookup(h.keyVersion, h.keyId);
  if (key === undefined) {
    throw new EnvelopeError(
      'WrongKeyId',
      `${f.keyKind} version ${h.keyVersion} (key id ${h.keyId}) is not available`,
    );
  }
  const k = keyMaterial(key, f.keyKind);
  if (!constantTimeEqual(k.idBytes, bytes.subarray(9, AUTHENTICATED_PREFIX))) {
    throw new EnvelopeError(
      'WrongKeyId',
      `${f.keyKind} version ${h.keyVersion} has key id ${toHex(k.idBytes)}, but the ${f.what} was sealed with key id ${h.keyId}`,
    );
  }
  const aad = concat(bytes.subarray(0, AUTHENTICATED_PREFIX), aadTail);
  try {
    return xchachaOpen(k.bytes, h.nonce, aad, bytes.subarray(HEADER_LENGTH));
  } catch (cause) {
    throw new EnvelopeError(
      'AuthenticationFailed',
      `${f.what} failed authentication: it was altered, or it belongs to another place or context`,
      { cause },
    );
  }
}

function truncated(f: SealedFormat, length: number): EnvelopeError {
  return new EnvelopeError(
    'Truncated',
    `${f.what} is ${length} bytes, shorter than the minimum ${HEADER_LENGTH + TAG_LENGTH}`,
  );
}
