/** Contract cases about writes: apply, create, update, patch, status, generation, immutability, lists. */
import assert from 'node:assert/strict';
import type { TenantKey } from '../../../../crds/v1alpha1/index.ts';
import type { ConfigMap, Secret } from '../../kube/types.ts';
import {
  configMap,
  CONFLICT,
  INVALID,
  MANAGER,
  RFC3339,
  refOf,
  secret,
  SPEC,
  statusApply,
  tenantKey,
  type Cases,
} from './support.ts';

export const WRITE_CASES: Cases = {
  async 'server-side apply creates an object, then changes only the fields its manager owns'(t) {
    const [a, b] = [t.client('contract-a'), t.client('contract-b')];
    const mine = { metadata: { name: 'applied', labels: { tier: 'one' } }, data: { w: '0', x: '1', y: '2' } };
    const created = await a.apply<ConfigMap>(configMap(t.namespace, 'applied', mine));
    assert.ok(created.metadata.uid);
    assert.match(created.metadata.creationTimestamp ?? '', RFC3339);
    await b.apply(configMap(t.namespace, 'applied', { data: { z: '3' } }));
    // b forces x to a new value (x becomes b's alone) and names y with a's value (y is now shared).
    const forced = await b.apply<ConfigMap>(
      configMap(t.namespace, 'applied', { data: { x: '9', y: '2', z: '3' } }),
    );
    assert.deepEqual(forced.data, { w: '0', x: '9', y: '2', z: '3' });
    // a stops naming w, x, y and the label: only what a alone owned (w, the label) goes.
    const after = await a.apply<ConfigMap>(configMap(t.namespace, 'applied', { data: {} }));
    assert.deepEqual(after.data, { x: '9', y: '2', z: '3' });
    assert.equal(after.metadata.labels?.tier, undefined);
    assert.equal(after.metadata.uid, created.metadata.uid);
    const again = await a.apply<ConfigMap>(configMap(t.namespace, 'applied', { data: {} }));
    assert.equal(
      again.metadata.resourceVersion,
      after.metadata.resourceVersion,
      'a no-op apply writes nothing',
    );
  },

  async 'an apply with a stale resourceVersion is 409 Conflict, on the object and on /status'(t) {
    const c = t.client(MANAGER);
    const first = await c.apply<ConfigMap>(configMap(t.namespace, 'pre', { data: { v: '1' } }));
    await c.apply(configMap(t.namespace, 'pre', { data: { v: '2' } }));
    const stale = { name: 'pre', resourceVersion: first.metadata.resourceVersion };
    await assert.rejects(
      c.apply(configMap(t.namespace, 'pre', { metadata: stale, data: { v: '3' } })),
      CONFLICT,
    );
    assert.equal((await c.get<ConfigMap>(refOf(first)))?.data?.v, '2');
    const key = await c.create(tenantKey(t.namespace, 'pre'));
    const written = await c.apply<TenantKey>(statusApply(key, { currentVersion: 1 }), {
      subresource: 'status',
    });
    assert.equal(written.status?.currentVersion, 1);
    await assert.rejects(
      c.apply(statusApply(key, { currentVersion: 2 }), { subresource: 'status' }),
      CONFLICT,
    );
    assert.equal((await c.get<TenantKey>(refOf(key)))?.status?.currentVersion, 1);
  },

  async 'create is create-only: a second create is 409 AlreadyExists and leaves the object alone'(t) {
    const c = t.client(MANAGER);
    const first = await c.create(secret(t.namespace, 'once', { data: { k: 'MQ==' } }));
    await assert.rejects(c.create(secret(t.namespace, 'once', { data: { k: 'Mg==' } })), {
      code: 409,
      reason: 'AlreadyExists',
    });
    const now = await c.get<Secret>(refOf(first));
    assert.deepEqual(now?.data, { k: 'MQ==' });
    assert.equal(now?.metadata.resourceVersion, first.metadata.resourceVersion);
    assert.equal(now?.type, 'Opaque');
  },

  async 'an update with a stale resourceVersion is 409 Conflict; a custom resource update needs one'(t) {
    const c = t.client(MANAGER);
    const read = await c.create(configMap(t.namespace, 'upd', { data: { v: '1' } }));
    const updated = await c.update({ ...read, data: { v: '2' } });
    assert.notEqual(updated.metadata.resourceVersion, read.metadata.resourceVersion);
    await assert.rejects(c.update({ ...read, data: { v: '3' } }), CONFLICT);
    assert.equal((await c.get<ConfigMap>(refOf(read)))?.data?.v, '2');
    const key = await c.create(tenantKey(t.namespace, 'upd'));
    const unguarded = { ...key, metadata: { ...key.metadata, resourceVersion: undefined } };
    await assert.rejects(c.update(unguarded), INVALID);
  },

  async 'the status subresource keeps status and spec apart'(t) {
    const c = t.client(MANAGER);
    const created = await c.create<TenantKey>({
      ...tenantKey(t.namespace, 'iso', { algorithm: undefined, retainedVersions: undefined }),
      status: { currentVersion: 7 },
    });
    assert.equal(created.status, undefined, 'status is not written by a create');
    assert.deepEqual(created.spec, SPEC, 'schema defaults are filled in');
    const viaStatus = {
      ...statusApply(created, { currentVersion: 1 }),
      spec: { ...SPEC, rotationTrigger: 'x' },
    };
    viaStatus.metadata = { ...viaStatus.metadata, labels: { via: 'status' } } as typeof viaStatus.metadata;
    const s = await c.apply<TenantKey>(viaStatus, { subresource: 'status' });
    assert.equal(s.status?.currentVersion, 1);
    assert.equal(s.spec.rotationTrigger, 'one');
    assert.equal(s.metadata.labels?.via, undefined);
    const u = await c.update<TenantKey>({ ...s, spec: { ...s.spec, rotationTrigger: 'two' }, status: {} });
    assert.equal(u.spec.rotationTrigger, 'two');
    assert.equal(u.status?.currentVersion, 1, 'an update of the object leaves status alone');
    const main = {
      ...tenantKey(t.namespace, 'iso', { rotationTrigger: 'three' }),
      status: { currentVersion: 5 },
    };
    const a = await c.apply<TenantKey>(main);
    assert.equal(a.spec.rotationTrigger, 'three');
    assert.equal(a.status?.currentVersion, 1, 'an apply of the object leaves status alone');
  },

  async 'generation counts spec changes, not status or metadata; built-in kinds have none'(t) {
    const c = t.client(MANAGER);
    const key = await c.create(tenantKey(t.namespace, 'gen'));
    assert.equal(key.metadata.generation, 1);
    const labelled = await c.jsonPatch<TenantKey>(refOf(key), [
      { op: 'add', path: '/metadata/labels', value: { a: 'b' } },
    ]);
    assert.equal(labelled.metadata.generation, 1);
    const withStatus = await c.apply<TenantKey>(statusApply(labelled, { currentVersion: 1 }), {
      subresource: 'status',
    });
    assert.equal(withStatus.metadata.generation, 1);
    const respec = await c.apply<TenantKey>(tenantKey(t.namespace, 'gen', { rotationTrigger: 'two' }));
    assert.equal(respec.metadata.generation, 2);
    const cm = await c.create(configMap(t.namespace, 'gen', { data: { v: '1' } }));
    const cm2 = await c.update({ ...cm, data: { v: '2' } });
    assert.deepEqual([cm.metadata.generation, cm2.metadata.generation], [undefined, undefined]);
  },

  async 'a JSON patch whose test fails is 422 Invalid and changes nothing'(t) {
    const c = t.client(MANAGER);
    const first = await c.create(configMap(t.namespace, 'patch'));
    const current = await c.update({ ...first, data: { v: '2' } });
    const guarded = (rv: string | undefined) => [
      { op: 'test', path: '/metadata/resourceVersion', value: rv },
      { op: 'add', path: '/metadata/finalizers', value: ['palisade.dev/x'] },
    ];
    await assert.rejects(c.jsonPatch(refOf(first), guarded(first.metadata.resourceVersion)), INVALID);
    const unchanged = await c.get(refOf(first));
    assert.equal(unchanged?.metadata.resourceVersion, current.metadata.resourceVersion);
    assert.equal(unchanged?.metadata.finalizers, undefined);
    const patched = await c.jsonPatch(refOf(first), guarded(current.metadata.resourceVersion));
    assert.deepEqual(patched.metadata.finalizers, ['palisade.dev/x']);
    await c.jsonPatch(refOf(first), [{ op: 'remove', path: '/metadata/finalizers' }]);
  },

  async 'an immutable Secret keeps its data: updates and applies of it are 422 Invalid, labels may change'(
    t,
  ) {
    const c = t.client(MANAGER);
    const s = await c.create(secret(t.namespace, 'sealed', { immutable: true, data: { k: 'MQ==' } }));
    await assert.rejects(c.update({ ...s, data: { k: 'Mg==' } }), INVALID);
    await assert.rejects(c.apply(secret(t.namespace, 'sealed', { data: { k: 'Mg==' } })), INVALID);
    const relabelled = await c.update({ ...s, metadata: { ...s.metadata, labels: { l: '1' } } });
    assert.deepEqual(relabelled.data, { k: 'MQ==' });
    assert.equal(relabelled.metadata.labels?.l, '1');
  },

  async 'list filters by label selector'(t) {
    const c = t.client(MANAGER);
    const labelled = { x: { app: 'a', tier: '1' }, y: { app: 'b' }, z: {} };
    for (const [name, labels] of Object.entries(labelled))
      await c.create(configMap(t.namespace, name, { metadata: { name, labels } }));
    const names = async (labelSelector: string) =>
      (await c.list('ConfigMap', { namespace: t.namespace, labelSelector })).items
        .map((o) => o.metadata.name)
        .filter((n) => n in labelled);
    assert.deepEqual(await names('app=a'), ['x']);
    assert.deepEqual(await names('app'), ['x', 'y']);
    assert.deepEqual(await names('!app'), ['z']);
    assert.deepEqual(await names('app!=a'), ['y', 'z']);
    assert.deepEqual(await names('app in (a,b)'), ['x', 'y']);
    assert.deepEqual(await names('app notin (a)'), ['y', 'z']);
    assert.deepEqual(await names('app=a,tier'), ['x']);
    const list = await c.list('ConfigMap', { namespace: t.namespace, labelSelector: 'app=a' });
    assert.equal(list.items[0]?.kind, undefined, 'items of a built-in kind come without kind');
  },
};
