import assert from 'node:assert/strict';
import { parseDuration } from './duration.ts';

describe('parseDuration', () => {
  it('reads Go durations, alone or combined', () => {
    assert.equal(parseDuration('720h'), 720 * 3600_000);
    assert.equal(parseDuration('1h30m'), 5400_000);
    assert.equal(parseDuration('59m50s'), 3590_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('250ms'), 250);
  });

  it('rejects anything that is not a Go duration', () => {
    for (const bad of ['', '10', 'h', '1d', '3d', '1h 2m', 'two weeks'])
      assert.throws(() => parseDuration(bad), /invalid duration/);
  });
});
