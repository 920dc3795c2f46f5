import assert from 'node:assert/strict';
import { Indexer, labelled, labelledKeys, trimmed } from './informer.ts';
import { emptyPool, pooled } from './intern.ts';
import type { KubeObject } from './kube/types.ts';
import { FakeCache } from './testing/cache.ts';
import { FakeApiServer } from './testing/fakeapi.ts';

describe('runtime/informer: what the cache keeps of an object', () => {
  it('drops managedFields and kubectl’s last-applied copy, and keeps everything a reconcile reads', () => {
    const obj = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 's',
        namespace: 'n',
        resourceVersion: '7',
        labels: { 'palisade.dev/tenant': 't' },
        annotations: {
          'kubectl.kubernetes.io/last-applied-configuration': '{"big":true}',
          'palisade.dev/user': 'U',
        },
        managedFields: [{ manager: 'palisade-operator', operation: 'Apply', fieldsV1: { 'f:data': {} } }],
      },
      data: { key: 'AAAA' },
    } as KubeObject & { data: Record<string, string> };
    const kept = trimmed(structuredClone(obj));
    const { managedFields: _m, ...meta } = obj.metadata as typeof obj.metadata & { managedFields?: unknown };
    void _m;
    assert.deepEqual(kept, {
      ...obj,
      metadata: { ...meta, annotations: { 'palisade.dev/user': 'U' } },
    });
  });
});

describe('runtime/informer: the shared strings of cached objects', () => {
  it('pools short metadata and status strings, never a Secret’s data, a UID or a resourceVersion', () => {
    emptyPool();
    const key = 'a2V5LW1hdGVyaWFsLWZvci10ZXN0ZGF0YS1vbmx5';
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'pool-secret',
        namespace: 'pool-ns',
        uid: 'pool-uid-0001',
        resourceVersion: 'pool-rv-0001',
        labels: { 'palisade.dev/component': 'pool-label' },
      },
      data: { key },
      stringData: { other: 'pool-string-data' },
    } as KubeObject;
    trimmed(secret);
    for (const s of ['pool-secret', 'pool-ns', 'pool-label', 'Secret']) assert.ok(pooled(s), s);
    for (const s of [key, 'pool-string-data', 'pool-uid-0001', 'pool-rv-0001']) assert.ok(!pooled(s), s);
    const tenant = {
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'Tenant',
      metadata: { name: 't' },
      status: { conditions: [{ type: 'PoolReady', status: 'True', reason: 'PoolReason' }] },
    } as KubeObject;
    trimmed(tenant);
    for (const s of ['PoolReady', 'PoolReason']) assert.ok(pooled(s), s);
    assert.deepEqual((tenant as unknown as { status: unknown }).status, {
      conditions: [{ type: 'PoolReady', status: 'True', reason: 'PoolReason' }],
    });
  });

  it('pools nothing of an object bound for a compact store, which keeps no strings of it', () => {
    emptyPool();
    const cm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'compact-name', namespace: 'compact-ns', managedFields: [{}] },
    } as KubeObject;
    const kept = trimmed(cm, { intern: false });
    assert.deepEqual(kept.metadata, { name: 'compact-name', namespace: 'compact-ns' });
    for (const s of ['compact-name', 'compact-ns', 'ConfigMap']) assert.ok(!pooled(s), s);
  });
});

