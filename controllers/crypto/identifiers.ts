/**
 * The hash-salt library for platform code: keyed hashes of identifiers (e-mail addresses, opaque
 * IDs) and password hashing, both keyed by the installation's hash salt so a leaked database of
 * hashes cannot be attacked offline without the salt Secret as well.
 *
 * Subkeys, from the installation salt (≥ 16 bytes) with HKDF-SHA-256 (RFC 5869, no HKDF salt):
 *   identifier key = HKDF(salt, info = "palisade identifier hash v1", 32)
 *   password pepper = HKDF(salt, info = "palisade password pepper v1", 32)
 *
 * hashIdentifier = hex(HMAC-SHA-256(identifier key, kind || 0x00 || UTF-8(normalised value))), where
 * kind is "email" or "opaque", so the same string hashed as two kinds gives unrelated values. With a
 * scope (the key service passes the tenant UID) the identifier key is instead
 *   HKDF(salt, info = "palisade identifier hash v1 scope " || scope, 32)
 * so one identifier gets unrelated values in two scopes: tenants cannot join their indexes.
 *
 * Passwords: Argon2id (RFC 9106) with a random 16-byte salt per password and the pepper as Argon2's
 * secret input K, encoded as a PHC string `$argon2id$v=19$m=<KiB>,t=<n>,p=<n>$<salt>$<hash>`
 * (unpadded standard base64). Any Argon2 implementation that takes a secret can verify it, given
 * the pepper. Passwords are NFC-normalised (RFC 8265 OpaqueString), nothing else. When the salt is
 * versioned, the hash names the salt version its pepper came from as one more parameter,
 * `m=..,t=..,p=..,pv=<version>` (absent: version 1), so a rotated salt can still verify old hashes
 * and `passwordNeedsRehash` can tell they were made with an older pepper.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { argon2id, argon2ParamsProblem, secretText, type Argon2Params } from './argon2.ts';
import {
  concat,
  constantTimeEqual,
  isWellFormed,
  takeRandom,
  toHex,
  utf8,
  type RandomSource,
} from './bytes.ts';
import { CryptoInputError, PasswordHashError } from './errors.ts';

/** How an identifier is normalised before hashing. */
export const IdentifierKind = {
  /** An e-mail address, normalised by `normalizeEmail` (case-insensitive). */
  Email: 'email',
  /** Any other identifier, hashed exactly as given (UTF-8, no normalisation). */
  Opaque: 'opaque',
} as const;
export type IdentifierKind = (typeof IdentifierKind)[keyof typeof IdentifierKind];

export type PasswordParams = Argon2Params;

/** OWASP's Argon2id baseline: 19 MiB, 2 passes, 1 lane (about 0.4 s in pure JS). */
export const DEFAULT_PASSWORD_PARAMS: PasswordParams = {
  memoryKiB: 19 * 1024,
  iterations: 2,
  parallelism: 1,
};

const MIN_SALT_BYTES = 16;
const MAX_EMAIL_BYTES = 320;
const PASSWORD_SALT_BYTES = 16;
const PASSWORD_HASH_BYTES = 32;

/**
 * Keyed hash of an identifier: 64 lowercase hex chars, deterministic per installation salt.
 * Throws CryptoInputError: BadSalt, BadInput (empty opaque value, invalid e-mail address).
 */
export function hashIdentifier(
  salt: Uint8Array,
  value: string,
  kind: IdentifierKind,
  scope?: string,
): string {
  if (scope !== undefined && (scope === '' || !/^[\x21-\x7e]{1,253}$/.test(scope))) {
    throw new CryptoInputError('BadInput', 'an identifier scope is 1..253 printable ASCII characters');
  }
  const info =
    scope === undefined ? 'palisade identifier hash v1' : `palisade identifier hash v1 scope ${scope}`;
  const key = subkey(salt, info);
  let normalised: string;
  if (kind === IdentifierKind.Email) normalised = normalizeEmail(value);
  else if (kind === IdentifierKind.Opaque) normalised = opaque(value);
  else throw new CryptoInputError('BadInput', `unknown identifier kind '${String(kind)}'`);
  return toHex(hmac(sha256, key, concat(utf8(kind), Uint8Array.of(0), utf8(normalised))));
}

