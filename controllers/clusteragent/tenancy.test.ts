import assert from 'node:assert/strict';
import type { Tenant } from '../../crds/v1alpha1/index.ts';
import type { TenantRecord } from '../keystore/tenants.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { tenancyProblem, type TenancyInput } from './tenancy.ts';

const record = (retained = false): TenantRecord => ({
  uid: '0123456789ab',
  tenant: 'acme',
  namespace: 'tenant-acme',
  retained,
  secret: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'palisade-tenant-tenant-acme' } } as Secret,
});

function tenant(messaging?: { status: 'True' | 'False'; reason: string; message: string }, deleting = false) {
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'Tenant',
    metadata: { name: 'acme', ...(deleting ? { deletionTimestamp: '2030-01-01T00:00:00Z' } : {}) },
    spec: {},
    status: {
      conditions: messaging
        ? [{ type: 'MessagingReady', lastTransitionTime: '2030-01-01T00:00:00Z', ...messaging }]
        : [],
    },
  } as unknown as Tenant;
}

const pushed = { status: 'True' as const, reason: 'AccountPushed', message: 'on the resolver' };
const input = (o: Partial<TenancyInput>): TenancyInput => ({
  namespace: 'tenant-acme',
  record: record(),
  tenant: tenant(pushed),
  accountStored: true,
  ...o,
});

describe('tenancyProblem', () => {
  it('is undefined for a live tenant whose account is on the resolver', () => {
    assert.equal(tenancyProblem(input({})), undefined);
  });

  it('sets TenantNotFound, with where to create the agent instead, in a namespace no Tenant owns', () => {
    const p = tenancyProblem(input({ namespace: 'default', record: undefined, tenant: undefined }));
    assert.equal(p?.reason, 'TenantNotFound');
    assert.equal(
      p?.message,
      "namespace default is not a Tenant's namespace, so this ClusterAgent gets no credentials here: create it in the namespace of the Tenant it belongs to (a Tenant's spec.namespace; kubectl get tenants lists them)",
    );
    assert.doesNotMatch(p?.message ?? '', /not ready|yet/, 'nothing to wait for');
  });

  it('sets TenantNotFound naming the deleted Tenant when its namespace was retained', () => {
    const p = tenancyProblem(input({ record: record(true), tenant: undefined }));
    assert.equal(p?.reason, 'TenantNotFound');
    assert.match(
      p?.message ?? '',
      /^Tenant acme, which owned namespace tenant-acme, was deleted \(deletionPolicy Retain/,
    );
    assert.match(p?.message ?? '', /unless Tenant acme is created again$/);
  });

  it("sets TenantNotReady quoting the Tenant's MessagingReady condition while its account is on its way", () => {
    const failing = { status: 'False' as const, reason: 'PushFailed', message: 'NATS unreachable' };
    const p = tenancyProblem(input({ tenant: tenant(failing) }));
    assert.equal(p?.reason, 'TenantNotReady');
    assert.equal(
      p?.message,
      'the NATS account of Tenant acme is not ready yet (MessagingReady PushFailed: NATS unreachable)',
    );
    assert.match(
      tenancyProblem(input({ tenant: tenant() }))?.message ?? '',
      /\(MessagingReady no status yet\)/,
    );
    assert.equal(tenancyProblem(input({ accountStored: false }))?.reason, 'TenantNotReady');
  });

  it('sets TenantNotReady while the Tenant is not cached yet or is being deleted', () => {
    assert.match(tenancyProblem(input({ tenant: undefined }))?.message ?? '', /Tenant acme is not known/);
    assert.match(
      tenancyProblem(input({ tenant: tenant(pushed, true) }))?.message ?? '',
      /Tenant acme is being deleted/,
    );
  });
});
