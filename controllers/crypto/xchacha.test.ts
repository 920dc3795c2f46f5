import assert from 'node:assert/strict';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hex, run, toHex } from './testdata/fixtures.ts';
import { hchacha20, referenceDecrypt } from './testdata/reference.ts';
import { XCHACHA_A31 } from './testdata/xchacha-vector.ts';

const A31 = XCHACHA_A31;

describe('XChaCha20-Poly1305 primitive', () => {
  it('encrypts the draft-irtf-cfrg-xchacha A.3.1 vector exactly with @noble/ciphers', () => {
    const sealed = xchacha20poly1305(A31.key, A31.nonce, A31.aad).encrypt(A31.plaintext);
    assert.equal(toHex(sealed), toHex(A31.ciphertext) + toHex(A31.tag));
  });

  it('decrypts the A.3.1 vector with @noble/ciphers and rejects it with another AAD', () => {
    const sealed = Buffer.concat([A31.ciphertext, A31.tag]);
    assert.deepEqual(xchacha20poly1305(A31.key, A31.nonce, A31.aad).decrypt(sealed), A31.plaintext);
    assert.throws(() =>
      xchacha20poly1305(A31.key, A31.nonce, hex('50515253c0c1c2c3c4c5c6c8')).decrypt(sealed),
    );
  });

  it('computes the HChaCha20 vector of draft section 2.2.1 with the independent reference', () => {
    const subkey = hchacha20(run(0x00, 32), hex('000000090000004a0000000031415927'));
    assert.equal(toHex(subkey), '82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc');
  });

  it('decrypts the A.3.1 vector with the independent reference (HChaCha20 + node:crypto)', () => {
    const sealed = new Uint8Array(Buffer.concat([A31.ciphertext, A31.tag]));
    assert.deepEqual(referenceDecrypt(A31.key, A31.nonce, A31.aad, sealed), A31.plaintext);
  });
});