/**
 * The normal form of an e-mail address, exactly:
 *  1. refuse strings with lone UTF-16 surrogates;
 *  2. Unicode NFC; trim leading and trailing whitespace (String.prototype.trim: White_Space and
 *     line terminators);
 *  3. lowercase the whole address with the locale-independent Unicode default mapping
 *     (String.prototype.toLowerCase, as Python's str.lower), then NFC again;
 *  4. refuse it unless it has an "@" with a non-empty part on each side of the last "@", no
 *     whitespace or control characters, and at most 320 UTF-8 bytes.
 * Deliberately not done: removing dots or "+tags" (provider-specific), IDNA/punycode conversion of
 * the domain, unquoting quoted local parts, stripping a trailing dot. Lowercasing the local part
 * departs from RFC 5321 §2.4 but matches how every mainstream provider treats addresses.
 */
export function normalizeEmail(email: string): string {
  if (typeof email !== 'string' || !isWellFormed(email)) badEmail('not a well-formed Unicode string');
  const s = email.normalize('NFC').trim().toLowerCase().normalize('NFC');
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) badEmail('needs a local part, "@" and a domain');
  if (/[\s\p{Cc}]/u.test(s)) badEmail('contains whitespace or control characters');
  if (utf8(s).length > MAX_EMAIL_BYTES) badEmail(`longer than ${MAX_EMAIL_BYTES} bytes`);
  return s;
}

/** Hashes a password for storage. Throws CryptoInputError (BadSalt, BadInput) or PasswordHashError. */
export async function hashPassword(
  salt: Uint8Array,
  password: string,
  rand: RandomSource,
  params: PasswordParams = DEFAULT_PASSWORD_PARAMS,
  pepperVersion?: number,
): Promise<string> {
  if (pepperVersion !== undefined && !validPepperVersion(pepperVersion)) {
    throw new PasswordHashError(
      'BadParameters',
      `pepper version ${pepperVersion} is outside 1..${MAX_PEPPER_VERSION}`,
    );
  }
  const pepper = subkey(salt, 'palisade password pepper v1');
  const pw = secretText(password, 'password');
  const problem = argon2ParamsProblem(params);
  if (problem) throw new PasswordHashError('BadParameters', `Argon2id ${problem}`);
  const s = takeRandom(rand, PASSWORD_SALT_BYTES);
  const hash = await argon2id({ password: pw, salt: s, params, length: PASSWORD_HASH_BYTES, secret: pepper });
  const { memoryKiB: m, iterations: t, parallelism: p } = params;
  const pv = pepperVersion === undefined ? '' : `,pv=${pepperVersion}`;
  return `$argon2id$v=19$m=${m},t=${t},p=${p}${pv}$${b64(s)}$${b64(hash)}`;
}

/**
 * True when `password` matches `encoded` (compared in constant time). An empty or over-long
 * password is simply false. Throws PasswordHashError when `encoded` is not a usable hash.
 */
export async function verifyPassword(salt: Uint8Array, password: string, encoded: string): Promise<boolean> {
  const pepper = subkey(salt, 'palisade password pepper v1');
  const parsed = parsePasswordHash(encoded);
  let pw: Uint8Array;
  try {
    pw = secretText(password, 'password');
  } catch {
    return false;
  }
  const hash = await argon2id({
    password: pw,
    salt: parsed.salt,
    params: parsed.params,
    length: parsed.hash.length,
    secret: pepper,
  });
  return constantTimeEqual(hash, parsed.hash);
}

/**
 * The salt version whose pepper `encoded` was made with (1 when it names none). Throws
 * PasswordHashError when `encoded` is not a usable hash.
 */
export function passwordPepperVersion(encoded: string): number {
  return parsePasswordHash(encoded).pepperVersion;
}

/**
 * True when `encoded` was made with other cost parameters than `params`, or (when `pepperVersion` is
 * given) with another salt version's pepper: rehash at the next successful login.
 */
