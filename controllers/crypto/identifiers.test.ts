import assert from 'node:assert/strict';
import { argon2Sync, createHmac, hkdfSync } from 'node:crypto';
import {
  DEFAULT_PASSWORD_PARAMS,
  hashIdentifier,
  hashPassword,
  normalizeEmail,
  passwordNeedsRehash,
  passwordPepperVersion,
  verifyPassword,
  type PasswordParams,
} from './identifiers.ts';
import { FAKE_HASH_SALT, countingRandom, run, seededRandom } from './testdata/fixtures.ts';

const OTHER_SALT = run(0x90, 32);
const WEAK: PasswordParams = { memoryKiB: 64, iterations: 1, parallelism: 1 };
const subkey = (info: string) => Buffer.from(hkdfSync('sha256', FAKE_HASH_SALT, Buffer.alloc(0), info, 32));

describe('identifier hashing', () => {
  it('hashes an e-mail address to the pinned value, equal to HKDF + HMAC computed with node:crypto', () => {
    const expected = 'b399b19813bb46a012898be58e7565c09df27fc1747f20372f13d738ca9809d8';
    assert.equal(hashIdentifier(FAKE_HASH_SALT, 'Alice@Example.COM', 'email'), expected);
    const key = subkey('palisade identifier hash v1');
    assert.equal(createHmac('sha256', key).update('email\0alice@example.com').digest('hex'), expected);
  });

  it('is deterministic and differs across installation salts and kinds', () => {
    const a = hashIdentifier(FAKE_HASH_SALT, 'session-1', 'opaque');
    assert.equal(hashIdentifier(FAKE_HASH_SALT, 'session-1', 'opaque'), a);
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.notEqual(hashIdentifier(OTHER_SALT, 'session-1', 'opaque'), a);
    assert.notEqual(
      hashIdentifier(FAKE_HASH_SALT, 'a@b.example', 'opaque'),
      hashIdentifier(FAKE_HASH_SALT, 'a@b.example', 'email'),
    );
  });

  it('gives one identifier unrelated values in two scopes (tenants), with the scope in the HKDF info', () => {
    const a = hashIdentifier(FAKE_HASH_SALT, 'Alice@Example.COM', 'email', '0123456789ab');
    const b = hashIdentifier(FAKE_HASH_SALT, 'alice@example.com', 'email', 'ba9876543210');
    assert.equal(hashIdentifier(FAKE_HASH_SALT, 'alice@example.com', 'email', '0123456789ab'), a);
    assert.notEqual(a, b);
    assert.notEqual(a, hashIdentifier(FAKE_HASH_SALT, 'alice@example.com', 'email'));
    const key = subkey('palisade identifier hash v1 scope 0123456789ab');
    assert.equal(createHmac('sha256', key).update('email\0alice@example.com').digest('hex'), a);
    assert.throws(() => hashIdentifier(FAKE_HASH_SALT, 'a@b.c', 'email', ''), { code: 'BadInput' });
    assert.throws(() => hashIdentifier(FAKE_HASH_SALT, 'a@b.c', 'email', 'a b'), { code: 'BadInput' });
  });

  it('hashes opaque identifiers exactly as given, without case folding', () => {
    assert.notEqual(
      hashIdentifier(FAKE_HASH_SALT, 'ID-1', 'opaque'),
      hashIdentifier(FAKE_HASH_SALT, 'id-1', 'opaque'),
    );
  });

  it('hashes e-mail addresses that differ only in case, NFC form and outer whitespace the same', () => {
    const h = hashIdentifier(FAKE_HASH_SALT, 'josé@example.com', 'email');
    for (const same of ['JOSÉ@EXAMPLE.COM', ' Jose\u0301@Example.com\n', 'jos\u00c9@example.COM']) {
      assert.equal(hashIdentifier(FAKE_HASH_SALT, same, 'email'), h, JSON.stringify(same));
    }
  });

  it('normalises e-mail addresses exactly as documented and no further', () => {
    const cases: Array<[string, string]> = [
      ['  Alice@Example.COM ', 'alice@example.com'],
      ['A.Lice+Tag@GMail.com', 'a.lice+tag@gmail.com'],
      ['"Quoted@Local"@example.com', '"quoted@local"@example.com'],
      ['user@xn--bcher-kva.example', 'user@xn--bcher-kva.example'],
      ['user@BÜCHER.example', 'user@bücher.example'],
      ['user@example.com.', 'user@example.com.'],
    ];
    for (const [input, expected] of cases) assert.equal(normalizeEmail(input), expected);
  });

  it('refuses strings that are not e-mail addresses, and empty opaque identifiers, with BadInput', () => {
    for (const bad of [
      '',
      'alice',
      '@example.com',
      'alice@',
      'al ice@example.com',
      'a\u0000@b',
      '\ud800@b',
      `${'a'.repeat(320)}@b`,
    ]) {
      assert.throws(() => hashIdentifier(FAKE_HASH_SALT, bad, 'email'), {
        name: 'CryptoInputError',
        code: 'BadInput',
      });
    }
    assert.throws(() => hashIdentifier(FAKE_HASH_SALT, '', 'opaque'), { code: 'BadInput' });
  });

  it('refuses an installation salt shorter than 16 bytes with BadSalt', () => {
    assert.throws(() => hashIdentifier(new Uint8Array(15), 'x', 'opaque'), { code: 'BadSalt' });
  });
});

