import assert from 'node:assert/strict';
import type { KubeObject, Secret } from './kube/types.ts';
import { ManagedNamespaces, NamespacedInformer, NamespaceSubset } from './namespaced.ts';
import { FakeCache } from './testing/cache.ts';
import { FakeApiServer } from './testing/fakeapi.ts';

/** A subset of `managed` that records every join and leave, in order. */
function subsetOf(managed: ManagedNamespaces) {
  const subset = new NamespaceSubset('test', managed);
  const changes: string[] = [];
  subset.subscribe({ add: (ns) => changes.push(`+${ns}`), remove: (ns) => changes.push(`-${ns}`) });
  return { subset, changes };
}

describe('NamespaceSubset', () => {
  it('holds a namespace while it is wanted and managed, and says so once each way', () => {
    const { subset, changes } = subsetOf(new ManagedNamespaces(['op', 'tenant-a']));
    subset.want('tenant-a', true);
    subset.want('tenant-a', true);
    assert.deepEqual(subset.list(), ['tenant-a']);
    subset.want('tenant-a', false);
    assert.equal(subset.has('tenant-a'), false);
    assert.deepEqual(changes, ['+tenant-a', '-tenant-a']);
  });

  it('never takes in a namespace Palisade does not manage, however much it is wanted', () => {
    const { subset, changes } = subsetOf(new ManagedNamespaces(['op']));
    subset.want('kube-system', true);
    assert.deepEqual(subset.list(), []);
    assert.deepEqual(changes, []);
  });

  it('takes in a wanted namespace when it becomes managed, and lets it go when it stops being so', () => {
    const managed = new ManagedNamespaces(['op']);
    const { subset, changes } = subsetOf(managed);
    subset.want('tenant-a', true);
    managed.add('tenant-a');
    assert.deepEqual(subset.list(), ['tenant-a']);
    managed.remove('tenant-a');
    assert.deepEqual(subset.list(), []);
    managed.add('tenant-a');
    assert.deepEqual(changes, ['+tenant-a', '-tenant-a', '+tenant-a'], 'still wanted: back once managed');
  });

  it('leaves a managed namespace nobody wants alone', () => {
    const managed = new ManagedNamespaces(['op']);
    const { subset, changes } = subsetOf(managed);
    managed.add('tenant-a');
    subset.want('tenant-b', false);
    assert.deepEqual(changes, []);
    assert.deepEqual(subset.fixed, [], 'nothing stays for good');
  });
});

describe('NamespaceSubset with the fixed namespaces, following objects', () => {
  it('keeps the fixed namespaces for good and holds a tenant namespace while any followed object is in it', async () => {
    const managed = new ManagedNamespaces(['op']);
    managed.add('tenant-a');
    managed.add('tenant-b');
    const subset = new NamespaceSubset('holders', managed, { withFixed: true });
    const changes: string[] = [];
    subset.subscribe({ add: (ns) => changes.push(`+${ns}`), remove: (ns) => changes.push(`-${ns}`) });
    assert.deepEqual(subset.fixed, ['op']);
    assert.deepEqual(subset.list(), ['op'], 'a managed namespace holding nothing is not watched');

    // Two kinds followed at once (as ClusterAgents and CertificateBindings are).
    const server = new FakeApiServer();
    const user = server.client('test');
    const secrets = new FakeCache<Secret>(server, { kind: 'Secret' });
    const maps = new FakeCache<KubeObject>(server, { kind: 'ConfigMap' });
    subset.follow('Secret', secrets);
    subset.follow('ConfigMap', maps);
    await secrets.start();
    await maps.start();
    const obj = (kind: string, name: string) => ({
      apiVersion: 'v1',
      kind,
      metadata: { name, namespace: 'tenant-a' },
    });
    await user.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tenant-a' } });
    await user.create(obj('Secret', 'x'));
    await user.create(obj('Secret', 'y'));
    await user.create(obj('ConfigMap', 'x'));
    assert.deepEqual(subset.list().sort(), ['op', 'tenant-a']);
    await user.delete({ kind: 'Secret', name: 'x', namespace: 'tenant-a' });
    await user.delete({ kind: 'Secret', name: 'y', namespace: 'tenant-a' });
    assert.ok(subset.has('tenant-a'), 'the ConfigMap of the same name still holds it');
    await user.delete({ kind: 'ConfigMap', name: 'x', namespace: 'tenant-a' });
    assert.equal(subset.has('tenant-a'), false);

    subset.hold('tenant-b', 'migration', true);
    subset.hold('op', 'migration', true);
    subset.hold('op', 'migration', false);
    assert.ok(subset.has('op'), 'a fixed namespace never leaves');
    subset.hold('tenant-b', 'migration', false);
    assert.deepEqual(changes, ['+tenant-a', '-tenant-a', '+tenant-b', '-tenant-b']);
  });
});

describe('NamespacedInformer over a NamespaceSubset', () => {
  const secret = (namespace: string, name = 's'): Secret => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels: { watch: 'true' } },
  });

  async function world() {
    const server = new FakeApiServer({ namespaces: ['op', 'a', 'b'] });
    const managed = new ManagedNamespaces(['op', 'a', 'b']);
    const subset = new NamespaceSubset('test', managed);
    const made: string[] = [];
    const watched = new NamespacedInformer<Secret>(
      subset,
      (namespace) => {
        made.push(namespace);
        return new FakeCache(server, { kind: 'Secret', namespace, labelSelector: 'watch=true' });
      },
      'Secret',
    );
    const synced: string[] = [];
    watched.onNamespaceSynced((ns) => synced.push(ns));
    await watched.start();
    const c = server.client();
    for (const ns of ['op', 'a', 'b']) await c.create(secret(ns));
    return { managed, subset, watched, made, synced };
  }

  const tick = () => new Promise((r) => setImmediate(r));

  it('watches nowhere until a namespace is wanted, and is synced meanwhile', async () => {
    const { watched, made } = await world();
    assert.deepEqual(made, []);
    assert.deepEqual(watched.list(), []);
    assert.equal(watched.hasSynced(), true, 'nothing fixed to wait for');
    await watched.waitForSync();
    await watched.stop();
  });

  it('starts a cache when a namespace joins, reports it synced, and drops it when the namespace leaves', async () => {
    const { subset, watched, made, synced } = await world();
    subset.want('a', true);
    await tick();
    assert.deepEqual(made, ['a']);
    assert.deepEqual(
      watched.list().map((s) => s.metadata.namespace),
      ['a'],
    );
    assert.deepEqual(synced, ['a'], 'the namespace says when its cache is whole');
    assert.equal(watched.get('s', 'a')?.metadata.namespace, 'a');
    subset.want('a', false);
    assert.deepEqual(watched.list(), []);
    assert.equal(watched.synced('a'), false);
    assert.equal(watched.get('s', 'a'), undefined, 'a miss: the caller reads by name');
    await watched.stop();
  });

  it('starts afresh in a namespace that comes back', async () => {
    const { subset, watched, made, synced } = await world();
    subset.want('b', true);
    await tick();
    subset.want('b', false);
    subset.want('b', true);
    await tick();
    assert.deepEqual(made, ['b', 'b']);
    assert.deepEqual(synced, ['b', 'b']);
    assert.equal(watched.list('b').length, 1);
    await watched.stop();
  });
});
