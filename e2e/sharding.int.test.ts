/**
 * Sharding: two operators side by side, the default shard and `--shard=<key>`, each leading its own
 * Lease. Who did what is read from each process's audit log (every key generation names its tenant's
 * UID and is signed by the process's identity).
 */
import assert from 'node:assert/strict';
import { testEnv } from '../hack/testenv/env.ts';
import { SHARD_LABEL } from '../controllers/runtime/shard.ts';
import type { KubeObject } from '../controllers/runtime/kube/types.ts';
import {
  deleteTenants,
  ensureNamespace,
  getTenant,
  kube,
  readyStatus,
  tenantManifest,
  uniqueName,
} from './support/cluster.ts';
import { eventually, startOperator, waitForControllers, type OperatorProcess } from './support/operator.ts';
import { tenantKey } from './support/tenantkeys.ts';

type Keyed = KubeObject & { status?: { conditions?: { type: string; status: string }[] } };

/** The audit entries a process wrote that concern the tenant with `uid`. */
const auditOf = (op: OperatorProcess, uid: string) =>
  op
    .output()
    .split('\n')
    .filter((l) => l.includes('"audit":true') && l.includes(`"tenantUID":"${uid}"`));

describe('Sharding: each shard reconciles only its own Tenants and what is in their namespaces', function () {
  this.timeout(300_000);
  const ns = uniqueName('palisade-shards');
  const key = uniqueName('s').slice(0, 30);
  const plain = uniqueName('sh');
  const sharded = uniqueName('sh');
  let ops: OperatorProcess[] = [];

  before(async () => {
    await ensureNamespace(ns);
    const kubeconfig = testEnv().kubeconfig;
    ops = await Promise.all([
      startOperator({ kubeconfig, namespace: ns, identity: 'shard-default' }),
      startOperator({ kubeconfig, namespace: ns, identity: `shard-${key}`, args: [`--shard=${key}`] }),
    ]);
    // Both lead at once: each shard has a Lease of its own.
    await Promise.all(ops.map((op) => waitForControllers(op, 120_000)));
  });

  after(async () => {
    await deleteTenants([plain, sharded]);
    await Promise.all(ops.map((op) => op.stop()));
  });

  it('keeps each Tenant, its primary key and a key its tenant labelled for the other shard, in the Tenant’s shard', async () => {
    const [def, shard] = ops as [OperatorProcess, OperatorProcess];
    await kube().apply(tenantManifest(plain));
    await kube().apply({
      ...tenantManifest(sharded),
      metadata: { name: sharded, labels: { [SHARD_LABEL]: key } },
    });
    const ready = async (name: string) =>
      eventually(
        `Tenant ${name} Ready`,
        async () => {
          const t = await getTenant(name);
          return readyStatus(t)?.status === 'True' ? t : undefined;
        },
        120_000,
      );
    const [p, s] = await Promise.all([ready(plain), ready(sharded)]);
    const plainUID = p.status?.uid ?? '';
    const shardedUID = s.status?.uid ?? '';

    // The tenant of the sharded Tenant labels its own key as if it belonged to the default shard, and
    // the plain tenant labels one as the sharded one's: labels in a tenant namespace move nothing.
    for (const [tenant, label] of [
      [s, ''],
      [p, key],
    ] as const) {
      await kube().apply({
        ...tenantKey(tenant.status?.namespace ?? '', 'extra'),
        metadata: {
          name: 'extra',
          namespace: tenant.status?.namespace ?? '',
          labels: { [SHARD_LABEL]: label },
        },
      });
    }
    for (const tenant of [p, s])
      await eventually(
        `extra key in ${tenant.status?.namespace} Ready`,
        async () => {
          const k = await kube().get<Keyed>({
            kind: 'TenantKey',
            name: 'extra',
            namespace: tenant.status?.namespace ?? '',
          });
          return k?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
        },
        120_000,
      );

    const generated = (op: OperatorProcess, uid: string) =>
      auditOf(op, uid).filter((l) => l.includes('"action":"tenantkey.generate"')).length;
    assert.equal(generated(def, plainUID), 2, 'the default shard made the plain tenant’s two keys');
    assert.equal(generated(shard, shardedUID), 2, 'the shard made its tenant’s two keys');
    assert.deepEqual(auditOf(def, shardedUID), [], 'the default shard never touched the sharded tenant');
    assert.deepEqual(auditOf(shard, plainUID), [], 'the shard never touched the plain tenant');
    assert.match(shard.output(), new RegExp(`"lease":"palisade-operator-leader-${key}"`));
  });
});
