import assert from 'node:assert/strict';
import { randomPool, takeRandom } from './bytes.ts';
import { countingRandom, run, toHex } from './testdata/fixtures.ts';

describe('randomPool', () => {
  it('hands out consecutive slices of the source, drawn a block at a time', () => {
    let calls = 0;
    const source = countingRandom(0);
    const pool = randomPool((n) => {
      calls++;
      return source(n);
    }, 64);
    const first = [pool(10), pool(6), pool(16), pool(16), pool(8)];
    assert.equal(toHex(Buffer.concat(first)), toHex(run(0, 56)));
    assert.equal(calls, 1);
    assert.equal(toHex(pool(16)), toHex(run(64, 16)), 'a draw that does not fit takes a new block');
    assert.equal(calls, 2);
  });

  it('hands out copies that share nothing with the block or each other', () => {
    const block = new Uint8Array(64).fill(7);
    const pool = randomPool(() => block, 64);
    const a = pool(8);
    const b = pool(8);
    assert.notEqual(a.buffer, b.buffer);
    a.fill(1);
    assert.deepEqual(b, new Uint8Array(8).fill(7));
    assert.equal(a.byteOffset, 0);
    assert.equal(a.buffer.byteLength, 8);
  });

  it('sends draws over a quarter of a block straight to the source, and refuses a bad source', () => {
    const sizes: number[] = [];
    const pool = randomPool((n) => {
      sizes.push(n);
      return new Uint8Array(n);
    }, 64);
    pool(17);
    assert.deepEqual(sizes, [17]);
    assert.throws(() => randomPool(() => new Uint8Array(3), 64)(8), { code: 'BadRandomSource' });
    assert.throws(() => takeRandom(() => new Uint8Array(3), 8), { code: 'BadRandomSource' });
  });
});
