/** Contract cases about deletion: finalizers, preconditions, garbage collection, namespaces. */
import assert from 'node:assert/strict';
import type { TenantKey } from '../../../../crds/v1alpha1/index.ts';
import type { KubeObject } from '../../kube/types.ts';
import {
  configMap,
  CONFLICT,
  eventually,
  INVALID,
  MANAGER,
  ownerRef,
  RFC3339,
  refOf,
  secret,
  tenantKey,
  type Cases,
} from './support.ts';

export const DELETION_CASES: Cases = {
  async 'finalizers keep a deleted object, with a deletionTimestamp, until the last one is removed'(t) {
    const c = t.client(MANAGER);
    const key = await c.create(tenantKey(t.namespace, 'fin', {}, ['palisade.dev/a', 'palisade.dev/b']));
    await c.delete(refOf(key));
    const marked = await c.get<TenantKey>(refOf(key));
    assert.match(marked?.metadata.deletionTimestamp ?? '', RFC3339);
    assert.equal(marked?.metadata.generation, 2, 'marking for deletion bumps generation');
    const add = { op: 'add', path: '/metadata/finalizers/-', value: 'palisade.dev/c' };
    await assert.rejects(c.jsonPatch(refOf(key), [add]), INVALID);
    const removeAt0 = (value: string) => [
      { op: 'test', path: '/metadata/finalizers/0', value },
      { op: 'remove', path: '/metadata/finalizers/0' },
    ];
    await c.jsonPatch(refOf(key), removeAt0('palisade.dev/a'));
    assert.deepEqual((await c.get(refOf(key)))?.metadata.finalizers, ['palisade.dev/b']);
    await c.jsonPatch(refOf(key), removeAt0('palisade.dev/b'));
    await eventually(async () => assert.equal(await c.get(refOf(key)), undefined), t.settleMs);
  },

  async 'delete honours a uid precondition, and deleting what is gone is not an error, but says so'(t) {
    const c = t.client(MANAGER);
    const cm = await c.create(configMap(t.namespace, 'del'));
    await assert.rejects(c.delete(refOf(cm), { uid: 'not-its-uid' }), CONFLICT);
    assert.ok(await c.get(refOf(cm)));
    assert.equal(await c.delete(refOf(cm), { uid: cm.metadata.uid }), true);
    assert.equal(await c.get(refOf(cm)), undefined);
    assert.equal(await c.delete(refOf(cm)), false, 'already gone');
    await assert.rejects(c.update(cm), { code: 404, reason: 'NotFound' });
  },

  async 'deleting an owner garbage-collects what it alone owns; a shared dependent loses the reference'(t) {
    const c = t.client(MANAGER);
    const owner = await c.create(configMap(t.namespace, 'owner'));
    const other = await c.create(configMap(t.namespace, 'other-owner'));
    const owned = (name: string, owners: KubeObject[]) =>
      c.create(secret(t.namespace, name, { metadata: { name, ownerReferences: owners.map(ownerRef) } }));
    const dependent = await owned('dependent', [owner]);
    const shared = await owned('shared', [owner, other]);
    await c.delete(refOf(owner), { propagationPolicy: 'Background' });
    await eventually(async () => {
      assert.equal(await c.get(refOf(dependent)), undefined);
      const s = await c.get(refOf(shared));
      assert.deepEqual(
        s?.metadata.ownerReferences?.map((r) => r.uid),
        [other.metadata.uid],
      );
    }, t.settleMs);
  },

  async 'a terminating namespace takes no new objects and goes once its content is gone'(t) {
    const c = t.client(MANAGER);
    const ns = `${t.namespace}-t`;
    await c.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const held = await c.create(
      configMap(ns, 'held', { metadata: { name: 'held', finalizers: ['palisade.dev/hold'] } }),
    );
    await c.delete({ kind: 'Namespace', name: ns });
    const terminating = await c.get<KubeObject & { status?: { phase?: string } }>({
      kind: 'Namespace',
      name: ns,
    });
    assert.equal(terminating?.status?.phase, 'Terminating');
    await assert.rejects(c.create(configMap(ns, 'late')), { code: 403, reason: 'Forbidden' });
    await assert.rejects(c.create(configMap(`${ns}-missing`, 'nowhere')), { code: 404, reason: 'NotFound' });
    await eventually(
      async () => assert.ok((await c.get(refOf(held)))?.metadata.deletionTimestamp),
      t.settleMs,
    );
    await c.jsonPatch(refOf(held), [{ op: 'remove', path: '/metadata/finalizers' }]);
    await eventually(
      async () => assert.equal(await c.get({ kind: 'Namespace', name: ns }), undefined),
      t.settleMs,
    );
  },
};