describe('password hashing', () => {
  it('produces the pinned PHC string, equal to node:crypto Argon2id with the HKDF pepper as secret', async () => {
    const encoded = await hashPassword(FAKE_HASH_SALT, 'hunter2', countingRandom(0x10), WEAK);
    assert.equal(
      encoded,
      '$argon2id$v=19$m=64,t=1,p=1$EBESExQVFhcYGRobHB0eHw$pAgcMg2Wtt0y27fPF8g007bEUAB8g1kiiqb8IzQReM0',
    );
    const hash = argon2Sync('argon2id', {
      message: 'hunter2',
      nonce: run(0x10, 16),
      memory: 64,
      passes: 1,
      parallelism: 1,
      tagLength: 32,
      secret: subkey('palisade password pepper v1'),
    });
    assert.equal(encoded.split('$').at(-1), hash.toString('base64').replace(/=+$/, ''));
  });

  it('verifies the right password and rejects a wrong one', async () => {
    const encoded = await hashPassword(FAKE_HASH_SALT, 'correct horse', seededRandom(1), WEAK);
    assert.equal(await verifyPassword(FAKE_HASH_SALT, 'correct horse', encoded), true);
    assert.equal(await verifyPassword(FAKE_HASH_SALT, 'correct horsE', encoded), false);
    assert.equal(await verifyPassword(FAKE_HASH_SALT, '', encoded), false);
    assert.equal(await verifyPassword(FAKE_HASH_SALT, 'x'.repeat(5000), encoded), false);
  });

  it('rejects the right password under another installation salt (the pepper)', async () => {
    const encoded = await hashPassword(FAKE_HASH_SALT, 'correct horse', seededRandom(1), WEAK);
    assert.equal(await verifyPassword(OTHER_SALT, 'correct horse', encoded), false);
  });

  it('salts every password hash randomly, so equal passwords hash differently', async () => {
    const rand = seededRandom(2);
    const a = await hashPassword(FAKE_HASH_SALT, 'same', rand, WEAK);
    const b = await hashPassword(FAKE_HASH_SALT, 'same', rand, WEAK);
    assert.notEqual(a, b);
    assert.ok(await verifyPassword(FAKE_HASH_SALT, 'same', b));
  });

  it('normalises passwords to NFC', async () => {
    const encoded = await hashPassword(FAKE_HASH_SALT, 'caf\u00e9', seededRandom(3), WEAK);
    assert.equal(await verifyPassword(FAKE_HASH_SALT, 'cafe\u0301', encoded), true);
  });

  it('refuses malformed, foreign and out-of-bounds hash strings with precise codes', async () => {
    const good =
      '$argon2id$v=19$m=64,t=1,p=1$EBESExQVFhcYGRobHB0eHw$pAgcMg2Wtt0y27fPF8g007bEUAB8g1kiiqb8IzQReM0';
    const cases: Array<[string, string]> = [
      ['', 'Malformed'],
      ['hunter2', 'Malformed'],
      [good.replace('$EBES', '$EBE='), 'Malformed'],
      [good.replace('m=64', 'm=064'), 'Malformed'],
      [good.slice(0, -1) + '1', 'Malformed'], // non-canonical final base64 character
      ['$2b$12$abcdefghijklmnopqrstuv', 'UnsupportedAlgorithm'],
      [good.replace('argon2id', 'argon2i'), 'UnsupportedAlgorithm'],
      [good.replace('v=19', 'v=16'), 'UnsupportedAlgorithm'],
      [good.replace('m=64', 'm=4194304'), 'BadParameters'],
      [good.replace('t=1', 't=99'), 'BadParameters'],
    ];
    for (const [encoded, code] of cases) {
      await assert.rejects(
        verifyPassword(FAKE_HASH_SALT, 'hunter2', encoded),
        { name: 'PasswordHashError', code },
        encoded,
      );
    }
    assert.equal(await verifyPassword(FAKE_HASH_SALT, 'hunter2', good), true);
  });

  it('tells when a hash was made with other parameters than the current ones', async () => {
    const encoded = await hashPassword(FAKE_HASH_SALT, 'pw', seededRandom(4), WEAK);
    assert.equal(passwordNeedsRehash(encoded, WEAK), false);
    assert.equal(passwordNeedsRehash(encoded), true);
    assert.deepEqual(DEFAULT_PASSWORD_PARAMS, { memoryKiB: 19456, iterations: 2, parallelism: 1 });
  });

  it("names the pepper version in the hash, verifies only with that version's salt, and asks for a rehash when it is not current", async () => {
    const encoded = await hashPassword(OTHER_SALT, 'pw', seededRandom(6), WEAK, 2);
    assert.match(encoded, /^\$argon2id\$v=19\$m=64,t=1,p=1,pv=2\$/);
    assert.equal(passwordPepperVersion(encoded), 2);
    assert.equal(await verifyPassword(OTHER_SALT, 'pw', encoded), true);
    assert.equal(await verifyPassword(FAKE_HASH_SALT, 'pw', encoded), false);
    assert.equal(passwordNeedsRehash(encoded, WEAK, 2), false);
    assert.equal(passwordNeedsRehash(encoded, WEAK, 3), true);
    const unversioned = await hashPassword(FAKE_HASH_SALT, 'pw', seededRandom(7), WEAK);
    assert.equal(passwordPepperVersion(unversioned), 1);
    assert.equal(passwordNeedsRehash(unversioned, WEAK, 1), false);
    assert.equal(passwordNeedsRehash(unversioned, WEAK, 2), true);
    assert.throws(() => passwordPepperVersion(encoded.replace('pv=2', 'pv=02')), { code: 'Malformed' });
    assert.throws(() => passwordPepperVersion(encoded.replace('pv=2', 'pv=0')), { code: 'Malformed' });
    await assert.rejects(hashPassword(OTHER_SALT, 'pw', seededRandom(6), WEAK, 0), { code: 'BadParameters' });
  });

  it('refuses an empty password and bad parameters when hashing', async () => {
    await assert.rejects(hashPassword(FAKE_HASH_SALT, '', seededRandom(5), WEAK), { code: 'BadInput' });
    await assert.rejects(hashPassword(FAKE_HASH_SALT, 'pw', seededRandom(5), { ...WEAK, memoryKiB: 4 }), {
      code: 'BadParameters',
    });
  });
});
