/**
 * NATS nkeys on `node:crypto` Ed25519: the same keys, encodings and signatures as `@nats-io/nkeys`,
 * which signs with pure-JS tweetnacl (milliseconds per signature, blocking the event loop). Ed25519 is
 * deterministic (RFC 8032), so both produce byte-identical signatures (nkeys.test.ts checks it).
 *
 * Encoding (github.com/nats-io/nkeys, strkey.go), base32 (RFC 4648, no padding) of:
 *   public key:  u8 prefix || 32-byte Ed25519 public key || u16le CRC-16/XMODEM
 *   seed:        u8 (0x90 | role >> 5) || u8 ((role & 31) << 3) || 32-byte seed || u16le CRC-16/XMODEM
 * where the role prefix is O (operator), A (account), U (user): 14 << 3, 0, 20 << 3.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';

export const NKeyRole = { Operator: 'O', Account: 'A', User: 'U' } as const;
export type NKeyRole = (typeof NKeyRole)[keyof typeof NKeyRole];

const PREFIX: Record<NKeyRole, number> = { O: 14 << 3, A: 0, U: 20 << 3 };
const SEED_PREFIX = 18 << 3;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
// PKCS#8 DER header of an Ed25519 private key (RFC 8410): the 32-byte seed follows.
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

/** An nkey pair whose signing runs in OpenSSL. Never log or serialize `seed`. */
export interface NKeyPair {
  readonly role: NKeyRole;
  readonly publicKey: string;
  readonly seed: string;
  sign(data: Uint8Array): Uint8Array;
}

export class NKeyError extends Error {
  override name = 'NKeyError';
}

function crc16(data: Uint8Array): number {
  let crc = 0;
  for (const b of data) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** RFC 4648 base32, no padding. */
export function base32(data: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of data) {
    value = ((value << 8) | b) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function unbase32(s: string): Uint8Array {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of s) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) throw new NKeyError('invalid nkey encoding');
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

function withChecksum(payload: Uint8Array): string {
  const crc = crc16(payload);
  return base32(Uint8Array.from([...payload, crc & 0xff, crc >>> 8]));
}

function checked(encoded: string): Uint8Array {
  const raw = unbase32(encoded);
  if (raw.length < 4) throw new NKeyError('invalid nkey encoding');
  const payload = raw.subarray(0, raw.length - 2);
  const crc = (raw[raw.length - 2] ?? 0) | ((raw[raw.length - 1] ?? 0) << 8);
  if (crc16(payload) !== crc) throw new NKeyError('invalid nkey checksum');
  return payload;
}

function roleOf(prefixByte: number): NKeyRole {
  const role = (Object.keys(PREFIX) as NKeyRole[]).find((r) => PREFIX[r] === prefixByte);
  if (!role) throw new NKeyError('unsupported nkey role');
  return role;
}

export function encodePublicKey(role: NKeyRole, raw: Uint8Array): string {
  return withChecksum(Uint8Array.from([PREFIX[role], ...raw]));
}

export function encodeSeed(role: NKeyRole, raw: Uint8Array): string {
  const p = PREFIX[role];
  return withChecksum(Uint8Array.from([SEED_PREFIX | (p >> 5), (p & 31) << 3, ...raw]));
}

/** The raw 32-byte Ed25519 public key of an encoded public nkey, checking its role. */
export function decodePublicKey(publicKey: string, role?: NKeyRole): Uint8Array {
  const raw = checked(publicKey);
  const actual = roleOf(raw[0] ?? -1);
  if ((role && actual !== role) || raw.length !== 33) throw new NKeyError('unexpected nkey role or length');
  return raw.subarray(1);
}

export function isPublicKey(s: string, role: NKeyRole): boolean {
  try {
    decodePublicKey(s, role);
    return true;
  } catch {
    return false;
  }
}

function fromKeyObject(role: NKeyRole, privateKey: KeyObject): NKeyPair {
  const jwk = privateKey.export({ format: 'jwk' });
  const rawSeed = Buffer.from(jwk.d ?? '', 'base64url');
  const rawPublic = Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x ?? '', 'base64url');
  return {
    role,
    publicKey: encodePublicKey(role, rawPublic),
    seed: encodeSeed(role, rawSeed),
    sign: (data) => new Uint8Array(sign(null, data, privateKey)),
  };
}

/** A fresh key pair from OpenSSL's CSPRNG. */
export function createKeyPair(role: NKeyRole): NKeyPair {
  return fromKeyObject(role, generateKeyPairSync('ed25519').privateKey);
}

/** The key pair of an encoded seed (`S...`), checking its role when given. */
export function fromSeed(seed: string, role?: NKeyRole): NKeyPair {
  const raw = checked(seed);
  if (raw.length !== 34 || ((raw[0] ?? 0) & 0xf8) !== SEED_PREFIX) throw new NKeyError('invalid nkey seed');
  const actual = roleOf((((raw[0] ?? 0) & 7) << 5) | ((raw[1] ?? 0) >> 3));
  if (role && actual !== role) throw new NKeyError(`expected a ${role} seed`);
  const der = Buffer.concat([PKCS8_ED25519, raw.subarray(2)]);
  return fromKeyObject(actual, createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
}

/** Verifies an Ed25519 signature by the holder of `publicKey`. */
export function verifySignature(publicKey: string, data: Uint8Array, signature: Uint8Array): boolean {
  const raw = decodePublicKey(publicKey);
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
  return verify(null, data, createPublicKey({ key: spki, format: 'der', type: 'spki' }), signature);
}
