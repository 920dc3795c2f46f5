import assert from 'node:assert/strict';
import { JWT_OVERLAP_MS, MAX_ACCESS_TOKEN_SECONDS, signingSchedule } from './jwtschedule.ts';
import { indexedVersions } from './saltring.ts';

const H = 3600_000;
const key = (version: number, activateAt = 0) => ({ version, kid: `k${version}`, activateAt });
const kids = (ks: readonly { kid: string }[]) => ks.map((k) => k.kid);

describe('JWT signing key schedule', () => {
  it('signs with the only key and publishes nothing else', () => {
    const s = signingSchedule([key(1)], 10 * H);
    assert.equal(s.current?.kid, 'k1');
    assert.deepEqual([kids(s.next), kids(s.previous), s.changesAt], [[], [], undefined]);
  });

  it('publishes a rotated key as next until it activates, then keeps the old one as previous for the overlap', () => {
    const keys = [key(1), key(2, 10 * H)];
    const before = signingSchedule(keys, 9 * H);
    assert.equal(before.current?.kid, 'k1');
    assert.deepEqual(kids(before.next), ['k2']);
    assert.equal(before.changesAt, 10 * H);
    const after = signingSchedule(keys, 10 * H);
    assert.equal(after.current?.kid, 'k2');
    assert.deepEqual(kids(after.previous), ['k1']);
    assert.equal(after.changesAt, 10 * H + JWT_OVERLAP_MS);
    const later = signingSchedule(keys, 10 * H + JWT_OVERLAP_MS);
    assert.deepEqual(kids(later.previous), []);
  });

  it('keeps a superseded key published at least as long as the longest token lifetime', () => {
    assert.ok(JWT_OVERLAP_MS >= MAX_ACCESS_TOKEN_SECONDS * 1000);
  });

  it('lists several previous keys newest first while each is inside its overlap', () => {
    const s = signingSchedule([key(1), key(2, H), key(3, 2 * H)], 2 * H + 1);
    assert.equal(s.current?.kid, 'k3');
    assert.deepEqual(kids(s.previous), ['k2', 'k1']);
  });
});

describe('hash salt versions indexed', () => {
  const salt = (version: number, previousUntil = 0) => ({ version, salt: new Uint8Array(32), previousUntil });

  it('indexes the active version and the one below it until the rotation’s overlap ends', () => {
    const versions = [salt(1), salt(2, 10 * H)];
    assert.deepEqual(
      indexedVersions(versions, 9 * H).map((v) => v.version),
      [2, 1],
    );
    assert.deepEqual(
      indexedVersions(versions, 10 * H).map((v) => v.version),
      [2],
    );
    assert.deepEqual(
      indexedVersions([salt(1)], 0).map((v) => v.version),
      [1],
    );
  });
});
