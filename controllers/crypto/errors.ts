/**
 * Named errors of the crypto package. Every error carries a stable `code` that callers branch on
 * (and that controllers turn into condition reasons); messages are for humans. No message ever
 * contains key bytes, plaintext, passphrases or passwords: only lengths, versions, labels and key IDs,
 * which are public by construction (see keys.ts).
 */

/** Base class, so callers can catch everything this package throws with one `instanceof`. */
export abstract class CryptoError extends Error {
  abstract readonly code: string;
}

/** Why a sealed format (key envelope, data ciphertext, passphrase blob) could not be made or opened. */
export const EnvelopeErrorCode = {
  /** Shorter than its header, or than header + tag. */
  Truncated: 'Truncated',
  /** The first four bytes are not the format's magic: not this format at all. */
  BadMagic: 'BadMagic',
  /** A format version (or KDF) this code does not know. */
  UnsupportedVersion: 'UnsupportedVersion',
  /** The key it names is not available, or the key given has another key ID. */
  WrongKeyId: 'WrongKeyId',
  /** The AEAD tag did not verify: altered bytes, wrong binding/context, wrong key or passphrase. */
  AuthenticationFailed: 'AuthenticationFailed',
  /** A plaintext or ciphertext longer than the format allows. */
  BadLength: 'BadLength',
  /** KDF parameters outside the accepted bounds (refused before any work is done). */
  BadParameters: 'BadParameters',
  /** A binding (associated data) that cannot be encoded canonically. */
  BadBinding: 'BadBinding',
} as const;
export type EnvelopeErrorCode = (typeof EnvelopeErrorCode)[keyof typeof EnvelopeErrorCode];

export class EnvelopeError extends CryptoError {
  override readonly name = 'EnvelopeError';
  readonly code: EnvelopeErrorCode;
  constructor(code: EnvelopeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Why an encoded password hash could not be used. */
export const PasswordHashErrorCode = {
  /** Not a well-formed `$argon2id$v=19$m=..,t=..,p=..$salt$hash` string. */
  Malformed: 'Malformed',
  /** Another algorithm or Argon2 version. */
  UnsupportedAlgorithm: 'UnsupportedAlgorithm',
  /** Cost parameters outside the accepted bounds. */
  BadParameters: 'BadParameters',
} as const;
export type PasswordHashErrorCode = (typeof PasswordHashErrorCode)[keyof typeof PasswordHashErrorCode];

export class PasswordHashError extends CryptoError {
  override readonly name = 'PasswordHashError';
  readonly code: PasswordHashErrorCode;
  constructor(code: PasswordHashErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A caller handed this package something unusable, independent of any wire format. */
export const CryptoInputErrorCode = {
  /** A key that is not exactly 32 bytes. */
  BadKeyLength: 'BadKeyLength',
  /** The injected RandomSource returned something other than the n bytes asked for. */
  BadRandomSource: 'BadRandomSource',
  /** An installation hash salt shorter than 16 bytes. */
  BadSalt: 'BadSalt',
  /** An identifier, e-mail address, password or passphrase that is empty, too long or malformed. */
  BadInput: 'BadInput',
  /** A prepared key used after it was wiped. */
  WipedKey: 'WipedKey',
} as const;
export type CryptoInputErrorCode = (typeof CryptoInputErrorCode)[keyof typeof CryptoInputErrorCode];

export class CryptoInputError extends CryptoError {
  override readonly name = 'CryptoInputError';
  readonly code: CryptoInputErrorCode;
  constructor(code: CryptoInputErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