export function passwordNeedsRehash(
  encoded: string,
  params: PasswordParams = DEFAULT_PASSWORD_PARAMS,
  pepperVersion?: number,
): boolean {
  const parsed = parsePasswordHash(encoded);
  const p = parsed.params;
  return (
    (pepperVersion !== undefined && parsed.pepperVersion !== pepperVersion) ||
    p.memoryKiB !== params.memoryKiB ||
    p.iterations !== params.iterations ||
    p.parallelism !== params.parallelism
  );
}

type ParsedHash = { params: PasswordParams; pepperVersion: number; salt: Uint8Array; hash: Uint8Array };

const MAX_PEPPER_VERSION = 1_000_000;
const validPepperVersion = (v: number) => Number.isInteger(v) && v >= 1 && v <= MAX_PEPPER_VERSION;

const PHC =
  /^\$argon2id\$v=(\d{1,3})\$m=(\d{1,10}),t=(\d{1,3}),p=(\d{1,3})(?:,pv=(\d{1,7}))?\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function parsePasswordHash(encoded: string): ParsedHash {
  if (typeof encoded !== 'string') throw new PasswordHashError('Malformed', 'password hash must be a string');
  const algorithm = /^\$([a-z0-9-]{1,32})\$/.exec(encoded)?.[1];
  if (algorithm !== undefined && algorithm !== 'argon2id') {
    throw new PasswordHashError(
      'UnsupportedAlgorithm',
      `password hash algorithm '${algorithm}' is not supported`,
    );
  }
  const m = PHC.exec(encoded);
  if (!m) throw new PasswordHashError('Malformed', 'not a $argon2id$v=19$m=..,t=..,p=..$salt$hash string');
  const [, v = '', mem = '', t = '', p = '', pv, salt64 = '', hash64 = ''] = m;
  if (v !== '19') throw new PasswordHashError('UnsupportedAlgorithm', `Argon2 version ${v} is not supported`);
  if ([mem, t, p, pv ?? ''].some((d) => d.length > 1 && d.startsWith('0'))) {
    throw new PasswordHashError('Malformed', 'password hash parameters have leading zeros');
  }
  const params = { memoryKiB: Number(mem), iterations: Number(t), parallelism: Number(p) };
  const problem = argon2ParamsProblem(params);
  if (problem) throw new PasswordHashError('BadParameters', `Argon2id ${problem}`);
  const pepperVersion = pv === undefined ? 1 : Number(pv);
  if (!validPepperVersion(pepperVersion))
    throw new PasswordHashError(
      'Malformed',
      `pepper version ${pv ?? ''} is outside 1..${MAX_PEPPER_VERSION}`,
    );
  const salt = unb64(salt64, 'salt', 8);
  const hash = unb64(hash64, 'hash', 16);
  return { params, pepperVersion, salt, hash };
}

function subkey(salt: Uint8Array, info: string): Uint8Array {
  if (!(salt instanceof Uint8Array) || salt.length < MIN_SALT_BYTES) {
    throw new CryptoInputError('BadSalt', `installation hash salt must be at least ${MIN_SALT_BYTES} bytes`);
  }
  return hkdf(sha256, salt, undefined, utf8(info), 32);
}

function opaque(value: string): string {
  if (typeof value !== 'string' || value === '' || !isWellFormed(value)) {
    throw new CryptoInputError('BadInput', 'identifier must be a non-empty, well-formed Unicode string');
  }
  return value;
}

function badEmail(why: string): never {
  throw new CryptoInputError('BadInput', `invalid e-mail address: ${why}`);
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}

function unb64(s: string, what: string, minBytes: number): Uint8Array {
  const bytes = new Uint8Array(Buffer.from(s, 'base64'));
  if (b64(bytes) !== s || bytes.length < minBytes || bytes.length > 64) {
    throw new PasswordHashError(
      'Malformed',
      `password hash ${what} is not ${minBytes}..64 bytes of canonical base64`,
    );
  }
  return bytes;
}
