import assert from 'node:assert/strict';
import type { InstallationRecord, KeyFact } from './record.ts';
import { assessInstallation, recoveryStep, type Observed, type Verdict } from './verdict.ts';

const root = (version: number, keyId = `r${version}`.padEnd(16, '0')): KeyFact => ({
  version,
  keyId,
  fingerprint: `sha256:${keyId}`,
});
const jwt = (version: number, keyId = `jwt-${version}`): KeyFact => ({ version, keyId });
const salt = { fingerprint: 'sha256:salt' };

function record(over: Partial<InstallationRecord> = {}): InstallationRecord {
  return {
    installationID: 'ab'.repeat(16),
    created: '2025-01-01T00:00:00.000Z',
    rootKeys: [root(1)],
    jwtSigningKeys: [jwt(1)],
    hashSalt: salt,
    ...over,
  };
}

function observed(over: Partial<Observed> = {}): Observed {
  return {
    record: record(),
    rootKeys: [root(1)],
    jwtSigningKeys: [jwt(1)],
    hashSalt: salt,
    wrappedByAbsent: new Map(),
    ...over,
  };
}

const nothing: Observed = { rootKeys: [], jwtSigningKeys: [], wrappedByAbsent: new Map() };

/** The verdict's kind, what it mints, and for a loss `component/version/kind` of each problem. */
function summary(v: Verdict): string {
  if (v.kind === 'lost')
    return `lost: ${v.problems.map((p) => `${p.component}${p.version ? `/v${p.version}` : ''} ${p.kind}`).join(', ')}`;
  if (v.kind === 'fresh') return 'fresh';
  return `${v.kind}${v.mint.length ? ` + mint ${v.mint.join(', ')}` : ''}`;
}

