import assert from 'node:assert/strict';
import { dataKeyVersion, decryptData, encryptData, type DataKeyLookup } from './data.ts';
import { keyId } from './keys.ts';
import {
  FAKE_DATA_KEY,
  FAKE_ROOT_KEY_V2,
  countingRandom,
  hex,
  seededRandom,
  toHex,
} from './testdata/fixtures.ts';
import { codeOf, sealedRegionCode } from './testdata/envelope.ts';
import { referenceDecrypt } from './testdata/reference.ts';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const EMAIL = utf8('alice@example.com');
const LOOKUP: DataKeyLookup = (v) => (v === 3 ? FAKE_DATA_KEY : undefined);

// Computed once by encryptData() with countingRandom(0xc0), verified below by an independent path.
const KAT = hex(`
  50414c44 01 00000003 a2ce971a6fcf7249
  c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7
  3b3dbb8997b6bafd33e7571efb067a02940c042f36f617d89bc9075f97a8d06c8f`);

describe('tenant data encryption', () => {
  it('produces the pinned bytes for a fixed key, version, context and randomness', () => {
    const ct = encryptData(
      EMAIL,
      FAKE_DATA_KEY,
      { keyVersion: 3, context: 'user/42/email' },
      countingRandom(0xc0),
    );
    assert.equal(toHex(ct), toHex(KAT));
    assert.equal(toHex(ct.subarray(9, 17)), keyId(FAKE_DATA_KEY));
  });

  it('decrypts the pinned ciphertext with the independent reference using the documented layout', () => {
    const context = utf8('user/42/email');
    const label = utf8('palisade-data-context-v1');
    const aad = Buffer.concat([
      KAT.subarray(0, 17),
      Buffer.from([label.length]),
      label,
      hex('0000000d'),
      context,
    ]);
    assert.deepEqual(referenceDecrypt(FAKE_DATA_KEY, KAT.subarray(17, 41), aad, KAT.subarray(41)), EMAIL);
  });

  it('decrypts with the key version named in the header', () => {
    const asked: number[] = [];
    const plain = decryptData(KAT, (v) => (asked.push(v), LOOKUP(v)), 'user/42/email');
    assert.deepEqual(plain, EMAIL);
    assert.deepEqual(asked, [3]);
    assert.equal(dataKeyVersion(KAT), 3);
  });

  it('decrypts ciphertexts of several key versions after rotation', () => {
    const keys = new Map([
      [1, FAKE_DATA_KEY],
      [2, FAKE_ROOT_KEY_V2],
    ]);
    const rand = seededRandom(11);
    const old = encryptData(utf8('old'), FAKE_DATA_KEY, { keyVersion: 1 }, rand);
    const neu = encryptData(utf8('new'), FAKE_ROOT_KEY_V2, { keyVersion: 2 }, rand);
    assert.deepEqual(
      decryptData(old, (v) => keys.get(v)),
      utf8('old'),
    );
    assert.deepEqual(
      decryptData(neu, (v) => keys.get(v)),
      utf8('new'),
    );
  });

  it('refuses with WrongKeyId when the version is not held or the held key has another ID', () => {
    assert.equal(
      codeOf(() => decryptData(KAT, () => undefined, 'user/42/email')),
      'WrongKeyId',
    );
    assert.equal(
      codeOf(() => decryptData(KAT, () => FAKE_ROOT_KEY_V2, 'user/42/email')),
      'WrongKeyId',
    );
  });

  it('refuses with AuthenticationFailed under another context', () => {
    for (const other of [undefined, '', 'user/43/email', 'user/42/name', utf8('user/42/email ')]) {
      assert.equal(
        codeOf(() => decryptData(KAT, LOOKUP, other)),
        'AuthenticationFailed',
        String(other),
      );
    }
  });

  it('treats a string context and its UTF-8 bytes the same, and no context as the empty one', () => {
    const rand = seededRandom(5);
    const a = encryptData(EMAIL, FAKE_DATA_KEY, { keyVersion: 3, context: 'ctx' }, rand);
    assert.deepEqual(decryptData(a, LOOKUP, utf8('ctx')), EMAIL);
    const b = encryptData(EMAIL, FAKE_DATA_KEY, { keyVersion: 3 }, rand);
    assert.deepEqual(decryptData(b, LOOKUP, ''), EMAIL);
    assert.equal(
      codeOf(() => encryptData(EMAIL, FAKE_DATA_KEY, { keyVersion: 3, context: '\udc00' }, rand)),
      'BadBinding',
    );
  });

  it('refuses every single-bit flip and every truncation with a precise code', () => {
    for (let bit = 0; bit < KAT.length * 8; bit++) {
      const t = Uint8Array.from(KAT);
      t[bit >> 3] = (t[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      assert.equal(
        codeOf(() => decryptData(t, LOOKUP, 'user/42/email')),
        sealedRegionCode(bit >> 3),
        `bit ${bit}`,
      );
    }
    for (let n = 0; n < KAT.length; n++) {
      const want = n < 57 ? 'Truncated' : 'AuthenticationFailed';
      assert.equal(
        codeOf(() => decryptData(KAT.subarray(0, n), LOOKUP, 'user/42/email')),
        want,
        `length ${n}`,
      );
    }
  });

  it('refuses a key envelope given as a data ciphertext with BadMagic', () => {
    const envelope = Uint8Array.from(KAT);
    envelope[3] = 0x4b;
    assert.equal(
      codeOf(() => decryptData(envelope, LOOKUP)),
      'BadMagic',
    );
  });

  it('round-trips 150 seeded random plaintexts, keys, versions and contexts', () => {
    const rng = seededRandom(0xda7a);
    for (let i = 0; i < 150; i++) {
      const key = rng(32);
      const keyVersion = 1 + rng.int(1 << 20);
      const plaintext = rng(rng.int(3) === 0 ? rng.int(20000) : rng.int(100));
      const context = rng.int(2) === 0 ? undefined : toHex(rng(rng.int(20)));
      const ct = encryptData(plaintext, key, { keyVersion, context }, rng);
      assert.equal(ct.length, 57 + plaintext.length);
      assert.equal(dataKeyVersion(ct), keyVersion);
      const lookup = (v: number) => (v === keyVersion ? key : undefined);
      assert.deepEqual(decryptData(ct, lookup, context), plaintext, `case ${i}`);
    }
  });
});
