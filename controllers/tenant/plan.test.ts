import assert from 'node:assert/strict';
import type { Condition, Tenant } from '../../crds/v1alpha1/index.ts';
import type { Namespace } from '../runtime/kube/types.ts';
import { TenantReason } from './conditions.ts';
import { desiredNamespace } from './namespace.ts';
import { afterApply, planNamespace, tenantStatus } from './plan.ts';

const UID = 't-0123456789abcdef';
const NOW = new Date('2026-12-02T00:00:00Z');

function tenant(o: { generation?: number; nsCondition?: Partial<Condition>; status?: object } = {}): Tenant {
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'Tenant',
    metadata: { name: 'acme', uid: 'k8s-uid-acme', generation: o.generation ?? 1 },
    spec: { deletionPolicy: 'Retain' },
    status: {
      ...(o.status ?? {}),
      ...(o.nsCondition
        ? {
            conditions: [
              {
                type: 'NamespaceReady',
                status: 'True',
                reason: TenantReason.NamespaceCreated,
                message: 'm',
                lastTransitionTime: '2026-12-01T00:00:00Z',
                observedGeneration: 1,
                ...o.nsCondition,
              } as Condition,
            ],
          }
        : {}),
    },
  } as unknown as Tenant;
}

const ns = (o: { uid?: string; deleting?: boolean; labels?: Record<string, string> } = {}): Namespace => {
  const d = desiredNamespace(tenant(), UID);
  return {
    ...d,
    metadata: {
      ...d.metadata,
      uid: o.uid ?? 'ns-uid-1',
      ...(o.labels ? { labels: o.labels } : {}),
      ...(o.deleting ? { deletionTimestamp: '2026-12-02T00:00:00Z' } : {}),
    },
  };
};

describe('Tenant plan (pure)', function () {
  describe('planNamespace', function () {
    const cases: { name: string; existing: Namespace | undefined; action: string; reason?: string }[] = [
      { name: 'missing → apply', existing: undefined, action: 'apply' },
      {
        name: 'being deleted → wait',
        existing: ns({ deleting: true }),
        action: 'wait',
        reason: 'NamespaceTerminating',
      },
      { name: 'as wanted → none', existing: ns(), action: 'none', reason: 'NamespaceCreated' },
      { name: 'labels changed → apply', existing: ns({ labels: { other: 'x' } }), action: 'apply' },
    ];
    for (const c of cases) {
      it(c.name, function () {
        const p = planNamespace(tenant(), UID, c.existing);
        assert.equal(p.action, c.action);
        if (c.reason) assert.equal('concern' in p ? p.concern.reason : undefined, c.reason);
        if (p.action === 'apply') assert.equal(p.existingUID, c.existing?.metadata.uid);
      });
    }

    it('keeps NamespaceRecreated until the spec changes', function () {
      const recreated = {
        reason: TenantReason.NamespaceRecreated,
        message: 'came back',
        observedGeneration: 1,
      };
      const same = planNamespace(tenant({ nsCondition: recreated }), UID, ns());
      assert.equal(same.action === 'none' && same.concern.reason, TenantReason.NamespaceRecreated);
      const changed = planNamespace(tenant({ generation: 2, nsCondition: recreated }), UID, ns());
      assert.equal(changed.action === 'none' && changed.concern.reason, TenantReason.NamespaceCreated);
    });
  });

  describe('afterApply', function () {
    const cases: {
      name: string;
      t: Tenant;
      existing: string | undefined;
      applied: string;
      kind: string;
      reason: string;
    }[] = [
      {
        name: 'same UID: an update',
        t: tenant({ nsCondition: {} }),
        existing: 'a',
        applied: 'a',
        kind: 'updated',
        reason: 'NamespaceCreated',
      },
      {
        name: 'first namespace: created',
        t: tenant(),
        existing: undefined,
        applied: 'a',
        kind: 'created',
        reason: 'NamespaceCreated',
      },
      {
        name: 'had a ready one, now a new UID: recreated',
        t: tenant({ nsCondition: {} }),
        existing: 'a',
        applied: 'b',
        kind: 'recreated',
        reason: 'NamespaceRecreated',
      },
      {
        name: 'had a ready one, cache empty: recreated',
        t: tenant({ nsCondition: {} }),
        existing: undefined,
        applied: 'b',
        kind: 'recreated',
        reason: 'NamespaceRecreated',
      },
      {
        name: 'was terminating when last seen: recreated',
        t: tenant({ nsCondition: { status: 'False', reason: TenantReason.NamespaceTerminating } }),
        existing: undefined,
        applied: 'b',
        kind: 'recreated',
        reason: 'NamespaceRecreated',
      },
      {
        name: 'never had one (a conflict before): created',
        t: tenant({ nsCondition: { status: 'False', reason: TenantReason.NamespaceConflict } }),
        existing: undefined,
        applied: 'b',
        kind: 'created',
        reason: 'NamespaceCreated',
      },
    ];
    for (const c of cases) {
      it(c.name, function () {
        const a = afterApply(c.t, UID, c.existing, c.applied);
        assert.equal(a.kind, c.kind);
        assert.equal(a.concern.reason, c.reason);
        if (a.kind === 'recreated') assert.match(a.message, new RegExp(UID));
      });
    }
  });

  describe('tenantStatus', function () {
    it('summarises the concerns in Ready: the first not True decides', function () {
      const s = tenantStatus(tenant(), {
        uid: UID,
        namespace: { status: 'True', reason: 'NamespaceCreated', message: 'ok' },
        primary: {
          name: 'primary',
          concern: { type: 'PrimaryKeyReady', status: 'False', reason: 'RootKeyMissing', message: 'gone' },
        },
        now: NOW,
      });
      const ready = s.conditions?.find((c) => c.type === 'Ready');
      assert.deepEqual([ready?.status, ready?.reason], ['False', 'RootKeyMissing']);
      assert.equal(s.uid, UID);
      assert.equal(s.primaryKey, 'primary');
      assert.equal(s.namespace, 'tenant-acme');
      assert.equal(s.observedGeneration, 1);
    });

    it('is TenantReady when every concern is True, and keeps what it did not observe', function () {
      const s = tenantStatus(tenant({ status: { natsAccount: { publicKey: 'AKEEP' } } }), {
        uid: UID,
        namespace: { status: 'True', reason: 'NamespaceCreated', message: 'ok' },
        now: NOW,
      });
      assert.equal(s.conditions?.find((c) => c.type === 'Ready')?.reason, TenantReason.Ready);
      assert.equal(s.natsAccount?.publicKey, 'AKEEP');
    });
  });
});
