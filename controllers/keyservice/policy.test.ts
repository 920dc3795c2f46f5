import assert from 'node:assert/strict';
import type { KeyAccessPolicy, KeyAccessPolicySpec } from '../../crds/v1alpha1/index.ts';
import { policyConditions } from './policystatus.ts';
import {
  allowedBy,
  identityName,
  policySubjects,
  subjectKeys,
  type AccessRequest,
  type Identity,
} from './policy.ts';

const policy = (name: string, spec: Partial<KeyAccessPolicySpec>, deleting = false): KeyAccessPolicy => ({
  apiVersion: 'palisade.dev/v1alpha1',
  kind: 'KeyAccessPolicy',
  metadata: { name, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  spec: {
    subjects: [{ serviceAccount: { namespace: 'billing', name: 'api' } }],
    tenants: ['acme'],
    operations: ['Encrypt'],
    ...spec,
  },
});

const req = (r: Partial<AccessRequest>): AccessRequest => ({
  tenant: 'acme',
  key: 'primary',
  operation: 'Encrypt',
  ...r,
});

describe('authorization', () => {
  const cases: [string, KeyAccessPolicy[], AccessRequest, string | undefined][] = [
    ['denies when no policy names the caller', [], req({}), undefined],
    [
      'allows the tenant, operation and any key when keys is absent',
      [policy('p', {})],
      req({ key: 'other' }),
      'p',
    ],
    ['denies another tenant', [policy('p', {})], req({ tenant: 'globex' }), undefined],
    ['denies an operation not listed', [policy('p', {})], req({ operation: 'Decrypt' }), undefined],
    ['denies a key not listed when keys is set', [policy('p', { keys: ['payments'] })], req({}), undefined],
    ['allows a listed key', [policy('p', { keys: ['payments'] })], req({ key: 'payments' }), 'p'],
    ['ignores a policy being deleted', [policy('p', {}, true)], req({}), undefined],
    ['names the first allowing policy by name', [policy('z', {}), policy('a', {})], req({}), 'a'],
  ];
  for (const [name, policies, r, want] of cases) it(name, () => assert.equal(allowedBy(policies, r), want));

  it('indexes a policy under the keys its subjects are found by', () => {
    const p = policy('p', {
      subjects: [
        { serviceAccount: { namespace: 'b', name: 'api' } },
        { certificate: { dnsName: 'Job.X.svc' } },
      ],
    });
    const sa: Identity = { kind: 'ServiceAccount', namespace: 'b', name: 'api' };
    const cert: Identity = { kind: 'Certificate', dnsNames: ['other.x.svc', 'job.x.svc'], fingerprint: 'f' };
    for (const id of [sa, cert])
      assert.ok(
        subjectKeys(id).some((k) => policySubjects(p).includes(k)),
        identityName(id),
      );
    assert.equal(identityName(cert), 'x509:other.x.svc,job.x.svc');
  });

  it('reports Ready=False/TenantNotFound for a Tenant that does not exist, Ready=True otherwise', () => {
    const p = policy('p', { tenants: ['acme', 'ghost'] });
    const [found, ready] = policyConditions(p, (t) => t === 'acme');
    assert.equal(found?.reason, 'TenantNotFound');
    assert.match(found?.message ?? '', /no Tenant named ghost/);
    assert.equal(ready?.status, 'False');
    assert.equal(policyConditions(p, () => true)[1]?.reason, 'Accepted');
  });
});
