import assert from 'node:assert/strict';
import type { ClusterAgent } from '../../crds/v1alpha1/index.ts';
import { createKeyPair, decodeJwt } from '../messaging/index.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { Annotation } from './conditions.ts';
import { issueCredentials, planCredentials } from './credentials.ts';

const agent = (spec: Partial<ClusterAgent['spec']> = {}): ClusterAgent => ({
  apiVersion: 'palisade.dev/v1alpha1',
  kind: 'ClusterAgent',
  metadata: { name: 'edge', namespace: 'tenant-acme', uid: 'u-1' },
  spec: { clusterName: 'c', heartbeatDeadline: '90s', suspended: false, ...spec },
});
const secret = (annotations: Record<string, string>): Secret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'edge-nats-creds', annotations },
});
const now = new Date('2026-01-01T12:00:00Z');

describe('clusteragent/credentials: when to issue, rotate and revoke (pure)', () => {
  const current = secret({
    [Annotation.User]: 'UCUR',
    [Annotation.IssuedAt]: '2026-01-01T10:00:00.000Z',
    [Annotation.Trigger]: '',
  });
  const cases: [string, ClusterAgent, Secret | undefined, Set<string>, string][] = [
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
  for (const [name, a, s, revoked, want] of cases) {
    it(name, () => {
      const p = planCredentials(a, s, revoked, now);
      assert.equal(p.kind === 'issue' ? `issue:${p.why}` : p.kind, want);
    });
  }

  it('issues creds whose JWT expires after two rotation periods and names the previous user', () => {
    const account = createKeyPair('A');
    const i = issueCredentials({
      agent: agent({ credentialRotationPeriod: '1h' }),
      tenantName: 'acme',
      tenantUID: '0123456789ab',
      account,
      version: 3,
      now,
      caPem: 'CA',
      previousUser: 'UOLD',
    });
    const creds = Buffer.from(i.secret.data?.['agent.creds'] ?? '', 'base64').toString();
    const jwt = /-----BEGIN NATS USER JWT-----\n(.+)\n/.exec(creds)?.[1] ?? '';
    const c = decodeJwt(jwt, 'A');
    assert.equal(c.iss, account.publicKey);
    assert.equal((c.exp ?? 0) - c.iat, 7200);
    assert.equal(i.secret.metadata.annotations?.[Annotation.PreviousUser], 'UOLD');
    assert.equal(i.secret.metadata.annotations?.[Annotation.Version], '3');
    assert.equal(i.secret.metadata.ownerReferences?.[0]?.uid, 'u-1');
  });
});
