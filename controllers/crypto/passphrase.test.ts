import assert from 'node:assert/strict';
import { argon2Sync } from 'node:crypto';
import { EnvelopeError } from './errors.ts';
import {
  DEFAULT_PASSPHRASE_PARAMS,
  openWithPassphrase,
  parsePassphraseBlob,
  sealWithPassphrase,
  type PassphraseParams,
} from './passphrase.ts';
import { countingRandom, hex, seededRandom, toHex } from './testdata/fixtures.ts';
import { referenceDecrypt } from './testdata/reference.ts';

const WEAK: PassphraseParams = { memoryKiB: 64, iterations: 1, parallelism: 1 };
const PASS = 'correct horse battery staple';
const PLAIN = new TextEncoder().encode('backup');

// Computed once by sealWithPassphrase() with countingRandom(0xe0) and WEAK, verified below.
const KAT = hex(`
  50414c42 01 01 00000040 01 01
  e0e1e2e3e4e5e6e7e8e9eaebecedeeef
  f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff0001020304050607
  b8d58f63c303eb9c06d936d4f262b1e4a660c88823cf`);

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof EnvelopeError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('passphrase sealing', () => {
  it('produces the pinned bytes for fixed randomness and parameters', async () => {
    assert.equal(toHex(await sealWithPassphrase(PLAIN, PASS, countingRandom(0xe0), WEAK)), toHex(KAT));
  });

  it('opens the pinned blob with node:crypto Argon2id and the independent XChaCha20-Poly1305 reference', () => {
    const key = argon2Sync('argon2id', {
      message: PASS,
      nonce: KAT.subarray(12, 28),
      memory: 64,
      passes: 1,
      parallelism: 1,
      tagLength: 32,
      associatedData: Buffer.from('palisade backup v1'),
    });
    const opened = referenceDecrypt(
      new Uint8Array(key),
      KAT.subarray(28, 52),
      KAT.subarray(0, 52),
      KAT.subarray(52),
    );
    assert.deepEqual(opened, PLAIN);
  });

  it('round-trips with the right passphrase and refuses a wrong one with AuthenticationFailed', async () => {
    assert.deepEqual(await openWithPassphrase(KAT, PASS), PLAIN);
    assert.equal(
      await codeOf(openWithPassphrase(KAT, 'correct horse battery stapler')),
      'AuthenticationFailed',
    );
  });

  it('records the parameters in the header and derives with them', async () => {
    const params = { memoryKiB: 256, iterations: 2, parallelism: 2 };
    const blob = await sealWithPassphrase(PLAIN, PASS, seededRandom(1), params);
    const h = parsePassphraseBlob(blob);
    assert.deepEqual(h.params, params);
    assert.equal(h.kdf, 'argon2id');
    const key = argon2Sync('argon2id', {
      message: PASS,
      nonce: h.salt,
      memory: 256,
      passes: 2,
      parallelism: 2,
      tagLength: 32,
      associatedData: Buffer.from('palisade backup v1'),
    });
    assert.deepEqual(
      referenceDecrypt(new Uint8Array(key), h.nonce, blob.subarray(0, 52), blob.subarray(52)),
      PLAIN,
    );
    assert.deepEqual(await openWithPassphrase(blob, PASS), PLAIN);
  });

  it('refuses a blob whose parameters were edited with AuthenticationFailed', async () => {
    const edited = Uint8Array.from(KAT);
    edited[10] = 2; // iterations 1 → 2
    assert.deepEqual(parsePassphraseBlob(edited).params, { ...WEAK, iterations: 2 });
    assert.equal(await codeOf(openWithPassphrase(edited, PASS)), 'AuthenticationFailed');
  });

  it('refuses out-of-bounds parameters with BadParameters before deriving anything', async () => {
    const huge = Uint8Array.from(KAT);
    huge.set([0x40, 0, 0, 0], 6); // 1 TiB
    const start = performance.now();
    assert.equal(await codeOf(openWithPassphrase(huge, PASS)), 'BadParameters');
    assert.ok(performance.now() - start < 100);
    for (const p of [
      { ...WEAK, memoryKiB: 7 },
      { ...WEAK, iterations: 0 },
      { ...WEAK, iterations: 17 },
      { ...WEAK, parallelism: 0 },
      { memoryKiB: 64, iterations: 1, parallelism: 9 },
    ]) {
      assert.equal(
        await codeOf(sealWithPassphrase(PLAIN, PASS, seededRandom(1), p)),
        'BadParameters',
        JSON.stringify(p),
      );
    }
  });

  it('refuses malformed blobs with precise codes', async () => {
    assert.equal(await codeOf(openWithPassphrase(new Uint8Array(0), PASS)), 'Truncated');
    assert.equal(await codeOf(openWithPassphrase(hex('50414c4b01'), PASS)), 'BadMagic');
    const v2 = Uint8Array.from(KAT);
    v2[4] = 2;
    assert.equal(await codeOf(openWithPassphrase(v2, PASS)), 'UnsupportedVersion');
    const kdf = Uint8Array.from(KAT);
    kdf[5] = 2;
    assert.equal(await codeOf(openWithPassphrase(kdf, PASS)), 'UnsupportedVersion');
    for (let n = 0; n < 68; n++) {
      assert.equal(await codeOf(openWithPassphrase(KAT.subarray(0, n), PASS)), 'Truncated', `length ${n}`);
    }
    for (let n = 68; n < KAT.length; n++) {
      assert.equal(
        await codeOf(openWithPassphrase(KAT.subarray(0, n), PASS)),
        'AuthenticationFailed',
        `length ${n}`,
      );
    }
  });

  it('refuses every single-bit flip across header, salt, nonce, ciphertext and tag', async function () {
    // NB: the 8 flips that raise memory past 4 MiB (up to 512 MiB) fail the same way but take
    // seconds each; the edited-parameters test above covers that path cheaply.
    this.timeout(20000);
    let tried = 0;
    for (let bit = 0; bit < KAT.length * 8; bit++) {
      const t = Uint8Array.from(KAT);
      t[bit >> 3] = (t[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      const memoryKiB = new DataView(t.buffer).getUint32(6);
      if (memoryKiB > 4096 && memoryKiB <= 1 << 20) continue;
      tried++;
      await assert.rejects(openWithPassphrase(t, PASS), EnvelopeError, `bit ${bit}`);
    }
    assert.equal(tried, KAT.length * 8 - 8);
  });

  it('normalises the passphrase to NFC and refuses an empty one', async () => {
    const blob = await sealWithPassphrase(PLAIN, 'caf\u00e9', seededRandom(2), WEAK);
    assert.deepEqual(await openWithPassphrase(blob, 'cafe\u0301'), PLAIN);
    await assert.rejects(sealWithPassphrase(PLAIN, '', seededRandom(2), WEAK), { code: 'BadInput' });
  });

  it('defaults to Argon2id with 64 MiB, 3 passes and 1 lane', async function () {
    this.timeout(30000);
    assert.deepEqual(DEFAULT_PASSPHRASE_PARAMS, { memoryKiB: 65536, iterations: 3, parallelism: 1 });
    const blob = await sealWithPassphrase(PLAIN, PASS, seededRandom(3));
    assert.deepEqual(parsePassphraseBlob(blob).params, DEFAULT_PASSPHRASE_PARAMS);
  });
});