describe('runtime/informer: secondary indexes', () => {
  const obj = (name: string, owner: string | string[]) =>
    ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: 'ns', labels: { owner: [owner].flat().join(',') } },
    }) as KubeObject;
  const byOwner = () => {
    const ix = new Indexer<KubeObject>();
    ix.add('owner', (o) => (o.metadata.labels?.owner ?? '').split(',').filter(Boolean));
    return ix;
  };

  it('answers one object, then two under the same value, then one again as they change and go', () => {
    const ix = byOwner();
    const [a1, b1, a2] = [obj('a', 'x'), obj('b', 'x'), obj('a', 'y')];
    ix.update(undefined, a1);
    assert.deepEqual(ix.lookup('owner', 'x'), ['ns/a']);
    ix.update(undefined, b1);
    assert.deepEqual(ix.lookup('owner', 'x'), ['ns/a', 'ns/b']);
    ix.update(a1, a2);
    assert.deepEqual(ix.lookup('owner', 'x'), ['ns/b']);
    assert.deepEqual(ix.lookup('owner', 'y'), ['ns/a']);
    ix.update(b1, undefined);
    assert.deepEqual(ix.lookup('owner', 'x'), []);
    const b2 = obj('b', 'x');
    ix.update(undefined, b2);
    ix.update(b2, obj('b', 'x'));
    assert.deepEqual(ix.lookup('owner', 'x'), ['ns/b'], 'an unchanged update is not counted twice');
  });

  it('indexes what the cache holds already when an index is added late, and keeps the first of a name', () => {
    const held = [obj('a', 'x'), obj('b', 'y')];
    const ix = new Indexer<KubeObject>();
    ix.add(
      'owner',
      (o) => [o.metadata.labels?.owner ?? ''],
      () => held,
    );
    assert.deepEqual(ix.lookup('owner', 'x'), ['ns/a']);
    ix.add(
      'owner',
      () => ['other'],
      () => held,
    );
    assert.deepEqual(ix.lookup('owner', 'other'), [], 'the second add of the name changed nothing');
    ix.update(undefined, obj('c', 'x'));
    assert.deepEqual(ix.lookup('owner', 'x'), ['ns/a', 'ns/c']);
  });

  it('finds objects by label in one namespace through an index added on first use', async () => {
    const server = new FakeApiServer({ namespaces: ['ns', 'other'] });
    const cache = new FakeCache<KubeObject>(server, { kind: 'ConfigMap' });
    await cache.start();
    const client = server.client('test');
    const make = (name: string, namespace: string, labels: Record<string, string>) =>
      client.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, labels } });
    await make('ca-1', 'ns', { component: 'ca' });
    await make('key-1', 'ns', { component: 'key' });
    await make('ca-2', 'other', { component: 'ca' });
    assert.deepEqual(
      labelled(cache, 'ns', 'component', 'ca').map((o) => o.metadata.name),
      ['ca-1'],
    );
    await make('ca-3', 'ns', { component: 'ca' });
    assert.deepEqual(labelledKeys(cache, 'ns', 'component', 'ca').sort(), ['ns/ca-1', 'ns/ca-3']);
  });

  it('indexes an object under several values and drops each when it no longer has it', () => {
    const ix = byOwner();
    const [a1, a2, a3] = [obj('a', ['x', 'y']), obj('a', ['x']), obj('a', [])];
    ix.update(undefined, a1);
    ix.update(undefined, obj('b', ['y']));
    assert.deepEqual(ix.lookup('owner', 'y'), ['ns/a', 'ns/b']);
    ix.update(a1, a2);
    assert.deepEqual(ix.lookup('owner', 'y'), ['ns/b']);
    assert.deepEqual(ix.lookup('owner', 'x'), ['ns/a']);
    ix.update(a2, a3);
    assert.deepEqual(ix.lookup('owner', 'x'), []);
    assert.deepEqual(ix.lookup('other', 'x'), [], 'an unknown index answers nothing');
  });

  it('keeps every key of a value as it grows from one to many and shrinks back, in any order', () => {
    const ix = byOwner();
    const objs = Array.from({ length: 20 }, (_, i) => obj(`o${String(i).padStart(2, '0')}`, 'x'));
    const expected = new Set<string>();
    for (const o of objs) {
      ix.update(undefined, o);
      expected.add(`ns/${o.metadata.name}`);
      assert.deepEqual(ix.lookup('owner', 'x').sort(), [...expected].sort());
    }
    // NB: removed out of insertion order, through every size the keys are held in.
    for (const i of [3, 19, 0, 7, 11, 1, 18, 5, 9, 2, 14, 6, 17, 4, 8, 16, 10, 15, 13, 12]) {
      const o = objs[i] as KubeObject;
      ix.update(o, undefined);
      expected.delete(`ns/${o.metadata.name}`);
      assert.deepEqual(ix.lookup('owner', 'x').sort(), [...expected].sort());
    }
    ix.update(undefined, objs[0]);
    ix.update(undefined, objs[0]);
    assert.deepEqual(ix.lookup('owner', 'x'), ['ns/o00'], 'added twice, held once');
  });

  it('unindexes an object from what it was indexed under, not from its last state', () => {
    const ix = byOwner();
    const held = obj('a', 'y');
    ix.update(undefined, held);
    // NB: a watch's DELETED event carries the object's last state, which the cache may never have held.
    ix.update(held, undefined);
    assert.deepEqual(ix.lookup('owner', 'y'), []);
  });
});
