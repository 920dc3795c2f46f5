import assert from 'node:assert/strict';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hex, run, toHex } from './testdata/fixtures.ts';
import { hchacha20, referenceDecrypt } from './testdata/reference.ts';

// draft-irtf-cfrg-xchacha-03, Appendix A.3.1.
const A31 = {
  plaintext: new TextEncoder().encode(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  ),
  aad: hex('50515253c0c1c2c3c4c5c6c7'),
  key: run(0x80, 32),
  nonce: run(0x40, 24),
  ciphertext: hex(`
    bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb
    731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452
    2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9
    21f9664c97637da9768812f615c68b13b52e`),
  tag: hex('c0875924c1c7987947deafd8780acf49'),
};

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
