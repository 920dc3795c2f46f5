import assert from 'node:assert/strict';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hex, run, seededRandom, toHex } from './testdata/fixtures.ts';
import { XCHACHA_A31 } from './testdata/xchacha-vector.ts';
import { xchachaOpen, xchachaSeal, xchachaSealInto } from './xchacha.ts';

const A31 = {
  ...XCHACHA_A31,
  sealed: Uint8Array.from([...XCHACHA_A31.ciphertext, ...XCHACHA_A31.tag]),
};

/** `bytes` copied to an odd offset of a larger buffer: no caller alignment may be assumed. */
function unaligned(bytes: Uint8Array): Uint8Array {
  const b = new Uint8Array(bytes.length + 3);
  b.set(bytes, 3);
  return b.subarray(3);
}

describe('XChaCha20-Poly1305 through OpenSSL (xchacha.ts)', () => {
  it('encrypts and decrypts the draft-irtf-cfrg-xchacha A.3.1 vector exactly', () => {
    assert.equal(toHex(xchachaSeal(A31.key, A31.nonce, A31.aad, A31.plaintext)), toHex(A31.sealed));
    assert.deepEqual(xchachaOpen(A31.key, A31.nonce, A31.aad, A31.sealed), A31.plaintext);
  });

  it('gives the bytes of @noble/ciphers for random keys, nonces, AAD and lengths 0..1100, both ways', () => {
    const r = seededRandom(11);
    for (let i = 0; i < 120; i++) {
      const key = r(32);
      const nonce = r(24);
      const aad = r(r.int(80));
      const plaintext = r(i < 70 ? i : r.int(1100));
      const ours = xchachaSeal(unaligned(key), unaligned(nonce), unaligned(aad), unaligned(plaintext));
      const noble = xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
      assert.equal(toHex(ours), toHex(noble), `case ${i}`);
      assert.equal(toHex(xchachaOpen(key, nonce, aad, unaligned(noble))), toHex(plaintext));
      assert.equal(toHex(xchacha20poly1305(key, nonce, aad).decrypt(ours)), toHex(plaintext));
    }
  });

  it('writes in place after a header, leaving the header alone', () => {
    const out = new Uint8Array(7 + A31.plaintext.length + 16).fill(0xee);
    xchachaSealInto(A31.key, A31.nonce, A31.aad, A31.plaintext, out, 7);
    assert.equal(toHex(out.subarray(0, 7)), 'ee'.repeat(7));
    assert.equal(toHex(out.subarray(7)), toHex(A31.sealed));
  });

  it('refuses any changed bit of ciphertext or tag, another AAD, key or nonce', () => {
    for (const at of [0, 57, A31.sealed.length - 17, A31.sealed.length - 16, A31.sealed.length - 1]) {
      const changed = Uint8Array.from(A31.sealed);
      changed[at] = (changed[at] ?? 0) ^ 0x01;
      assert.throws(() => xchachaOpen(A31.key, A31.nonce, A31.aad, changed), `bit flipped at ${at}`);
    }
    assert.throws(() => xchachaOpen(A31.key, A31.nonce, hex('50515253c0c1c2c3c4c5c6c8'), A31.sealed));
    assert.throws(() => xchachaOpen(run(0x81, 32), A31.nonce, A31.aad, A31.sealed));
    assert.throws(() => xchachaOpen(A31.key, run(0x41, 24), A31.aad, A31.sealed));
    assert.throws(() => xchachaOpen(A31.key, A31.nonce, A31.aad, A31.sealed.subarray(0, 15)));
  });

  it('returns a plaintext that is its own buffer, not a view into shared memory', () => {
    const plaintext = xchachaOpen(A31.key, A31.nonce, A31.aad, A31.sealed);
    assert.equal(plaintext.byteOffset, 0);
    assert.equal(plaintext.buffer.byteLength, A31.plaintext.length);
    assert.equal(Object.getPrototypeOf(plaintext), Uint8Array.prototype);
  });

  it('refuses a key that is not 32 bytes or a nonce that is not 24', () => {
    assert.throws(() => xchachaSeal(run(0, 31), A31.nonce, A31.aad, A31.plaintext), /32-byte key/);
    assert.throws(() => xchachaSeal(A31.key, run(0, 12), A31.aad, A31.plaintext), /24-byte nonce/);
  });
});
