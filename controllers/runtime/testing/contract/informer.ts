/** The contract case of informers: a list, then watch events, filtered by a label selector, indexed. */
import assert from 'node:assert/strict';
import type { ConfigMap } from '../../kube/types.ts';
import { configMap, eventually, MANAGER, refOf, type Cases } from './support.ts';

export const INFORMER_CASES: Cases = {
  async 'an informer lists, then reports adds, updates and deletes within its label selector, and indexes'(
    t,
  ) {
    const c = t.client(MANAGER);
    const labels = (shard: string) => ({ metadata: { labels: { app: 'contract', shard } } });
    const before = await c.create(configMap(t.namespace, 'before', labels('a')));
    const cache = t.cache<ConfigMap>({
      kind: 'ConfigMap',
      namespace: t.namespace,
      labelSelector: 'app=contract',
    });
    const seen: string[] = [];
    for (const event of ['add', 'update', 'delete'] as const)
      cache.on(event, (o) => seen.push(`${event} ${o.metadata.name}`));
    cache.addIndex('shard', (o) => (o.metadata.labels?.shard ? [o.metadata.labels.shard] : []));
    await cache.start();
    try {
      await cache.waitForSync();
      assert.ok(cache.hasSynced());
      assert.deepEqual(seen, ['add before']);
      // NB: as the list returned them: items of a built-in kind come without apiVersion and kind.
      assert.equal(cache.get('before', t.namespace)?.kind, undefined);
      await c.create(configMap(t.namespace, 'unlabelled'));
      const one = await c.create(configMap(t.namespace, 'one', labels('b')));
      await eventually(
        () => assert.deepEqual(cache.byIndex('shard', 'b'), [`${t.namespace}/one`]),
        t.settleMs,
      );
      await c.update({ ...one, data: { v: '2' } });
      await eventually(() => assert.equal(cache.get('one', t.namespace)?.data?.v, '2'), t.settleMs);
      const current = await c.get<ConfigMap>(refOf(before));
      if (!current) throw new Error('ConfigMap before is gone');
      await c.update({ ...current, metadata: { ...current.metadata, labels: { app: 'other' } } });
      await c.delete(refOf(one));
      const expected = ['add before', 'add one', 'update one', 'delete before', 'delete one'];
      await eventually(() => assert.deepEqual(seen, expected), t.settleMs);
      assert.deepEqual(cache.list(t.namespace), []);
      assert.deepEqual([cache.byIndex('shard', 'a'), cache.byIndex('shard', 'b')], [[], []]);
    } finally {
      await cache.stop();
    }
  },
};
