import assert from 'node:assert/strict';
import { encryptData } from './data.ts';
import { keyringOf, parseEnvelope, unwrap, wrap, wrappingKeyRef } from './envelope.ts';
import { EnvelopeError } from './errors.ts';
import { tenantKeyBinding, type TenantKeyPlace } from './binding.ts';
import { BINDING, KAT_ENVELOPE, KEYRING, codeOf, sealedRegionCode } from './testdata/envelope.ts';
import { FAKE_DATA_KEY, FAKE_ROOT_KEY_V1, countingRandom, seededRandom, toHex } from './testdata/fixtures.ts';

describe('key envelope under attack', () => {
  describe('tampering', () => {
    it('refuses every single-bit flip, with the code of the region hit', () => {
      for (let bit = 0; bit < KAT_ENVELOPE.length * 8; bit++) {
        const t = Uint8Array.from(KAT_ENVELOPE);
        t[bit >> 3] = (t[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        assert.equal(
          codeOf(() => unwrap(t, KEYRING, BINDING)),
          sealedRegionCode(bit >> 3),
          `bit ${bit}`,
        );
      }
    });

    it('refuses the envelope truncated at every length', () => {
      for (let n = 0; n < KAT_ENVELOPE.length; n++) {
        const want = n < 57 ? 'Truncated' : 'AuthenticationFailed';
        assert.equal(
          codeOf(() => unwrap(KAT_ENVELOPE.subarray(0, n), KEYRING, BINDING)),
          want,
          `length ${n}`,
        );
      }
    });

    it('refuses the envelope with a byte appended, and an over-long envelope with BadLength', () => {
      const longer = Uint8Array.from([...KAT_ENVELOPE, 0]);
      assert.equal(
        codeOf(() => unwrap(longer, KEYRING, BINDING)),
        'AuthenticationFailed',
      );
      const huge = Uint8Array.from([...KAT_ENVELOPE.subarray(0, 41), ...new Uint8Array(4096 + 17)]);
      assert.equal(
        codeOf(() => unwrap(huge, KEYRING, BINDING)),
        'BadLength',
      );
    });

    it('refuses garbage with BadMagic and a data ciphertext with BadMagic', () => {
      const rng = seededRandom(7);
      for (let i = 0; i < 50; i++) {
        const garbage = rng(1 + rng.int(200));
        if (garbage[0] === 0x50) continue;
        assert.equal(
          codeOf(() => unwrap(garbage, KEYRING, BINDING)),
          'BadMagic',
        );
      }
      const data = encryptData(FAKE_DATA_KEY, FAKE_ROOT_KEY_V1, { keyVersion: 1 }, countingRandom(0));
      assert.equal(
        codeOf(() => unwrap(data, KEYRING, BINDING)),
        'BadMagic',
      );
      assert.equal(
        codeOf(() => parseEnvelope(new Uint8Array(0))),
        'Truncated',
      );
    });
  });

  describe('properties (seeded)', () => {
    it('round-trips 200 random secrets, keys, versions and bindings', () => {
      const rng = seededRandom(0x5eed);
      for (let i = 0; i < 200; i++) {
        const root = rng(32);
        const version = 1 + rng.int(0xfffffffe);
        const n = rng.int(4) === 0 ? rng.int(4097) : rng.int(65);
        const secret = rng(n);
        const place: TenantKeyPlace = {
          tenantUID: toHex(rng(6)),
          keyName: `key-${rng.int(1000)}`,
          keyUID: toHex(rng(16)),
          version: 1 + rng.int(1000),
        };
        const b = tenantKeyBinding(place);
        const env = wrap(secret, root, wrappingKeyRef(version, root), b, rng);
        assert.equal(env.length, 57 + n);
        assert.deepEqual(parseEnvelope(env).wrappingKey, wrappingKeyRef(version, root));
        const ring = keyringOf(new Map([[version, root]]));
        assert.deepEqual(unwrap(env, ring, b), secret, `case ${i}`);
        const moved = tenantKeyBinding({ ...place, version: place.version + 1 });
        assert.equal(
          codeOf(() => unwrap(env, ring, moved)),
          'AuthenticationFailed',
          `case ${i}`,
        );
      }
    });

    it('refuses 300 random single-byte corruptions of random envelopes', () => {
      const rng = seededRandom(0xbad);
      for (let i = 0; i < 300; i++) {
        const root = rng(32);
        const ring = keyringOf(new Map([[1, root]]));
        const env = wrap(rng(rng.int(100)), root, wrappingKeyRef(1, root), BINDING, rng);
        const at = rng.int(env.length);
        env[at] = (env[at] ?? 0) ^ (1 + rng.int(255));
        assert.throws(() => unwrap(env, ring, BINDING), EnvelopeError, `case ${i} byte ${at}`);
      }
    });
  });
});
