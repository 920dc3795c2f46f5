// The Tenant kind through the reconcile driver, on the in-memory API server: what a reconcile leaves on
// the server (record, namespace, primary key, status), and what it refuses to touch.
import assert from 'node:assert/strict';
import type { Tenant, TenantKey } from '../../crds/v1alpha1/index.ts';
import { IndexKey, RETAINED_LABEL } from '../keystore/entries.ts';
import { recordOf } from '../keystore/tenants.ts';
import { fakeInstallation, MANAGED_SELECTOR, OPERATOR_NAMESPACE } from '../keystore/testing/installation.ts';
import { ApiError } from '../runtime/errors.ts';
import type { KubeObject, Namespace, Secret } from '../runtime/kube/types.ts';
import { TENANT_LABEL, TENANT_UID_LABEL } from '../runtime/objects.ts';
import { reconcilerFor } from '../runtime/reconciler.ts';
import { tenantKeyKind } from '../tenantkey/reconcile.ts';
import { ACCESS_ROLEBINDING, TenantNamespaceAccess } from './access.ts';
import { TENANT_FINALIZER, TenantReason } from './conditions.ts';
import { PRIMARY_KEY_SETTLE_MS, tenantKind } from './reconcile.ts';

const ROLE = {
  clusterRole: 'palisade-tenant-secrets',
  serviceAccount: 'palisade',
  serviceAccountNamespace: OPERATOR_NAMESPACE,
};

async function tenantWorld(o: { holdTenants?: boolean } = {}) {
  const w = await fakeInstallation();
  const tenants = await w.cache<Tenant>('Tenant', o.holdTenants ? { hold: true } : {});
  const namespaces = await w.cache<Namespace>('Namespace', { labelSelector: MANAGED_SELECTOR });
  const tenantKeys = await w.cache<TenantKey>('TenantKey');
  const access = new TenantNamespaceAccess({
    client: w.client,
    namespaces: w.namespaces,
    keystoreNamespace: OPERATOR_NAMESPACE,
    role: ROLE,
    log: w.log,
  });
  const common = {
    client: w.client,
    events: w.events,
    audit: w.audit,
    env: w.env,
    tenants,
    keystore: w.keystore,
  };
  const now = () => w.env.now().getTime();
  const tenant = reconcilerFor(
    { cache: tenants, client: w.client, now },
    tenantKind({ ...common, namespaces, tenantKeys, access }),
  );
  const key = reconcilerFor(
    { cache: tenantKeys, client: w.client },
    tenantKeyKind({ ...common, tenantKeys }),
  );
  // The user's own writes (kubectl), under another field manager.
  const user = w.server.client('kubectl');
  return {
    ...w,
    tenants,
    user,
    reconcile: (name: string) => tenant(name),
    reconcilePrimaryKey: (name: string) => key(`tenant-${name}/primary`),
    /** As the controllers run a new Tenant: the Tenant, its primary key, the Tenant on the key's update. */
    provision: async (name: string) => {
      await tenant(name);
      await key(`tenant-${name}/primary`);
      return tenant(name);
    },
    create: (name: string, spec: Partial<Tenant['spec']> = {}) =>
      user.create({
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'Tenant',
        metadata: { name },
        spec,
      } as Tenant),
    get: (name: string) => w.client.get<Tenant>({ kind: 'Tenant', name }),
    namespace: (name: string) => w.client.get<Namespace>({ kind: 'Namespace', name }),
    record: (namespace: string) =>
      w.client.get<Secret>({
        kind: 'Secret',
        name: `palisade-tenant-${namespace}`,
        namespace: OPERATOR_NAMESPACE,
      }),
  };
}

/** The conditions of a status as `Type=Status/Reason`, in order. */
function conditions(t: Tenant | undefined): string[] {
  return (t?.status?.conditions ?? []).map((c) => `${c.type}=${c.status}/${c.reason}`);
}

function condition(t: Tenant | undefined, type: string) {
  return t?.status?.conditions?.find((c) => c.type === type);
}

