/**
 * Passphrase sealing for backups of the installation keys (disaster recovery): a key derived from
 * the passphrase with Argon2id (RFC 9106), then XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03).
 *
 * Byte layout (format version 1), integers unsigned big-endian:
 *
 *   offset  size  field
 *        0     4  magic "PALB" = 50 41 4c 42
 *        4     1  format version = 0x01
 *        5     1  KDF = 0x01: Argon2id, version 0x13
 *        6     4  m: memory in KiB
 *       10     1  t: iterations
 *       11     1  p: parallelism
 *       12    16  salt, random
 *       28    24  nonce, random
 *       52   n+16 ciphertext (n ≤ 16 MiB) || 16-byte Poly1305 tag
 *
 *   key   = Argon2id(P = UTF-8(NFC(passphrase)), S = salt, m, t, p, T = 32, X = "palisade backup v1")
 *   AAD   = bytes 0..52 (the whole header, so parameters cannot be changed without detection)
 *
 * Defaults are m = 64 MiB, t = 3, p = 1 (RFC 9106 §4's second recommended option, single lane):
 * about 1.5 s in pure JS. Parameters read from a blob are bounds-checked (m ≤ 1 GiB, t ≤ 16,
 * p ≤ 16) before any derivation, so a crafted blob fails fast with BadParameters.
 */
import { argon2id, argon2ParamsProblem, secretText, type Argon2Params } from './argon2.ts';
import { concat, readU32be, takeRandom, u32be, utf8, type RandomSource } from './bytes.ts';
import { EnvelopeError } from './errors.ts';
import { xchachaOpen, xchachaSeal } from './xchacha.ts';

export type PassphraseParams = Argon2Params;

/** Default Argon2id cost for backups: 64 MiB, 3 passes, 1 lane. */
export const DEFAULT_PASSPHRASE_PARAMS: PassphraseParams = {
  memoryKiB: 64 * 1024,
  iterations: 3,
  parallelism: 1,
};

/** Largest plaintext a passphrase blob holds. */
export const MAX_SEALED_PLAINTEXT = 16 * 1024 * 1024;

/** What a blob's header says, readable without the passphrase. */
export type PassphraseHeader = {
  readonly formatVersion: number;
  readonly kdf: 'argon2id';
  readonly params: PassphraseParams;
  readonly salt: Uint8Array;
  readonly nonce: Uint8Array;
};

const MAGIC = Uint8Array.of(0x50, 0x41, 0x4c, 0x42);
const FORMAT_VERSION = 1;
const KDF_ARGON2ID = 1;
const SALT_LENGTH = 16;
const NONCE_LENGTH = 24;
const HEADER_LENGTH = 52;
const TAG_LENGTH = 16;
const LABEL = utf8('palisade backup v1');

/** Seals `plaintext` under `passphrase`. Throws CryptoInputError for an empty passphrase. */
export async function sealWithPassphrase(
  plaintext: Uint8Array,
  passphrase: string,
  rand: RandomSource,
  params: PassphraseParams = DEFAULT_PASSPHRASE_PARAMS,
): Promise<Uint8Array> {
  const password = secretText(passphrase, 'passphrase');
  checkParams(params);
  if (plaintext.length > MAX_SEALED_PLAINTEXT) {
    throw new EnvelopeError(
      'BadLength',
      `plaintext is ${plaintext.length} bytes; at most ${MAX_SEALED_PLAINTEXT}`,
    );
  }
  const salt = takeRandom(rand, SALT_LENGTH);
  const nonce = takeRandom(rand, NONCE_LENGTH);
  const { memoryKiB: m, iterations: t, parallelism: p } = params;
  const header = concat(
    MAGIC,
    Uint8Array.of(FORMAT_VERSION, KDF_ARGON2ID),
    u32be(m),
    Uint8Array.of(t, p),
    salt,
    nonce,
  );
  const key = await argon2id({ password, salt, params, length: 32, label: LABEL });
  return concat(header, xchachaSeal(key, nonce, header, plaintext));
}

/**
 * Opens a blob. Throws EnvelopeError: Truncated, BadMagic, UnsupportedVersion (format or KDF),
 * BadParameters, BadLength, AuthenticationFailed (wrong passphrase or altered blob).
 */
export async function openWithPassphrase(blob: Uint8Array, passphrase: string): Promise<Uint8Array> {
  const h = parsePassphraseBlob(blob);
  const password = secretText(passphrase, 'passphrase');
  const key = await argon2id({ password, salt: h.salt, params: h.params, length: 32, label: LABEL });
  try {
    return xchachaOpen(key, h.nonce, blob.subarray(0, HEADER_LENGTH), blob.subarray(HEADER_LENGTH));
  } catch (cause) {
    throw new EnvelopeError(
      'AuthenticationFailed',
      'backup failed authentication: wrong passphrase, or altered',
      {
        cause,
      },
    );
  }
}

/** Reads a blob's header (KDF and its parameters) without the passphrase. */
export function parsePassphraseBlob(blob: Uint8Array): PassphraseHeader {
  for (let i = 0; i < Math.min(blob.length, MAGIC.length); i++) {
    if (blob[i] !== MAGIC[i])
      throw new EnvelopeError('BadMagic', 'not a passphrase-sealed backup: wrong magic bytes');
  }
  if (blob.length < 6) throw truncated(blob.length);
  const [formatVersion = 0, kdf = 0] = blob.subarray(4, 6);
  if (formatVersion !== FORMAT_VERSION) {
    throw new EnvelopeError('UnsupportedVersion', `backup format version ${formatVersion} is not supported`);
  }
  if (kdf !== KDF_ARGON2ID)
    throw new EnvelopeError('UnsupportedVersion', `backup KDF ${kdf} is not supported`);
  if (blob.length < HEADER_LENGTH + TAG_LENGTH) throw truncated(blob.length);
  if (blob.length > HEADER_LENGTH + MAX_SEALED_PLAINTEXT + TAG_LENGTH) {
    throw new EnvelopeError('BadLength', `backup is ${blob.length} bytes, longer than the maximum`);
  }
  const params = { memoryKiB: readU32be(blob, 6), iterations: blob[10] ?? 0, parallelism: blob[11] ?? 0 };
  checkParams(params);
  return {
    formatVersion,
    kdf: 'argon2id',
    params,
    salt: blob.slice(12, 12 + SALT_LENGTH),
    nonce: blob.slice(28, 28 + NONCE_LENGTH),
  };
}

function checkParams(params: PassphraseParams): void {
  const problem = argon2ParamsProblem(params);
  if (problem) throw new EnvelopeError('BadParameters', `Argon2id ${problem}`);
}

function truncated(length: number): EnvelopeError {
  return new EnvelopeError(
    'Truncated',
    `backup is ${length} bytes, shorter than the minimum ${HEADER_LENGTH + TAG_LENGTH}`,
  );
}
