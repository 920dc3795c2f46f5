import assert from 'node:assert/strict';
import type { ClusterAgent } from '../../crds/v1alpha1/index.ts';
import { createKeyPair, decodeJwt } from '../nats/protocol/index.ts';
import { Annotation } from './conditions.ts';
import { issueCredentials, planCredentials } from './credentials.ts';
import type { AgentRecord } from './record.ts';

const agent = (spec: Partial<ClusterAgent['spec']> = {}): ClusterAgent => ({
  apiVersion: 'palisade.dev/v1alpha1',
  kind: 'ClusterAgent',
  metadata: { name: 'edge', namespace: 'tenant-acme', uid: 'u-1' },
  spec: { clusterName: 'c', heartbeatDeadline: '90s', suspended: false, ...spec },
});
const now = new Date('2026-01-01T12:00:00Z');

describe('clusteragent/credentials: when to issue, rotate and revoke (pure)', () => {
  const current: AgentRecord = {
    user: 'UCUR',
    version: 1,
    issuedAt: '2026-01-01T10:00:00.000Z',
    trigger: '',
    retired: [],
  };
  const cases: [string, ClusterAgent, AgentRecord | undefined, Set<string>, string][] = [
    ['issues the first credentials', agent(), undefined, new Set(), 'issue:initial'],
    ['keeps current credentials', agent(), current, new Set(), 'keep'],
    [
      'rotates when the trigger changes',
      agent({ credentialRotationTrigger: 'x' }),
      current,
      new Set(),
      'issue:trigger',
    ],
    [
      'rotates when the period has elapsed',
      agent({ credentialRotationPeriod: '1h' }),
      current,
      new Set(),
      'issue:period',
    ],
    [
      'keeps them before the period elapses',
      agent({ credentialRotationPeriod: '3h' }),
      current,
      new Set(),
      'keep',
    ],
    ['revokes while suspended', agent({ suspended: true }), current, new Set(), 'suspend'],
    [
      'issues new ones after a suspension revoked the old',
      agent(),
      current,
      new Set(['UCUR']),
      'issue:revoked',
    ],
  ];
  for (const [name, a, r, revoked, want] of cases) {
    it(name, () => {
      const p = planCredentials(a, r, 'UCUR', revoked, now);
      assert.equal(p.kind === 'issue' ? `issue:${p.why}` : p.kind, want);
    });
  }

  it('decides from the record, never from the delivered Secret: a Secret naming another user re-issues', () => {
    const p = planCredentials(agent(), current, 'UFORGED', new Set(), now);
    assert.equal(p.kind === 'issue' ? p.why : p.kind, 'undelivered');
    const gone = planCredentials(agent(), current, undefined, new Set(), now);
    assert.equal(gone.kind === 'issue' ? gone.why : gone.kind, 'undelivered');
  });

  it('issues creds whose JWT expires after two rotation periods and retires the previous users in the record', () => {
    const account = createKeyPair('A');
    const i = issueCredentials({
      agent: agent({ credentialRotationPeriod: '1h' }),
      tenantName: 'acme',
      tenantUID: '0123456789ab',
      account,
      version: 3,
      now,
      caPem: 'CA',
      previous: { ...current, user: 'UOLD', retired: [{ user: 'UOLDER' }] },
    });
    const creds = Buffer.from(i.secret.data?.['agent.creds'] ?? '', 'base64').toString();
    const jwt = /-----BEGIN NATS USER JWT-----\n(.+)\n/.exec(creds)?.[1] ?? '';
    const c = decodeJwt(jwt, 'A');
    assert.equal(c.iss, account.publicKey);
    assert.equal((c.exp ?? 0) - c.iat, 7200);
    assert.deepEqual(
      i.record.retired.map((u) => u.user),
      ['UOLDER', 'UOLD'],
    );
    assert.equal(i.record.user, i.secret.metadata.annotations?.[Annotation.User]);
    assert.equal(i.record.expiresAt, new Date((c.exp ?? 0) * 1000).toISOString());
    assert.equal(i.secret.metadata.annotations?.[Annotation.Version], '3');
    assert.equal(i.secret.metadata.ownerReferences?.[0]?.uid, 'u-1');
  });
});
