import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { binding, tenantKeyBinding, type TenantKeyPlace } from './binding.ts';
import { keyringOf, parseEnvelope, unwrap, wrap, wrappingKeyRef } from './envelope.ts';
import { BINDING, KAT_ENVELOPE, KEYRING, PLACE, REF_V1, codeOf } from './testdata/envelope.ts';
import {
  FAKE_DATA_KEY,
  FAKE_ROOT_KEY_V1,
  FAKE_ROOT_KEY_V2,
  countingRandom,
  hex,
  seededRandom,
  toHex,
} from './testdata/fixtures.ts';
import { referenceDecrypt } from './testdata/reference.ts';

function wrapKat(): Uint8Array {
  return wrap(FAKE_DATA_KEY, FAKE_ROOT_KEY_V1, REF_V1, BINDING, countingRandom(0xa0));
}

describe('key envelope', () => {
  describe('known answers', () => {
    it('produces the pinned bytes for a fixed key, binding and randomness', () => {
      assert.equal(toHex(wrapKat()), toHex(KAT_ENVELOPE));
    });

    it('decrypts the pinned envelope with the independent reference using the documented layout', () => {
      const keyIdBytes = createHmac('sha256', FAKE_ROOT_KEY_V1)
        .update('palisade key id v1')
        .digest()
        .subarray(0, 8);
      assert.equal(toHex(KAT_ENVELOPE.subarray(9, 17)), keyIdBytes.toString('hex'));
      // AAD written out by hand from the documented binding encoding.
      const field = (name: string, value: string): string =>
        Buffer.from([name.length]).toString('hex') +
        Buffer.from(name).toString('hex') +
        value.length.toString(16).padStart(4, '0') +
        Buffer.from(value).toString('hex');
      const aad = hex(
        toHex(KAT_ENVELOPE.subarray(0, 17)) +
          '13' +
          Buffer.from('palisade-binding-v1').toString('hex') +
          '0a' +
          Buffer.from('tenant-key').toString('hex') +
          '04' +
          field('keyName', 'primary') +
          field('keyUID', '00000000-0000-4000-8000-000000000001') +
          field('tenantUID', '0123456789ab') +
          field('version', '1'),
      );
      const opened = referenceDecrypt(
        FAKE_ROOT_KEY_V1,
        KAT_ENVELOPE.subarray(17, 41),
        aad,
        KAT_ENVELOPE.subarray(41),
      );
      assert.deepEqual(opened, FAKE_DATA_KEY);
    });

    it('unwraps the pinned envelope to the data key', () => {
      assert.deepEqual(unwrap(KAT_ENVELOPE, KEYRING, BINDING), FAKE_DATA_KEY);
    });

    it('reports the wrapping root key version and ID from the header without decrypting', () => {
      const h = parseEnvelope(KAT_ENVELOPE);
      assert.deepEqual(h.wrappingKey, { version: 1, keyId: 'fbf1fa50e8605ca1' });
      assert.equal(h.formatVersion, 1);
      assert.equal(toHex(h.nonce), toHex(KAT_ENVELOPE.subarray(17, 41)));
      assert.equal(h.ciphertextLength, 48);
    });
  });

  describe('binding', () => {
    const others: Array<[string, TenantKeyPlace]> = [
      ['another tenant UID', { ...PLACE, tenantUID: '0123456789ac' }],
      ['another key name', { ...PLACE, keyName: 'secondary' }],
      ['another key UID', { ...PLACE, keyUID: '00000000-0000-4000-8000-000000000002' }],
      ['another version', { ...PLACE, version: 2 }],
    ];
    for (const [what, place] of others) {
      it(`refuses with AuthenticationFailed when unwrapped for ${what}`, () => {
        assert.equal(
          codeOf(() => unwrap(KAT_ENVELOPE, KEYRING, tenantKeyBinding(place))),
          'AuthenticationFailed',
        );
      });
    }

    it('refuses with AuthenticationFailed under another purpose with the same fields', () => {
      const other = binding('nats-account-seed', BINDING.fields);
      assert.equal(
        codeOf(() => unwrap(KAT_ENVELOPE, KEYRING, other)),
        'AuthenticationFailed',
      );
    });

    it('refuses with AuthenticationFailed when a field is added', () => {
      const other = binding('tenant-key', { ...BINDING.fields, extra: '' });
      assert.equal(
        codeOf(() => unwrap(KAT_ENVELOPE, KEYRING, other)),
        'AuthenticationFailed',
      );
    });
  });

  describe('root keys', () => {
    it('refuses with WrongKeyId when the keyring lacks the named root key version', () => {
      const ring = keyringOf(new Map([[2, FAKE_ROOT_KEY_V2]]));
      assert.equal(
        codeOf(() => unwrap(KAT_ENVELOPE, ring, BINDING)),
        'WrongKeyId',
      );
    });

    it('refuses with WrongKeyId when the keyring holds another key under that version', () => {
      const ring = keyringOf(new Map([[1, FAKE_ROOT_KEY_V2]]));
      assert.equal(
        codeOf(() => unwrap(KAT_ENVELOPE, ring, BINDING)),
        'WrongKeyId',
      );
    });

    it('passes the header key ID to the keyring', () => {
      const asked: unknown[] = [];
      unwrap(KAT_ENVELOPE, (ref) => (asked.push(ref), FAKE_ROOT_KEY_V1), BINDING);
      assert.deepEqual(asked, [{ version: 1, keyId: 'fbf1fa50e8605ca1' }]);
    });

    it('refuses to wrap when the ref names another key', () => {
      const ref = wrappingKeyRef(1, FAKE_ROOT_KEY_V2);
      assert.equal(
        codeOf(() => wrap(FAKE_DATA_KEY, FAKE_ROOT_KEY_V1, ref, BINDING, countingRandom(0))),
        'WrongKeyId',
      );
    });

    it('rewraps under a new root version and both versions unwrap from one keyring', () => {
      const ring = keyringOf(
        new Map([
          [1, FAKE_ROOT_KEY_V1],
          [2, FAKE_ROOT_KEY_V2],
        ]),
      );
      const plain = unwrap(KAT_ENVELOPE, ring, BINDING);
      const v2 = wrap(
        plain,
        FAKE_ROOT_KEY_V2,
        wrappingKeyRef(2, FAKE_ROOT_KEY_V2),
        BINDING,
        countingRandom(9),
      );
      assert.equal(parseEnvelope(v2).wrappingKey.version, 2);
      assert.deepEqual(unwrap(v2, ring, BINDING), FAKE_DATA_KEY);
    });
  });

  describe('inputs', () => {
    const w =
      (p: Uint8Array, k = FAKE_ROOT_KEY_V1, rand = countingRandom(0)) =>
      () =>
        wrap(p, k, wrappingKeyRef(1, FAKE_ROOT_KEY_V1), BINDING, rand);

    it('wraps secrets of 0 and 4096 bytes and refuses 4097 with BadLength', () => {
      for (const n of [0, 4096]) {
        const env = w(new Uint8Array(n).fill(7))();
        assert.equal(env.length, 57 + n);
        assert.deepEqual(unwrap(env, KEYRING, BINDING), new Uint8Array(n).fill(7));
      }
      assert.equal(codeOf(w(new Uint8Array(4097))), 'BadLength');
    });

    it('refuses a root key that is not 32 bytes and a random source that misbehaves', () => {
      assert.equal(codeOf(w(FAKE_DATA_KEY, FAKE_ROOT_KEY_V1.subarray(0, 31))), 'BadKeyLength');
      assert.equal(codeOf(w(FAKE_DATA_KEY, FAKE_ROOT_KEY_V1, () => new Uint8Array(23))), 'BadRandomSource');
      const short = (ref: unknown) => (void ref, FAKE_ROOT_KEY_V1.subarray(0, 16));
      assert.equal(
        codeOf(() => unwrap(KAT_ENVELOPE, short, BINDING)),
        'BadKeyLength',
      );
    });

    it('uses fresh randomness for every wrap', () => {
      const rand = seededRandom(1);
      const a = wrap(FAKE_DATA_KEY, FAKE_ROOT_KEY_V1, REF_V1, BINDING, rand);
      const b = wrap(FAKE_DATA_KEY, FAKE_ROOT_KEY_V1, REF_V1, BINDING, rand);
      assert.notEqual(toHex(a), toHex(b));
    });

    it('never puts key or secret bytes in error messages', () => {
      const messages: string[] = [];
      const ring2 = keyringOf(new Map([[1, FAKE_ROOT_KEY_V2]]));
      for (const fn of [
        () => unwrap(KAT_ENVELOPE, ring2, BINDING),
        () => unwrap(KAT_ENVELOPE, KEYRING, tenantKeyBinding({ ...PLACE, version: 9 })),
        w(FAKE_DATA_KEY, FAKE_ROOT_KEY_V1.subarray(0, 31)),
      ]) {
        assert.throws(fn, (e: Error) => (messages.push(e.message), true));
      }
      for (const m of messages) {
        for (const secret of [FAKE_ROOT_KEY_V1, FAKE_ROOT_KEY_V2, FAKE_DATA_KEY]) {
          assert.ok(!m.includes(toHex(secret).slice(0, 16)), m);
          assert.ok(!m.includes(Buffer.from(secret).toString('base64').slice(0, 12)), m);
        }
      }
    });
  });
});
