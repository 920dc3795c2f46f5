/**
 * Key envelopes: a secret of at most 4 KiB (a tenant data key, a NATS account seed) wrapped by a
 * root key version with XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03), bound to its place.
 *
 * Byte layout (format version 1), integers unsigned big-endian:
 *
 *   offset  size  field
 *        0     4  magic "PALK" = 50 41 4c 4b
 *        4     1  format version = 0x01
 *        5     4  root key version (≥ 1)
 *        9     8  root key ID: first 8 bytes of HMAC-SHA-256(rootKey, "palisade key id v1")
 *       17    24  nonce, random
 *       41   n+16 ciphertext (n = plaintext length, 0..4096) || 16-byte Poly1305 tag
 *
 *   AEAD key   = root key (32 bytes)
 *   AEAD nonce = bytes 17..41
 *   AEAD AAD   = bytes 0..17 || encodeBinding(binding)     (binding.ts)
 *
 * Total length is 57 + n bytes (89 for a 32-byte data key). The binding is not stored: the reader
 * rebuilds it from where the envelope was found, so an envelope moved to another tenant, TenantKey,
 * key UID or version fails with AuthenticationFailed. The header names the root key version, so
 * unwrap looks up exactly one key (no trial decryption) and root key rotation can list what each
 * envelope is wrapped by with `parseEnvelope`, without decrypting.
 *
 * Storage: envelopes are binary. They go into a Secret's `data` map as-is (the Kubernetes client
 * base64-encodes `data` values on the wire); no text encoding is defined here.
 */
import type { RandomSource } from './bytes.ts';
import { encodeBinding, type Binding } from './binding.ts';
import { EnvelopeError } from './errors.ts';
import { keyId } from './keys.ts';
import { open, parse, seal, type SealedFormat } from './sealed.ts';

/** Names one root key version: its version number and its public key ID. */
export type WrappingKeyRef = { readonly version: number; readonly keyId: string };

/** Finds the root key an envelope names; returns undefined when that version is not held. */
export type Keyring = (ref: WrappingKeyRef) => Uint8Array | undefined;

/** What an envelope's header says, readable without any key. */
export type EnvelopeHeader = {
  readonly formatVersion: number;
  readonly wrappingKey: WrappingKeyRef;
  readonly nonce: Uint8Array;
  /** Length of ciphertext + tag (plaintext length + 16). */
  readonly ciphertextLength: number;
};

/** Largest secret a key envelope holds. */
export const MAX_WRAPPED_SECRET = 4096;

const ENVELOPE: SealedFormat = {
  magic: Uint8Array.of(0x50, 0x41, 0x4c, 0x4b),
  what: 'key envelope',
  keyKind: 'root key',
  maxPlaintext: MAX_WRAPPED_SECRET,
};

/** The ref of root key `key` at `version`. */
export function wrappingKeyRef(version: number, key: Uint8Array): WrappingKeyRef {
  return { version, keyId: keyId(key) };
}

/** A keyring over root key versions held in memory, keyed by version number. */
export function keyringOf(keysByVersion: ReadonlyMap<number, Uint8Array>): Keyring {
  return (ref) => keysByVersion.get(ref.version);
}

/**
 * Wraps `plaintext` under `wrappingKey`, bound to `binding`. `wrappingKeyRef` must name that key
 * (WrongKeyId otherwise: it catches a mixed-up keyring before anything is written).
 */
export function wrap(
  plaintext: Uint8Array,
  wrappingKey: Uint8Array,
  wrappingKeyRef: WrappingKeyRef,
  binding: Binding,
  rand: RandomSource,
): Uint8Array {
  const aadTail = encodeBinding(binding);
  const actual = keyId(wrappingKey);
  if (actual !== wrappingKeyRef.keyId) {
    throw new EnvelopeError(
      'WrongKeyId',
      `root key given for version ${wrappingKeyRef.version} has key id ${actual}, not ${wrappingKeyRef.keyId}`,
    );
  }
  return seal(ENVELOPE, plaintext, wrappingKey, wrappingKeyRef.version, aadTail, rand);
}

/**
 * Unwraps an envelope with the root key its header names, checking it was sealed for `binding`.
 * Throws EnvelopeError: Truncated, BadMagic, UnsupportedVersion, BadLength (malformed bytes),
 * WrongKeyId (key not in the keyring, or the keyring's key has another ID), AuthenticationFailed.
 */
export function unwrap(envelope: Uint8Array, keyring: Keyring, binding: Binding): Uint8Array {
  const aadTail = encodeBinding(binding);
  return open(ENVELOPE, envelope, (version, id) => keyring({ version, keyId: id }), aadTail);
}

/** Reads an envelope's header without decrypting; throws like `unwrap` for malformed bytes. */
export function parseEnvelope(envelope: Uint8Array): EnvelopeHeader {
  const h = parse(ENVELOPE, envelope);
  return {
    formatVersion: h.formatVersion,
    wrappingKey: { version: h.keyVersion, keyId: h.keyId },
    nonce: h.nonce,
    ciphertextLength: h.ciphertextLength,
  };
}
