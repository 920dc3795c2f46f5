import assert from 'node:assert/strict';
import { decryptData, encryptData } from './data.ts';
import { keyId, PreparedKey, prepareKey } from './keys.ts';
import { FAKE_DATA_KEY, countingRandom, run, toHex } from './testdata/fixtures.ts';

const EMAIL = new TextEncoder().encode('alice@example.com');
const OPTS = { keyVersion: 3, context: 'user/42/email' };

describe('prepared keys', () => {
  it('carry the key ID of their bytes, computed once', () => {
    const k = prepareKey(FAKE_DATA_KEY);
    assert.ok(k instanceof PreparedKey);
    assert.equal(k.id, keyId(FAKE_DATA_KEY));
    assert.equal(k.wiped, false);
  });

  it('seal the same bytes as the raw key, and each opens what the other sealed', () => {
    const k = prepareKey(FAKE_DATA_KEY);
    const fromPrepared = encryptData(EMAIL, k, OPTS, countingRandom(0xc0));
    const fromRaw = encryptData(EMAIL, FAKE_DATA_KEY, OPTS, countingRandom(0xc0));
    assert.equal(toHex(fromPrepared), toHex(fromRaw));
    assert.deepEqual(
      decryptData(fromRaw, () => k, 'user/42/email'),
      EMAIL,
    );
    assert.deepEqual(
      decryptData(fromPrepared, () => FAKE_DATA_KEY, 'user/42/email'),
      EMAIL,
    );
  });

  it('keep a private copy: changing or zeroing the source afterwards changes neither key nor ID', () => {
    const source = Uint8Array.from(FAKE_DATA_KEY);
    const k = prepareKey(source);
    source.fill(0);
    const ct = encryptData(EMAIL, k, OPTS, countingRandom(0xc0));
    assert.equal(toHex(ct.subarray(9, 17)), keyId(FAKE_DATA_KEY));
    assert.deepEqual(
      decryptData(ct, () => FAKE_DATA_KEY, 'user/42/email'),
      EMAIL,
    );
  });

  it('refuse every use once wiped (never seal under zeros with the old ID)', () => {
    const k = prepareKey(FAKE_DATA_KEY);
    const ct = encryptData(EMAIL, k, OPTS, countingRandom(0xc0));
    k.wipe();
    assert.equal(k.wiped, true);
    const wiped = { name: 'CryptoInputError', code: 'WipedKey' };
    assert.throws(() => encryptData(EMAIL, k, OPTS, countingRandom(0xc0)), wiped);
    assert.throws(() => decryptData(ct, () => k, 'user/42/email'), wiped);
  });

  it('are checked against the header like raw keys: another key is WrongKeyId', () => {
    const ct = encryptData(EMAIL, FAKE_DATA_KEY, OPTS, countingRandom(0xc0));
    assert.throws(() => decryptData(ct, () => prepareKey(run(0x41, 32)), 'user/42/email'), {
      name: 'EnvelopeError',
      code: 'WrongKeyId',
    });
  });

  it('refuse a key that is not 32 bytes', () => {
    assert.throws(() => prepareKey(run(0, 31)), { name: 'CryptoInputError', code: 'BadKeyLength' });
  });
});
