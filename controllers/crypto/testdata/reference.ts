/**
 * An independent XChaCha20-Poly1305 decryption path for cross-checking known-answer vectors:
 * HChaCha20 written out from draft-irtf-cfrg-xchacha-03 §2.2, then node:crypto's (OpenSSL's)
 * ChaCha20-Poly1305 (RFC 8439) with the derived subkey and nonce 0x00000000 || nonce[16..24]
 * (draft §2.3). Shares no code with @noble/ciphers. Test use only.
 */
import { createDecipheriv } from 'node:crypto';

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];

function quarter(s: Uint32Array, a: number, b: number, c: number, d: number): void {
  const rotl = (v: number, n: number): number => ((v << n) | (v >>> (32 - n))) >>> 0;
  const at = (i: number): number => s[i] ?? 0;
  s[a] = at(a) + at(b);
  s[d] = rotl(at(d) ^ at(a), 16);
  s[c] = at(c) + at(d);
  s[b] = rotl(at(b) ^ at(c), 12);
  s[a] = at(a) + at(b);
  s[d] = rotl(at(d) ^ at(a), 8);
  s[c] = at(c) + at(d);
  s[b] = rotl(at(b) ^ at(c), 7);
}

/** HChaCha20(key, 16-byte nonce) → 32-byte subkey (draft §2.2). */
export function hchacha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  const kv = new DataView(key.buffer, key.byteOffset, 32);
  const nv = new DataView(nonce16.buffer, nonce16.byteOffset, 16);
  const s = new Uint32Array(16);
  SIGMA.forEach((w, i) => (s[i] = w));
  for (let i = 0; i < 8; i++) s[4 + i] = kv.getUint32(4 * i, true);
  for (let i = 0; i < 4; i++) s[12 + i] = nv.getUint32(4 * i, true);
  for (let r = 0; r < 10; r++) {
    quarter(s, 0, 4, 8, 12);
    quarter(s, 1, 5, 9, 13);
    quarter(s, 2, 6, 10, 14);
    quarter(s, 3, 7, 11, 15);
    quarter(s, 0, 5, 10, 15);
    quarter(s, 1, 6, 11, 12);
    quarter(s, 2, 7, 8, 13);
    quarter(s, 3, 4, 9, 14);
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  [0, 1, 2, 3, 12, 13, 14, 15].forEach((w, i) => ov.setUint32(4 * i, s[w] ?? 0, true));
  return out;
}

/** XChaCha20-Poly1305 decryption via HChaCha20 + node:crypto. Throws on a bad tag. */
export function referenceDecrypt(
  key: Uint8Array,
  nonce24: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array {
  const subkey = hchacha20(key, nonce24.subarray(0, 16));
  const nonce12 = new Uint8Array(12);
  nonce12.set(nonce24.subarray(16, 24), 4);
  const ct = sealed.subarray(0, sealed.length - 16);
  const d = createDecipheriv('chacha20-poly1305', subkey, nonce12, { authTagLength: 16 });
  d.setAAD(aad, { plaintextLength: ct.length });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return new Uint8Array(Buffer.concat([d.update(ct), d.final()]));
}
