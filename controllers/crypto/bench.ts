/**
 * Benchmark, not a test: key envelope wrap/unwrap (XChaCha20-Poly1305 from @noble/ciphers, with
 * binding encoding and key-ID checks) against node:crypto AES-256-GCM (OpenSSL) doing the same job:
 * fresh random nonce, the same encoded binding as AAD, same plaintext sizes.
 *
 *   node controllers/crypto/bench.ts [seconds-per-case]   (default 2)
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { encodeBinding, tenantKeyBinding } from './binding.ts';
import { keyringOf, unwrap, wrap, wrappingKeyRef } from './envelope.ts';

const seconds = Number(process.argv[2] ?? '2');
const rand = (n: number): Uint8Array => randomBytes(n);
const rootKey = randomBytes(32);
const ref = wrappingKeyRef(1, rootKey);
const keyring = keyringOf(new Map([[1, rootKey]]));
const binding = tenantKeyBinding({
  tenantUID: '0123456789ab',
  keyName: 'primary',
  keyUID: 'uid',
  version: 1,
});

/** Ops/s of `a` and `b`, measured in alternating rounds; best round of each (robust to a busy host). */
function compare(a: () => void, b: () => void): [number, number] {
  for (let i = 0; i < 500; i++) {
    a();
    b();
  }
  const best = [0, 0];
  const roundMs = (seconds * 1000) / 10;
  for (let round = 0; round < 10; round++) {
    [a, b].forEach((fn, i) => {
      let ops = 0;
      const start = performance.now();
      while (performance.now() - start < roundMs) {
        for (let j = 0; j < 50; j++) fn();
        ops += 50;
      }
      best[i] = Math.max(best[i] ?? 0, ops / ((performance.now() - start) / 1000));
    });
  }
  return [best[0] ?? 0, best[1] ?? 0];
}

function aesWrap(plaintext: Uint8Array): Uint8Array {
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', rootKey, nonce);
  c.setAAD(encodeBinding(binding));
  return Buffer.concat([nonce, c.update(plaintext), c.final(), c.getAuthTag()]);
}

function aesUnwrap(sealed: Uint8Array): Uint8Array {
  const d = createDecipheriv('aes-256-gcm', rootKey, sealed.subarray(0, 12));
  d.setAAD(encodeBinding(binding));
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([d.update(sealed.subarray(12, sealed.length - 16)), d.final()]);
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(10);
console.log(
  `node ${process.version}, ${seconds}s per case per implementation, best of 10 alternating rounds`,
);
console.log('size    op      envelope ops/s   aes-256-gcm ops/s   aes/envelope');
for (const size of [32, 1024, 4096]) {
  const plaintext = randomBytes(size);
  const envelope = wrap(plaintext, rootKey, ref, binding, rand);
  const sealed = aesWrap(plaintext);
  const rows: Array<[string, () => void, () => void]> = [
    ['wrap', () => wrap(plaintext, rootKey, ref, binding, rand), () => aesWrap(plaintext)],
    ['unwrap', () => unwrap(envelope, keyring, binding), () => aesUnwrap(sealed)],
  ];
  for (const [op, ours, theirs] of rows) {
    const [a, b] = compare(ours, theirs);
    console.log(
      `${String(size).padEnd(7)} ${op.padEnd(7)} ${fmt(a)}       ${fmt(b)}         ${(b / a).toFixed(2)}×`,
    );
  }
}