const cases: [string, Observed, string][] = [
  ['an empty namespace is a fresh install: every key is made', nothing, 'fresh'],
  ['an installation whose record lists every key present is intact', observed(), 'intact'],
  [
    'a recorded root key whose Secret was deleted is lost, even with nothing wrapped by it yet',
    observed({ rootKeys: [] }),
    'lost: root-key/v1 Missing',
  ],
  [
    'the newest recorded root version missing is lost even when an older one is present',
    observed({ record: record({ rootKeys: [root(1), root(2)] }), rootKeys: [root(1)] }),
    'lost: root-key/v2 Missing',
  ],
  [
    'an older recorded root version that nothing is wrapped by any more was retired, not lost',
    observed({ record: record({ rootKeys: [root(1), root(2)] }), rootKeys: [root(2)] }),
    'intact',
  ],
  [
    'an older recorded root version that keystore entries are still wrapped by is lost',
    observed({
      record: record({ rootKeys: [root(1), root(2)] }),
      rootKeys: [root(2)],
      wrappedByAbsent: new Map([[1, 3]]),
    }),
    'lost: root-key/v1 Missing',
  ],
  [
    'a root Secret holding another key than the recorded one is refused, not adopted',
    observed({ rootKeys: [root(1, 'ffffffffffffffff')] }),
    'lost: root-key/v1 Mismatch',
  ],
  [
    'a root Secret whose bytes cannot be read is reported',
    observed({ rootKeys: [root(1, '')] }),
    'lost: root-key/v1 Unreadable',
  ],
  [
    'a root version made by a rotation and not recorded yet is intact (the record grows)',
    observed({ rootKeys: [root(1), root(2)] }),
    'intact',
  ],
  [
    'an existing installation without a record (an upgrade) is recorded as it is, nothing regenerated',
    observed({ record: undefined, rootKeys: [root(1), root(2)] }),
    'upgrade',
  ],
  [
    'an upgrade whose JWT signing key and salt were never made makes them (they were never recorded)',
    observed({ record: undefined, jwtSigningKeys: [], hashSalt: undefined }),
    'upgrade + mint jwt-signing-key, hash-salt',
  ],
  [
    'no record and no root key, but other installation keys present, is a lost root, not a fresh install',
    { ...nothing, jwtSigningKeys: [jwt(1)], hashSalt: salt },
    'lost: root-key Missing',
  ],
  [
    'no record and no root key, but keystore entries wrapped by a root version, is a lost root',
    { ...nothing, wrappedByAbsent: new Map([[1, 12]]) },
    'lost: root-key/v1 Missing',
  ],
  [
    'an upgrade whose keystore holds entries wrapped by an absent root version is a loss',
    observed({ record: undefined, rootKeys: [root(2)], wrappedByAbsent: new Map([[1, 1]]) }),
    'lost: root-key/v1 Missing',
  ],
  [
    'a record with every key deleted never gets a fresh v1',
    observed({ rootKeys: [], jwtSigningKeys: [], hashSalt: undefined }),
    'lost: root-key/v1 Missing, jwt-signing-key/v1 Missing, hash-salt Missing',
  ],
  [
    'a record listing no root key, with none present, never gets a fresh v1 either',
    observed({ record: record({ rootKeys: [] }), rootKeys: [] }),
    'lost: root-key Missing',
  ],
  [
    'a recorded JWT signing key that is missing is reported and not made again',
    observed({ jwtSigningKeys: [] }),
    'lost: jwt-signing-key/v1 Missing',
  ],
  [
    'a JWT signing key other than the recorded one is refused',
    observed({ jwtSigningKeys: [jwt(1, 'someone-else')] }),
    'lost: jwt-signing-key/v1 Mismatch',
  ],
  [
    'a recorded hash salt that is missing is reported and not made again',
    observed({ hashSalt: undefined }),
    'lost: hash-salt Missing',
  ],
  [
    'a hash salt other than the recorded one is refused',
    observed({ hashSalt: { fingerprint: 'sha256:other' } }),
    'lost: hash-salt Mismatch',
  ],
  [
    'a rotated hash salt version that is recorded but missing is reported, never made again',
    observed({ record: record({ hashSalts: [{ version: 2, keyId: 'sha256:s2' }] }), hashSalts: [] }),
    'lost: hash-salt/v2 Missing',
  ],
  [
    'a rotated hash salt version other than the recorded one is refused',
    observed({
      record: record({ hashSalts: [{ version: 2, keyId: 'sha256:s2' }] }),
      hashSalts: [{ version: 2, keyId: 'sha256:other' }],
    }),
    'lost: hash-salt/v2 Mismatch',
  ],
  [
    'a rotated hash salt version present and recorded is intact',
    observed({
      record: record({ hashSalts: [{ version: 2, keyId: 'sha256:s2' }] }),
      hashSalts: [{ version: 2, keyId: 'sha256:s2' }],
    }),
    'intact',
  ],
  [
    'a record that lists no salt (never made) lets the salt be made',
    observed({ record: record({ hashSalt: undefined }), hashSalt: undefined }),
    'intact + mint hash-salt',
  ],
  [
    'an unreadable record is reported and nothing is made',
    { ...nothing, recordDamaged: 'installation.json is not JSON' },
    'lost: installation-record Unreadable',
  ],
];

describe('installation keys: what the record and the keys present allow', () => {
  for (const [sentence, input, expected] of cases)
    it(sentence, () => assert.equal(summary(assessInstallation(input)), expected));

  it('names the key that is missing, its key ID and the recovery command', () => {
    const v = assessInstallation(observed({ rootKeys: [] }));
    assert.equal(v.kind, 'lost');
    if (v.kind !== 'lost') return;
    assert.match(
      v.problems[0]?.message ?? '',
      /root key version 1 \(key ID r100000000000000\).*palisade-root-key-v1 is missing/,
    );
    assert.match(
      recoveryStep(v.problems, 'palisade-system'),
      /palisade restore --in <backup> .*--namespace palisade-system/,
    );
  });

  it('tells a damaged record to be repaired or deleted, not restored', () => {
    const v = assessInstallation({ ...nothing, recordDamaged: 'x' });
    assert.equal(v.kind, 'lost');
    if (v.kind === 'lost')
      assert.match(
        recoveryStep(v.problems, 'ns'),
        /repair the ConfigMap ns\/palisade-installation, or delete it/,
      );
  });
});
