import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as nkeys from '@nats-io/nkeys';
import {
  createKeyPair,
  decodePublicKey,
  fromSeed,
  isPublicKey,
  NKeyError,
  verifySignature,
} from './nkeys.ts';

describe('nats/protocol/nkeys: node:crypto Ed25519 behind the nkey encoding', () => {
  it('derives the same public key as @nats-io/nkeys from the same seed, for every role', () => {
    for (const make of [nkeys.createOperator, nkeys.createAccount, nkeys.createUser]) {
      const theirs = make();
      const seed = new TextDecoder().decode(theirs.getSeed());
      const ours = fromSeed(seed);
      assert.equal(ours.publicKey, theirs.getPublicKey());
      assert.equal(ours.seed, seed);
    }
  });

  it('produces byte-identical signatures to @nats-io/nkeys (tweetnacl)', () => {
    for (let i = 0; i < 8; i++) {
      const ours = createKeyPair(i % 2 ? 'A' : 'U');
      const theirs = nkeys.fromSeed(new TextEncoder().encode(ours.seed));
      const data = randomBytes(1 + i * 37);
      assert.deepEqual(Buffer.from(ours.sign(data)), Buffer.from(theirs.sign(data)));
      assert.ok(theirs.verify(data, ours.sign(data)));
      assert.ok(verifySignature(ours.publicKey, data, ours.sign(data)));
    }
  });

  it('signs far faster than the pure-JS signer (printed, not asserted)', () => {
    const ours = createKeyPair('A');
    const theirs = nkeys.fromSeed(new TextEncoder().encode(ours.seed));
    const data = randomBytes(600);
    const time = (n: number, fn: () => void) => {
      const t = performance.now();
      for (let i = 0; i < n; i++) fn();
      return (performance.now() - t) / n;
    };
    const a = time(200, () => ours.sign(data));
    const b = time(10, () => theirs.sign(data));
    console.log(
      `      per signature: node:crypto ${(a * 1000).toFixed(0)} µs, @nats-io/nkeys ${(b * 1000).toFixed(0)} µs (${(b / a).toFixed(0)}×)`,
    );
  });

  it('rejects a seed of the wrong role, a bad checksum and a public key of another role', () => {
    const acct = createKeyPair('A');
    assert.throws(() => fromSeed(acct.seed, 'U'), NKeyError);
    // NB: change a character inside the key: the last one also carries padding bits that decoding drops.
    const at = 10;
    const broken = acct.seed.slice(0, at) + (acct.seed[at] === 'A' ? 'B' : 'A') + acct.seed.slice(at + 1);
    assert.throws(() => fromSeed(broken), NKeyError);
    assert.throws(() => decodePublicKey(acct.publicKey, 'O'), NKeyError);
    assert.ok(isPublicKey(acct.publicKey, 'A'));
    assert.ok(!isPublicKey(acct.publicKey, 'U'));
    assert.match(createKeyPair('O').publicKey, /^O[A-Z2-7]{55}$/);
    assert.match(createKeyPair('U').seed, /^SU[A-Z2-7]{56}$/);
  });
});