describe('Tenant (reconcile driver, in-memory API server)', () => {
  it('creates the record, the namespace and the primary TenantKey, and reports them in one status', async () => {
    const w = await tenantWorld();
    await w.create('acme');
    // The primary key it just made has no status yet: the Tenant's status waits for it.
    assert.deepEqual(await w.reconcile('acme'), { requeueAfterMs: PRIMARY_KEY_SETTLE_MS });
    assert.equal((await w.get('acme'))?.status, undefined, 'no status while the primary key has none');

    const record = await w.record('tenant-acme');
    assert.ok(record, 'the tenant record is in the keystore');
    const { uid, tenant, namespace } = recordOf(record);
    assert.match(uid, /^[0-9a-f]{12}$/);
    assert.deepEqual([tenant, namespace], ['acme', 'tenant-acme']);

    const ns = await w.namespace('tenant-acme');
    assert.equal(ns?.metadata.labels?.[TENANT_LABEL], 'acme');
    assert.equal(ns?.metadata.labels?.[TENANT_UID_LABEL], uid);
    assert.equal(ns?.metadata.ownerReferences, undefined, 'Retain: no garbage collection can reach it');
    assert.ok(
      await w.client.get({ kind: 'RoleBinding', name: ACCESS_ROLEBINDING, namespace: 'tenant-acme' }),
      "Palisade's Secret role is bound in the namespace",
    );
    const primary = await w.client.get<TenantKey>({
      kind: 'TenantKey',
      name: 'primary',
      namespace: 'tenant-acme',
    });
    const policy = (await w.get('acme'))?.spec.keyPolicy;
    assert.deepEqual(primary?.spec, {
      algorithm: policy?.algorithm,
      retainedVersions: policy?.retainedVersions,
    });

    // The key turns Ready; the Tenant's one status says so.
    await w.reconcilePrimaryKey('acme');
    assert.equal(await w.reconcile('acme'), undefined);
    const t = await w.get('acme');
    assert.deepEqual(t?.metadata.finalizers, [TENANT_FINALIZER]);
    assert.equal(t?.status?.uid, uid);
    assert.equal(t?.status?.namespace, 'tenant-acme');
    assert.equal(t?.status?.primaryKey, 'primary');
    assert.equal(t?.status?.observedGeneration, 1);
    assert.deepEqual(conditions(t), [
      'NamespaceReady=True/NamespaceCreated',
      'PrimaryKeyReady=True/KeyReady',
      'Ready=True/TenantReady',
    ]);
    assert.deepEqual(
      w.events.reasons.filter((r) => r.includes('Namespace')),
      ['Normal/NamespaceCreated'],
    );
    assert.deepEqual(
      w.audit.actions.filter((a) => a.startsWith('tenant.')),
      ['tenant.record.create', 'tenant.namespace.create', 'tenant.uid.assign'],
    );
    assert.ok(w.audit.records.every((r) => r.tenantUID === uid));

    // After that, a reconcile writes nothing at all.
    const written = w.server.resourceVersion;
    const [events, audited] = [w.events.events.length, w.audit.records.length];
    await w.reconcile('acme');
    assert.equal(w.server.resourceVersion, written, 'a converged Tenant costs no write');
    assert.deepEqual([w.events.events.length, w.audit.records.length], [events, audited]);
  });

  it('writes PrimaryKeyPending once the primary key has stayed without a status for the settle time', async () => {
    const w = await tenantWorld();
    await w.create('acme');
    assert.deepEqual(await w.reconcile('acme'), { requeueAfterMs: PRIMARY_KEY_SETTLE_MS });
    w.env.advance(PRIMARY_KEY_SETTLE_MS - 1_000);
    assert.deepEqual(
      await w.reconcile('acme'),
      { requeueAfterMs: 1_000 },
      'the wait runs from the first hold',
    );
    assert.equal((await w.get('acme'))?.status, undefined);

    w.env.advance(1_000);
    assert.equal(await w.reconcile('acme'), undefined);
    const t = await w.get('acme');
    assert.deepEqual(conditions(t), [
      'NamespaceReady=True/NamespaceCreated',
      'PrimaryKeyReady=Unknown/PrimaryKeyPending',
      'Ready=Unknown/PrimaryKeyPending',
    ]);
    assert.match(t?.status?.uid ?? '', /^[0-9a-f]{12}$/);
    assert.deepEqual(w.audit.actions, [
      'tenant.record.create',
      'tenant.namespace.create',
      'tenant.uid.assign',
    ]);

    await w.reconcilePrimaryKey('acme');
    assert.equal(await w.reconcile('acme'), undefined);
    assert.equal(condition(await w.get('acme'), 'Ready')?.status, 'True');
  });

  it('sets NamespaceReady=False/NamespaceConflict for an existing namespace Palisade has no record of, and touches it not', async () => {
    const w = await tenantWorld();
    const squatter = await w.user.create<Namespace>({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'tenant-acme', labels: { [TENANT_LABEL]: 'acme' } },
    });
    await w.create('acme');
    assert.deepEqual(await w.reconcile('acme'), { requeueAfterMs: 60_000 });

    const t = await w.get('acme');
    assert.deepEqual(conditions(t), [
      'NamespaceReady=False/NamespaceConflict',
      'Ready=False/NamespaceConflict',
    ]);
    assert.match(condition(t, 'NamespaceReady')?.message ?? '', /labels are not proof of ownership/);
    assert.equal(t?.status?.uid, undefined, 'no identity is made for it');
    assert.equal(await w.record('tenant-acme'), undefined);
    const ns = await w.namespace('tenant-acme');
    assert.equal(
      ns?.metadata.resourceVersion,
      squatter.metadata.resourceVersion,
      'the namespace is untouched',
    );
    assert.equal(
      await w.client.get({ kind: 'TenantKey', name: 'primary', namespace: 'tenant-acme' }),
      undefined,
    );
    assert.deepEqual(w.events.reasons, ['Warning/NamespaceConflict']);
    assert.deepEqual(w.audit.actions, []);
  });

  it('never adopts a UID that another tenant record holds, whatever its status says', async () => {
    const w = await tenantWorld();
    await w.create('first');
    await w.provision('first');
    const taken = (await w.get('first'))?.status?.uid;
    assert.ok(taken);
    await w.create('second');
    // Someone copies the first tenant's UID into the second's status.
    await w.user.apply(
      {
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'Tenant',
        metadata: { name: 'second' },
        status: { uid: taken },
      } as KubeObject,
      { subresource: 'status' },
    );
    await w.reconcile('second');

    const t = await w.get('second');
    assert.deepEqual(conditions(t), [
      'NamespaceReady=False/NamespaceConflict',
      'Ready=False/NamespaceConflict',
    ]);
    assert.match(
      condition(t, 'NamespaceReady')?.message ?? '',
      /held by another tenant's record; it is never shared/,
    );
    assert.equal(await w.record('tenant-second'), undefined);
    assert.equal(await w.namespace('tenant-second'), undefined);
    assert.equal(
      w.keystore.find(IndexKey.tenantByUID(taken)).length,
      1,
      'the UID still has exactly one record',
    );
  });

  it('on deletion with Retain keeps the namespace and the keys, marks the record retained, and a new Tenant adopts them', async () => {
    const w = await tenantWorld();
    await w.create('acme');
    await w.provision('acme');
    const uid = (await w.get('acme'))?.status?.uid ?? '';
    const keys = (await w.keystore.liveEntriesOf(uid)).map((s) => s.metadata.name).sort();
    assert.equal(keys.length, 2, 'the record and version 1 of the primary key');

    await w.user.delete({ kind: 'Tenant', name: 'acme' });
    await w.reconcile('acme');

    assert.equal(await w.get('acme'), undefined, 'the finalizer is removed and the Tenant goes');
    const ns = await w.namespace('tenant-acme');
    assert.ok(ns && !ns.metadata.deletionTimestamp, 'the namespace stays');
    assert.equal(ns.metadata.labels?.[RETAINED_LABEL], 'true');
    assert.equal(recordOf((await w.record('tenant-acme')) as Secret).retained, true);
    assert.deepEqual((await w.keystore.liveEntriesOf(uid)).map((s) => s.metadata.name).sort(), keys);
    assert.equal(
      await w.client.get({ kind: 'RoleBinding', name: ACCESS_ROLEBINDING, namespace: 'tenant-acme' }),
      undefined,
      "Palisade's Secret rights there go with the Tenant",
    );
    assert.ok(w.events.reasons.includes('Normal/NamespaceRetained'));
    assert.ok(w.audit.actions.includes('tenant.namespace.retain'));

    await w.create('acme');
    await w.reconcile('acme');
    const again = await w.get('acme');
    assert.equal(again?.status?.uid, uid, 'the same identity, and so the same keys');
    assert.equal(recordOf((await w.record('tenant-acme')) as Secret).retained, false);
    assert.ok(w.audit.actions.includes('tenant.record.adopt'));
  });

  it('on deletion with Delete destroys the namespace and every keystore entry of the tenant', async () => {
    const w = await tenantWorld();
    await w.create('acme', { deletionPolicy: 'Delete' });
    await w.provision('acme');
    const uid = (await w.get('acme'))?.status?.uid ?? '';
    assert.equal((await w.keystore.liveEntriesOf(uid)).length, 2);

    await w.user.delete({ kind: 'Tenant', name: 'acme' });
    await w.reconcile('acme');

    assert.equal(await w.get('acme'), undefined);
    assert.deepEqual(await w.keystore.liveEntriesOf(uid), [], 'the record and the key versions are gone');
    const ns = await w.namespace('tenant-acme');
    assert.ok(!ns || ns.metadata.deletionTimestamp, 'the namespace is deleted');
    assert.ok(w.events.reasons.includes('Normal/NamespaceDeleted'));
    const destroy = w.audit.records.find((r) => r.action === 'tenant.destroy');
    assert.equal(destroy?.tenantUID, uid);
  });

  it('re-creates a namespace deleted under a live Tenant: NamespaceRecreated, a Warning Event, the same UID', async () => {
    const w = await tenantWorld();
    await w.create('acme');
    await w.reconcile('acme');
    w.env.advance(PRIMARY_KEY_SETTLE_MS);
    await w.reconcile('acme');
    const uid = (await w.get('acme'))?.status?.uid;
    const before = await w.namespace('tenant-acme');
    await w.user.delete({ kind: 'Namespace', name: 'tenant-acme' });
    assert.equal(await w.namespace('tenant-acme'), undefined);

    await w.reconcile('acme');
    const after = await w.namespace('tenant-acme');
    assert.ok(after && after.metadata.uid !== before?.metadata.uid, 'a new namespace');
    assert.equal(after.metadata.labels?.[TENANT_UID_LABEL], uid);
    const t = await w.get('acme');
    assert.equal(t?.status?.uid, uid);
    assert.equal(condition(t, 'NamespaceReady')?.reason, TenantReason.NamespaceRecreated);
    assert.deepEqual(w.events.reasons, ['Normal/NamespaceCreated', 'Warning/NamespaceRecreated']);
    assert.ok(w.audit.actions.includes('tenant.namespace.recreate'));
    assert.equal(condition(t, 'PrimaryKeyReady')?.reason, 'PrimaryKeyPending', 'only a first status waits');

    // The re-creation stays visible until the spec changes; it is announced once.
    await w.reconcile('acme');
    assert.equal(condition(await w.get('acme'), 'NamespaceReady')?.reason, TenantReason.NamespaceRecreated);
    assert.equal(w.events.reasons.length, 2);
  });

  it('never writes a status computed from a stale cache over a newer one (resourceVersion precondition, 409)', async () => {
    const w = await tenantWorld({ holdTenants: true });
    await w.create('acme');
    w.flush();
    await w.reconcile('acme');
    w.flush();
    w.env.advance(PRIMARY_KEY_SETTLE_MS);
    await w.reconcile('acme');
    w.flush();
    const first = (await w.get('acme'))?.status;
    // The user changes the spec; the Tenant cache has not seen it yet. Meanwhile the primary key turns Ready,
    // so a reconcile from the stale Tenant has a new status to write.
    const t = (await w.get('acme')) as Tenant;
    await w.user.update({ ...t, spec: { ...t.spec, displayName: 'ACME' } });
    await w.reconcilePrimaryKey('acme');

    await assert.rejects(
      w.reconcile('acme'),
      (e: unknown) => e instanceof ApiError && e.code === 409 && e.reason === 'Conflict',
    );
    assert.deepEqual((await w.get('acme'))?.status, first, 'the newer object keeps its status');

    w.flush();
    await w.reconcile('acme');
    const now = await w.get('acme');
    assert.equal(now?.status?.observedGeneration, 2);
    assert.equal(condition(now, 'Ready')?.status, 'True');
  });
});
