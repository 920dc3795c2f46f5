import assert from 'node:assert/strict';
import { isTenantUID, newTenantUID } from './tenantuid.ts';
import { countingRandom, seededRandom } from './testdata/fixtures.ts';

describe('tenant UIDs', () => {
  it('are 12 lowercase hex characters from exactly 6 random bytes', () => {
    const asked: number[] = [];
    const uid = newTenantUID((n) => (asked.push(n), countingRandom(0xfa)(n)));
    assert.equal(uid, 'fafbfcfdfeff');
    assert.deepEqual(asked, [6]);
  });

  it('recognise only 12 lowercase hex characters', () => {
    for (const ok of ['000000000000', 'abcdef012345']) assert.ok(isTenantUID(ok), ok);
    for (const bad of [
      '',
      'ABCDEF012345',
      'abcdef01234',
      'abcdef0123456',
      'abcdef01234g',
      ' abcdef01234',
      12,
    ]) {
      assert.ok(!isTenantUID(bad), String(bad));
    }
  });

  it('are distinct and well-formed across 1000 seeded draws', () => {
    const rng = seededRandom(3);
    const uids = new Set(Array.from({ length: 1000 }, () => newTenantUID(rng)));
    assert.equal(uids.size, 1000);
    for (const u of uids) assert.ok(isTenantUID(u));
  });

  it('refuse a random source that returns the wrong number of bytes', () => {
    assert.throws(() => newTenantUID(() => new Uint8Array(8)), { code: 'BadRandomSource' });
  });
});
