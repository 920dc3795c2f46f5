import assert from 'node:assert/strict';
import {
  DamagedRecordError,
  newRecord,
  parseRecord,
  RECORD_KEY,
  recordConfigMap,
  recordWith,
  serializeRecord,
  type InstallationRecord,
} from './record.ts';

const fixed = (n: number) => new Uint8Array(n).fill(7);
const base: InstallationRecord = {
  ...newRecord(fixed, new Date('2025-01-01T00:00:00Z')),
  rootKeys: [{ version: 1, keyId: 'aaaaaaaaaaaaaaaa', fingerprint: 'sha256:a' }],
  jwtSigningKeys: [{ version: 1, keyId: 'kid-1' }],
  hashSalt: { fingerprint: 'sha256:s' },
};

describe('installation record', () => {
  it('draws a 128-bit installation ID from the injected randomness', () => {
    assert.equal(newRecord(fixed, new Date(0)).installationID, '07'.repeat(16));
  });

  it('round-trips through its ConfigMap', () => {
    const cm = recordConfigMap('palisade-system', base);
    assert.equal(cm.metadata.name, 'palisade-installation');
    assert.equal(cm.metadata.labels?.['palisade.dev/component'], 'installation-record');
    assert.deepEqual(parseRecord(cm.data?.[RECORD_KEY]), base);
  });

  it('records rotated hash salt versions and round-trips them', () => {
    const next = recordWith(base, {
      rootKeys: [],
      jwtSigningKeys: [],
      hashSalts: [{ version: 2, keyId: 'sha256:s2' }],
    });
    assert.deepEqual(next.hashSalts, [{ version: 2, keyId: 'sha256:s2' }]);
    assert.deepEqual(next.hashSalt, base.hashSalt);
    assert.deepEqual(parseRecord(recordConfigMap('ns', next).data?.[RECORD_KEY]), next);
    const again = recordWith(next, {
      rootKeys: [],
      jwtSigningKeys: [],
      hashSalts: [{ version: 2, keyId: 'x' }],
    });
    assert.deepEqual(
      again.hashSalts,
      [{ version: 2, keyId: 'sha256:s2' }],
      'a recorded version keeps its fingerprint',
    );
  });

  it('holds public key names only', () => {
    assert.doesNotMatch(serializeRecord(base), /"key"|"salt"|private/);
  });

  it('adds versions that appeared, in order, and never changes a recorded one', () => {
    const next = recordWith(base, {
      rootKeys: [
        { version: 2, keyId: 'bbbbbbbbbbbbbbbb', fingerprint: 'sha256:b' },
        { version: 1, keyId: 'cccccccccccccccc', fingerprint: 'sha256:c' },
      ],
      jwtSigningKeys: [],
      hashSalt: { fingerprint: 'sha256:other' },
    });
    assert.deepEqual(
      next.rootKeys.map((k) => [k.version, k.keyId]),
      [
        [1, 'aaaaaaaaaaaaaaaa'],
        [2, 'bbbbbbbbbbbbbbbb'],
      ],
    );
    assert.deepEqual(next.jwtSigningKeys, base.jwtSigningKeys, 'a missing key stays recorded');
    assert.deepEqual(next.hashSalt, base.hashSalt);
  });

  it('does not record a key whose bytes could not be read', () => {
    const next = recordWith(base, { rootKeys: [{ version: 2, keyId: '' }], jwtSigningKeys: [] });
    assert.deepEqual(
      next.rootKeys.map((k) => k.version),
      [1],
    );
  });

  const damaged: [string, string | undefined][] = [
    ['an absent entry', undefined],
    ['text that is not JSON', '{'],
    ['a document of another format', JSON.stringify({ format: 'x' })],
    ['a record without an installation ID', serializeRecord({ ...base, installationID: '' })],
    ['a root entry without a key ID', serializeRecord({ ...base, rootKeys: [{ version: 1, keyId: '' }] })],
    [
      'a root entry without a valid version',
      serializeRecord({ ...base, rootKeys: [{ version: 0, keyId: 'x' }] }),
    ],
  ];
  for (const [what, text] of damaged)
    it(`reports ${what} as a damaged record`, () =>
      assert.throws(() => parseRecord(text), DamagedRecordError));
});
