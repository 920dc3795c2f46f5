/**
 * Tenant data encryption: small values (user names, e-mail addresses, credentials) encrypted under
 * a version of a tenant's data key with XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03).
 *
 * Byte layout (format version 1), integers unsigned big-endian:
 *
 *   offset  size  field
 *        0     4  magic "PALD" = 50 41 4c 44
 *        4     1  format version = 0x01
 *        5     4  data key version (≥ 1)
 *        9     8  data key ID: first 8 bytes of HMAC-SHA-256(dataKey, "palisade key id v1")
 *       17    24  nonce, random
 *       41   n+16 ciphertext (n ≤ 16 MiB) || 16-byte Poly1305 tag
 *
 *   AEAD AAD = bytes 0..17 || u8 24 || "palisade-data-context-v1" || u32 len || context (UTF-8 if a string)
 *
 * The header carries the key version, so decryption asks for exactly that version and old
 * ciphertexts keep working across rotations while the version is still held. The optional context
 * (for example "user/42/email") is not stored; the same context must be given to decrypt, so a
 * ciphertext swapped between two fields or records fails authentication. No context and an empty
 * context are the same.
 */
import { concat, isWellFormed, u32be, utf8, type RandomSource } from './bytes.ts';
import { EnvelopeError } from './errors.ts';
import type { PreparedKey } from './keys.ts';
import { keyVersionOf, open, seal, type SealedFormat } from './sealed.ts';

/** Context binding a ciphertext to where it is stored. */
export type DataContext = string | Uint8Array;

export type EncryptOptions = {
  /** The version of the tenant data key given as `dataKey`. */
  readonly keyVersion: number;
  readonly context?: DataContext;
};

/** Returns the data key of `version`, or undefined when that version is not (or no longer) held. */
export type DataKeyLookup = (version: number) => Uint8Array | PreparedKey | undefined;

/** Largest plaintext `encryptData` accepts: this is a field library, not a file encryptor. */
export const MAX_DATA_PLAINTEXT = 16 * 1024 * 1024;

const DATA: SealedFormat = {
  magic: Uint8Array.of(0x50, 0x41, 0x4c, 0x44),
  what: 'data ciphertext',
  keyKind: 'tenant data key',
  maxPlaintext: MAX_DATA_PLAINTEXT,
};

const CONTEXT_LABEL = utf8('palisade-data-context-v1');

/**
 * Encrypts `plaintext` under `dataKey` (version `options.keyVersion`). A key used for many calls is best
 * given as a PreparedKey (keys.ts), whose key ID is computed once.
 */
export function encryptData(
  plaintext: Uint8Array,
  dataKey: Uint8Array | PreparedKey,
  options: EncryptOptions,
  rand: RandomSource,
): Uint8Array {
  return seal(DATA, plaintext, dataKey, options.keyVersion, contextTail(options.context), rand);
}

/**
 * Decrypts with the key version named in the header. Throws EnvelopeError: Truncated, BadMagic,
 * UnsupportedVersion, BadLength, WrongKeyId (version not held, or held key has another ID),
 * AuthenticationFailed (altered, or another context).
 */
export function decryptData(
  ciphertext: Uint8Array,
  keyLookup: DataKeyLookup,
  context?: DataContext,
): Uint8Array {
  return open(DATA, ciphertext, (version) => keyLookup(version), contextTail(context));
}

/** The data key version a ciphertext needs, read without decrypting (for re-encryption sweeps). */
export function dataKeyVersion(ciphertext: Uint8Array): number {
  return keyVersionOf(DATA, ciphertext);
}

/** The tail of no context (and of an empty one): the same bytes every time. */
const NO_CONTEXT_TAIL = tailOf(new Uint8Array(0));

function contextTail(context: DataContext | undefined): Uint8Array {
  if (typeof context === 'string' && !isWellFormed(context)) {
    throw new EnvelopeError('BadBinding', 'data context contains a lone UTF-16 surrogate');
  }
  if (context === undefined || context.length === 0) return NO_CONTEXT_TAIL;
  return tailOf(typeof context === 'string' ? utf8(context) : context);
}

function tailOf(bytes: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(CONTEXT_LABEL.length), CONTEXT_LABEL, u32be(bytes.length), bytes);
}
