import assert from 'node:assert/strict';
import type { AgentRecord } from '../clusteragent/record.ts';
import { nextRecord, normalizeSerial, type Issued } from './issue.ts';

const NOW = new Date('2026-12-02T05:00:00Z');
const issued = (user: string, serial: string): Issued => ({
  credentials: {
    clientCertificate: '',
    caBundle: '',
    natsUserJwt: '',
    natsUrl: '',
    notAfter: 0,
    renewAfter: 0,
  },
  certificate: { serial, notAfter: '2026-12-03T05:00:00.000Z' },
  user,
  userExp: 1_800_000_000,
});
const base: AgentRecord = { user: '', version: 0, issuedAt: '', trigger: '', retired: [], mode: 'pairing' };

describe('agent records across pairing and renewals', () => {
  it('keeps the current and the previous credentials, and retires the ones before', () => {
    const paired = nextRecord(base, issued('U1', 'a1'), NOW);
    assert.equal(paired.user, 'U1');
    assert.deepEqual(
      paired.certificates?.map((c) => c.serial),
      ['a1'],
    );
    assert.equal(paired.previousUser, undefined);

    const renewed = nextRecord(paired, issued('U2', 'a2'), NOW);
    assert.deepEqual(
      renewed.certificates?.map((c) => c.serial),
      ['a2', 'a1'],
    );
    assert.equal(renewed.previousUser?.user, 'U1');
    assert.deepEqual(renewed.retired, []);

    const again = nextRecord(renewed, issued('U3', 'a3'), NOW);
    assert.deepEqual(
      again.certificates?.map((c) => c.serial),
      ['a3', 'a2'],
    );
    assert.equal(again.previousUser?.user, 'U2');
    assert.deepEqual(
      again.retired.map((u) => u.user),
      ['U1'],
      'two renewals back: revoked',
    );
    assert.equal(again.version, 3);
  });

  it('compares serials without case or leading zeros', () => {
    assert.equal(normalizeSerial('00AB01'), 'ab01');
    assert.equal(normalizeSerial('0'), '0');
  });
});
