import assert from 'node:assert/strict';
import { systemClock } from './clock.ts';
import { Controller } from './controller.ts';
import type { KubeObject } from './kube/types.ts';
import { createLogger } from './log.ts';
import { Metrics } from './metrics.ts';
import { Shard, SHARD_LABEL } from './shard.ts';
import { FakeCache } from './testing/cache.ts';
import { FakeApiServer } from './testing/fakeapi.ts';

const tenant = (name: string, shard?: string): KubeObject & { spec: object } => ({
  apiVersion: 'palisade.dev/v1alpha1',
  kind: 'Tenant',
  metadata: { name, ...(shard ? { labels: { [SHARD_LABEL]: shard } } : {}) },
  spec: {},
});

const agent = (
  namespace: string,
  name: string,
  labels: Record<string, string> = {},
): KubeObject & { spec: object } => ({
  apiVersion: 'palisade.dev/v1alpha1',
  kind: 'ClusterAgent',
  metadata: { name, namespace, labels },
  spec: { clusterName: name },
});

/**
 * Two shards over one API server: the default one and "b". Palisade's record of which Tenant owns which
 * namespace is a map here (the keystore in the operator).
 */
async function world() {
  const server = new FakeApiServer({ namespaces: ['tenant-a', 'tenant-b', 'elsewhere'] });
  const client = server.client();
  const records = new Map([
    ['tenant-a', 'a'],
    ['tenant-b', 'b'],
  ]);
  await client.create(tenant('a'));
  await client.create(tenant('b', 'b'));
  const shards = await Promise.all(
    [undefined, 'b'].map(async (key) => {
      const tenants = new FakeCache<KubeObject>(server, { kind: 'Tenant' });
      const agents = new FakeCache<KubeObject>(server, { kind: 'ClusterAgent' });
      const shard = new Shard(key);
      const reconciled = new Set<string>();
      const controller = new Controller({
        name: 'clusteragent',
        primary: agents,
        clock: systemClock,
        log: createLogger({ level: 'error' }),
        metrics: new Metrics(),
        reconcile: async (k) => void reconciled.add(k),
      });
      shard.bind({ tenants, tenantOfNamespace: (ns) => records.get(ns) });
      controller.restrictTo((k) => shard.owns('namespace', k));
      shard.onTenantMovedIn((t) => controller.requeueNamespace(`tenant-${t.metadata.name}`));
      await tenants.start();
      await agents.start();
      return { shard, controller, reconciled };
    }),
  );
  return { client, shards: shards as [(typeof shards)[0], (typeof shards)[0]] };
}

describe('runtime/shard: Tenants and their namespaces split across replica sets', () => {
  it('gives a shard the Tenants labelled with its key, and the default shard those without the label', () => {
    const b = new Shard('b');
    const def = new Shard();
    assert.equal(b.ownsTenant(tenant('x', 'b')), true);
    assert.equal(b.ownsTenant(tenant('x')), false);
    assert.equal(def.ownsTenant(tenant('x')), true);
    assert.equal(def.ownsTenant(tenant('x', 'b')), false);
    assert.equal(b.leaseName, 'palisade-operator-leader-b');
    assert.equal(def.leaseName, 'palisade-operator-leader');
  });

  it("reconciles a namespaced object in its Tenant's shard only, whatever labels the tenant put on it", async () => {
    const { client, shards } = await world();
    const [def, b] = shards;
    // A tenant of the default shard labels its object as if it were shard b's: the label is ignored.
    await client.create(agent('tenant-a', 'edge', { [SHARD_LABEL]: 'b' }));
    await client.create(agent('tenant-b', 'edge'));
    await client.create(agent('elsewhere', 'stray'));
    for (const s of shards) {
      s.controller.start();
      await s.controller.idle();
      await s.controller.stop();
    }
    assert.deepEqual([...def.reconciled].sort(), ['elsewhere/stray', 'tenant-a/edge']);
    assert.deepEqual([...b.reconciled], ['tenant-b/edge']);
  });

  it("hands a Tenant's namespace over when a platform engineer moves the Tenant to another shard", async () => {
    const { client, shards } = await world();
    const [def, b] = shards;
    await client.create(agent('tenant-a', 'edge'));
    for (const s of shards) s.controller.start();
    await Promise.all(shards.map((s) => s.controller.idle()));
    assert.deepEqual([[...def.reconciled], [...b.reconciled]], [['tenant-a/edge'], []]);
    def.reconciled.clear();
    const a = await client.get<KubeObject>({ kind: 'Tenant', name: 'a' });
    assert.ok(a);
    await client.update({ ...a, metadata: { ...a.metadata, labels: { [SHARD_LABEL]: 'b' } } });
    await Promise.all(shards.map((s) => s.controller.idle()));
    assert.deepEqual([...b.reconciled], ['tenant-a/edge'], 'the new shard takes the namespace up at once');
    def.controller.enqueue('tenant-a/edge');
    await def.controller.idle();
    assert.deepEqual([...def.reconciled], [], 'the old shard lets it go');
    await Promise.all(shards.map((s) => s.controller.stop()));
  });
});
