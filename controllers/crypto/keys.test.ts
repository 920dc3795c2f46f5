import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { fingerprint, generateDataKey, isKeyId, keyId } from './keys.ts';
import { CryptoInputError } from './errors.ts';
import {
  FAKE_DATA_KEY,
  FAKE_ROOT_KEY_V1,
  FAKE_ROOT_KEY_V2,
  countingRandom,
  seededRandom,
  toHex,
} from './testdata/fixtures.ts';

describe('keys', () => {
  it('generates a 32-byte key from the random source, copied out of its buffer', () => {
    const buffer = new Uint8Array(32).fill(9);
    const key = generateDataKey(() => buffer);
    assert.deepEqual(key, buffer);
    buffer.fill(0);
    assert.equal(key[0], 9);
    assert.equal(toHex(generateDataKey(countingRandom(0))), toHex(FAKE_ROOT_KEY_V1));
  });

  it('refuses a random source that returns the wrong number of bytes', () => {
    assert.throws(() => generateDataKey(() => new Uint8Array(31)), {
      name: 'CryptoInputError',
      code: 'BadRandomSource',
    });
  });

  it('derives the pinned key ID, equal to truncated HMAC-SHA-256 computed with node:crypto', () => {
    assert.equal(keyId(FAKE_ROOT_KEY_V1), 'fbf1fa50e8605ca1');
    const mac = createHmac('sha256', FAKE_ROOT_KEY_V1).update('palisade key id v1').digest('hex');
    assert.equal(keyId(FAKE_ROOT_KEY_V1), mac.slice(0, 16));
    assert.ok(isKeyId(keyId(FAKE_DATA_KEY)));
  });

  it('derives the pinned fingerprint, equal to domain-separated SHA-256 computed with node:crypto', () => {
    const expected = 'sha256:7d5e41f1420b3bde36d4769f82ede9b2fd28f0e2f46c089be35652763216ad1d';
    assert.equal(fingerprint(FAKE_ROOT_KEY_V1), expected);
    const h = createHash('sha256')
      .update('palisade key fingerprint v1\0')
      .update(FAKE_ROOT_KEY_V1)
      .digest('hex');
    assert.equal(fingerprint(FAKE_ROOT_KEY_V1), `sha256:${h}`);
  });

  it('gives the key ID and fingerprint no relation to a plain hash of the key', () => {
    const plain = createHash('sha256').update(FAKE_ROOT_KEY_V1).digest('hex');
    assert.notEqual(fingerprint(FAKE_ROOT_KEY_V1), `sha256:${plain}`);
    assert.ok(!fingerprint(FAKE_ROOT_KEY_V1).includes(keyId(FAKE_ROOT_KEY_V1)));
    assert.ok(!plain.startsWith(keyId(FAKE_ROOT_KEY_V1)));
  });

  it('gives 500 random keys distinct IDs and fingerprints', () => {
    const rng = seededRandom(42);
    const ids = new Set<string>();
    const fps = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const k = generateDataKey(rng);
      ids.add(keyId(k));
      fps.add(fingerprint(k));
    }
    assert.equal(ids.size, 500);
    assert.equal(fps.size, 500);
    assert.notEqual(keyId(FAKE_ROOT_KEY_V1), keyId(FAKE_ROOT_KEY_V2));
  });

  it('refuses to name keys that are not 32 bytes', () => {
    for (const n of [0, 16, 31, 33, 64]) {
      assert.throws(() => keyId(new Uint8Array(n)), CryptoInputError);
      assert.throws(() => fingerprint(new Uint8Array(n)), { code: 'BadKeyLength' });
    }
  });
});
