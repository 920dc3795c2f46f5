import assert from 'node:assert/strict';
import type { ConfigMap, Secret } from '../kube/types.ts';
import { ManagedNamespaces, NamespacedInformer } from '../namespaced.ts';
import { FakeCache } from './cache.ts';
import { apiContract } from './contract/index.ts';
import { FakeApiServer } from './fakeapi.ts';

const NS = 'contract';

describe('the API contract, on the in-memory apiserver', () => {
  apiContract(async () => {
    const server = new FakeApiServer({ namespaces: [NS] });
    return {
      client: (fieldManager) => server.client(fieldManager),
      cache: (o) => new FakeCache(server, o),
      namespace: NS,
      settleMs: 0,
    };
  });
});

describe('the in-memory apiserver beyond the contract', () => {
  const cm = (
    name: string,
    extra: Omit<Partial<ConfigMap>, 'metadata'> & { metadata?: Partial<ConfigMap['metadata']> } = {},
  ): ConfigMap => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    ...extra,
    metadata: { name, namespace: NS, ...extra.metadata },
  });

  it('keeps a held cache stale until it is flushed', async () => {
    const server = new FakeApiServer({ namespaces: [NS] });
    const cache = new FakeCache<ConfigMap>(server, { kind: 'ConfigMap', namespace: NS, hold: true });
    const adds: string[] = [];
    cache.on('add', (o) => adds.push(o.metadata.name));
    await cache.start();
    await server.client().create(cm('late'));
    assert.equal(cache.get('late', NS), undefined);
    assert.equal(cache.pending, 1);
    cache.flush();
    assert.equal(cache.get('late', NS)?.metadata.name, 'late');
    assert.deepEqual(adds, ['late']);
  });

  it('collects an object created with owner references to objects that do not exist', async () => {
    const server = new FakeApiServer({ namespaces: [NS] });
    const ghost = { apiVersion: 'v1', kind: 'ConfigMap', name: 'ghost', uid: 'no-such-uid' };
    await server.client().create(cm('orphan', { metadata: { ownerReferences: [ghost] } }));
    assert.equal(await server.client().get({ kind: 'ConfigMap', name: 'orphan', namespace: NS }), undefined);
  });

  it('does not count an owner in another namespace', async () => {
    const server = new FakeApiServer({ namespaces: [NS, 'elsewhere'] });
    const c = server.client();
    const owner = await c.create(cm('owner', { metadata: { namespace: 'elsewhere' } }));
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid ?? '' };
    await c.create(cm('dependent', { metadata: { ownerReferences: [ref] } }));
    assert.equal(await c.get({ kind: 'ConfigMap', name: 'dependent', namespace: NS }), undefined);
  });

  it('deletes the content of a deleted namespace, then the namespace', async () => {
    const server = new FakeApiServer({ namespaces: [NS] });
    const c = server.client();
    await c.create<Secret>({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: NS } });
    await c.delete({ kind: 'Namespace', name: NS });
    assert.deepEqual((await c.list('Secret')).items, []);
    assert.equal(await c.get({ kind: 'Namespace', name: NS }), undefined);
  });

  it('names the field managers of an object, per operation and subresource', async () => {
    const server = new FakeApiServer({ namespaces: [NS] });
    await server.client('creator').create(cm('owned', { data: { a: '1' } }));
    await server.client('applier').apply(cm('owned', { data: { b: '2' } }));
    const ref = { kind: 'ConfigMap', name: 'owned', namespace: NS };
    assert.deepEqual(server.managersOf(ref).sort(), ['applier (Apply)', 'creator (Update)']);
  });

  it('refuses propagation policies it does not model', async () => {
    const server = new FakeApiServer({ namespaces: [NS] });
    const c = server.client();
    await c.create(cm('x'));
    await assert.rejects(
      c.delete({ kind: 'ConfigMap', name: 'x', namespace: NS }, { propagationPolicy: 'Orphan' }),
      /Orphan/,
    );
  });
});

describe('FakeCache', () => {
  it('serves as the per-namespace cache of a NamespacedInformer', async () => {
    const server = new FakeApiServer({ namespaces: ['a', 'b'] });
    const namespaces = new ManagedNamespaces(['a']);
    const secrets = new NamespacedInformer<Secret>(
      namespaces,
      (namespace) => new FakeCache(server, { kind: 'Secret', namespace }),
      'Secret',
    );
    secrets.addIndex('owner', (s) => (s.metadata.labels?.owner ? [s.metadata.labels.owner] : []));
    await secrets.start();
    const c = server.client();
    const labelled = (namespace: string) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', namespace, labels: { owner: 'x' } },
    });
    await c.create(labelled('a'));
    await c.create(labelled('b'));
    assert.deepEqual(secrets.byIndex('owner', 'x'), ['a/s'], 'b is not managed yet');
    namespaces.add('b');
    assert.deepEqual(secrets.byIndex('owner', 'x').sort(), ['a/s', 'b/s']);
    await secrets.stop();
  });
});
