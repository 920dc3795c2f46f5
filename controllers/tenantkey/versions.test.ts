import assert from 'node:assert/strict';
import {
  groupVersions,
  missingVersions,
  nextVersion,
  policyAhead,
  rewrapTargets,
  rotationDue,
  statusVersions,
  versionStates,
  type FoundSecret,
  type KeyPolicy,
} from './versions.ts';

const secret = (version: number, rootVersion: number, extra: Partial<FoundSecret> = {}): FoundSecret => ({
  name: rootVersion > 1 ? `k-v${version}-r${rootVersion}` : `k-v${version}`,
  tenantUID: '0123456789ab',
  tenantNamespace: 'ns',
  keyName: 'k',
  keyUID: 'uid-1',
  version,
  rootVersion,
  keyId: `id${version}`,
  fingerprint: `fp${version}`,
  created: '2030-01-01T00:00:00.000Z',
  trigger: '',
  ...extra,
});
const policy = (p: Partial<KeyPolicy> = {}): KeyPolicy => ({ retainedVersions: 3, ...p });
const states = (p: Partial<KeyPolicy>, versions: number[]) =>
  Object.fromEntries(versionStates(policy(p), versions));

describe('TenantKey versions (pure)', function () {
  describe('groupVersions', function () {
    it('makes the wrap under the newest root current and the rest superseded', function () {
      const [v1, v2] = groupVersions([secret(2, 1), secret(1, 1), secret(1, 2)]);
      assert.equal(v1?.version, 1);
      assert.equal(v1?.current.rootVersion, 2);
      assert.deepEqual(
        v1?.superseded.map((s) => s.rootVersion),
        [1],
      );
      assert.equal(v2?.version, 2);
      assert.equal(v2?.superseded.length, 0);
    });

    it('ignores Secrets without a version or root version label', function () {
      assert.deepEqual(groupVersions([secret(0, 1), secret(1, 0)]), []);
    });
  });

  describe('versionStates', function () {
    it('makes the highest version Active and keeps retainedVersions older ones DecryptOnly', function () {
      assert.deepEqual(states({ retainedVersions: 2 }, [1, 2, 3, 4]), {
        1: 'Disabled',
        2: 'DecryptOnly',
        3: 'DecryptOnly',
        4: 'Active',
      });
    });

    it('disables versions below minDecryptionVersion but never the active one', function () {
      assert.deepEqual(states({ minDecryptionVersion: 9 }, [1, 2]), { 1: 'Disabled', 2: 'Active' });
    });

    it('destroys only below destroyBelowVersion, and never the active version', function () {
      assert.deepEqual(states({ minDecryptionVersion: 3, destroyBelowVersion: 3 }, [1, 2, 3]), {
        1: 'Destroyed',
        2: 'Destroyed',
        3: 'Active',
      });
      assert.deepEqual(states({ minDecryptionVersion: 5, destroyBelowVersion: 5 }, [1, 2]), {
        1: 'Destroyed',
        2: 'Active',
      });
    });
  });

  describe('rotationDue', function () {
    const now = new Date('2030-01-01T02:00:00Z');
    const [active] = groupVersions([secret(1, 1, { trigger: 'a' })]);

    it('generates the first version when there is none', function () {
      assert.deepEqual(rotationDue(policy(), undefined, now), { due: true, reason: 'Initial' });
    });

    it('does not rotate for the trigger the active version was generated under', function () {
      assert.deepEqual(rotationDue(policy({ rotationTrigger: 'a' }), active, now), { due: false });
    });

    it('does not rotate when the trigger is removed (a key re-created without one adopts its versions)', function () {
      assert.deepEqual(rotationDue(policy({}), active, now), { due: false });
      assert.deepEqual(rotationDue(policy({ rotationTrigger: '' }), active, now), { due: false });
    });

    it('rotates once the trigger differs from the one recorded on the active version', function () {
      assert.deepEqual(rotationDue(policy({ rotationTrigger: 'b' }), active, now), {
        due: true,
        reason: 'Trigger',
      });
    });

    it('rotates when the period has elapsed, and otherwise says when it will', function () {
      const p = policy({ rotationTrigger: 'a', rotationPeriod: '1h' });
      assert.deepEqual(rotationDue(p, active, now), { due: true, reason: 'Period' });
      const later = policy({ rotationTrigger: 'a', rotationPeriod: '3h' });
      assert.deepEqual(rotationDue(later, active, now), {
        due: false,
        nextAt: new Date('2030-01-01T03:00:00Z'),
      });
    });
  });

  it('picks for rewrap the versions wrapped by an older root, except those being destroyed', function () {
    const vs = groupVersions([secret(1, 1), secret(2, 1), secret(3, 2)]);
    const st = versionStates(policy({ minDecryptionVersion: 2, destroyBelowVersion: 2 }), [1, 2, 3]);
    assert.deepEqual(
      rewrapTargets(vs, st, 2).map((v) => v.version),
      [2],
    );
  });

  it('numbers the next version above every version present or ever listed', function () {
    const vs = groupVersions([secret(1, 1)]);
    const listed = [
      {
        version: 4,
        keyId: 'x',
        fingerprint: 'y',
        created: 'z',
        state: 'Destroyed' as const,
        rootKeyVersion: 1,
      },
    ];
    assert.equal(nextVersion(vs, listed), 5);
    assert.equal(nextVersion([], []), 1);
  });

  it('reports listed versions whose Secrets vanished without being destroyed', function () {
    const row = (version: number, state: 'Active' | 'Destroyed') => ({
      version,
      keyId: 'x',
      fingerprint: 'y',
      created: 'z',
      state,
      rootKeyVersion: 1,
    });
    const listed = [row(1, 'Destroyed'), row(2, 'Active'), row(3, 'Active')];
    assert.deepEqual(missingVersions(groupVersions([secret(3, 1)]), listed, policy()), [2]);
    assert.deepEqual(
      missingVersions(groupVersions([secret(3, 1)]), listed, policy({ destroyBelowVersion: 3 })),
      [],
    );
  });

  it('lists present versions with their state and remembers destroyed ones', function () {
    const vs = groupVersions([secret(2, 1), secret(3, 2)]);
    const listed = [
      {
        version: 1,
        keyId: 'id1',
        fingerprint: 'fp1',
        created: 'c',
        state: 'DecryptOnly' as const,
        rootKeyVersion: 1,
      },
    ];
    const p = policy({ minDecryptionVersion: 2, destroyBelowVersion: 2 });
    const out = statusVersions(vs, versionStates(p, [2, 3]), listed, p);
    assert.deepEqual(
      out.map((v) => [v.version, v.state, v.rootKeyVersion]),
      [
        [1, 'Destroyed', 1],
        [2, 'DecryptOnly', 1],
        [3, 'Active', 2],
      ],
    );
  });

  describe('policyAhead', function () {
    it('says nothing while the policy names versions that exist', function () {
      assert.equal(policyAhead(policy(), 3), undefined);
      assert.equal(policyAhead(policy({ minDecryptionVersion: 3, destroyBelowVersion: 3 }), 3), undefined);
    });

    it('warns that rotations disable replaced versions when minDecryptionVersion is ahead, and how to undo it', function () {
      const said = policyAhead(policy({ minDecryptionVersion: 5 }), 3) ?? '';
      assert.match(said, /^spec\.minDecryptionVersion \(5\) is ahead of the current version \(3\)/);
      assert.match(said, /every rotation until version 5 is active disables the version it replaces/);
      assert.match(said, /Set minDecryptionVersion to 3 or less/);
      // What it warns about: after one rotation the replaced version is Disabled at once.
      assert.equal(versionStates(policy({ minDecryptionVersion: 5 }), [3, 4]).get(3), 'Disabled');
    });

    it('warns, first, that rotations destroy replaced versions when destroyBelowVersion is ahead', function () {
      const said = policyAhead(policy({ minDecryptionVersion: 6, destroyBelowVersion: 5 }), 3) ?? '';
      assert.match(said, /^spec\.destroyBelowVersion \(5\) is ahead of the current version \(3\)/);
      assert.match(said, /destroys the version it replaces, with all data still encrypted under it/);
      assert.equal(
        versionStates(policy({ minDecryptionVersion: 6, destroyBelowVersion: 5 }), [3, 4]).get(3),
        'Destroyed',
      );
    });
  });
});
