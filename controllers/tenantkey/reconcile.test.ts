// The TenantKey kind through the reconcile driver, on the in-memory API server: key versions as the
// keystore holds them, and the status and audit trail a reconcile leaves.
import assert from 'node:assert/strict';
import type { TenantKey, TenantKeySpec } from '../../crds/v1alpha1/index.ts';
import { fingerprint, keyId, tenantKeyBinding } from '../crypto/index.ts';
import { RETAINED_LABEL, tenantRecordName } from '../keystore/entries.ts';
import { fakeInstallation, fakeTenant, OPERATOR_NAMESPACE } from '../keystore/testing/installation.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { rotateRootKey } from '../installation/rotation.ts';
import { reconcilerFor } from '../runtime/reconciler.ts';
import { factsOf } from './secrets.ts';
import { TenantKeyReason } from './conditions.ts';
import { tenantKeyKind } from './reconcile.ts';

const UID = '0123456789ab';
const NS = 'tenant-acme';

/** Counts the client's lists of Secrets from now on. */
function countSecretLists(client: { list: (kind: string, ...rest: never[]) => Promise<unknown> }) {
  const counter = { count: 0 };
  const list = client.list.bind(client);
  client.list = (kind: string, ...rest: never[]) => {
    if (kind === 'Secret') counter.count++;
    return list(kind, ...rest);
  };
  return counter;
}

/** A tenant as Palisade records it (its namespace and its record), and one TenantKey controller. */
async function keyWorld(o: { holdSecrets?: boolean; holdKeys?: boolean } = {}) {
  const w = await fakeInstallation(o.holdSecrets ? { holdSecrets: true } : {});
  await fakeTenant(w, { namespace: NS, uid: UID, tenant: 'acme' });
  const tenantKeys = await w.cache<TenantKey>('TenantKey', o.holdKeys ? { hold: true } : {});
  const deps = { client: w.client, events: w.events, audit: w.audit, env: w.env, tenantKeys };
  const reconcile = reconcilerFor(
    { cache: tenantKeys, client: w.client },
    tenantKeyKind({ ...deps, keystore: w.keystore }),
  );
  const user = w.server.client('kubectl');
  const ref = (name: string) => ({ kind: 'TenantKey', name, namespace: NS });
  const get = (name: string) => w.client.get<TenantKey>(ref(name));
  return {
    ...w,
    user,
    get,
    reconcile: (name: string) => reconcile(`${NS}/${name}`),
    /** A root key rotation (`palisade root-key rotate`), seen by the caches. */
    rotateRoot: async () => {
      await rotateRootKey({
        client: w.client,
        namespace: OPERATOR_NAMESPACE,
        rand: w.env.rand,
        audit: w.audit,
      });
      await w.tick();
    },
    create: (name: string, spec: Partial<TenantKeySpec> = {}) =>
      user.create({
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'TenantKey',
        metadata: { name, namespace: NS },
        spec,
      }),
    /** Changes the spec as a user would (an update over the live object). */
    edit: async (name: string, spec: Partial<TenantKeySpec>) => {
      const tk = (await get(name)) as TenantKey;
      await user.update({ ...tk, spec: { ...tk.spec, ...spec } });
    },
    /** The key's version Secrets in the keystore, read live, by version. */
    versions: async (name: string) => {
      const all = await w.keystore.liveEntriesOf(UID);
      return all
        .filter((s) => factsOf(s).keyName === name)
        .sort((a, b) => factsOf(a).version - factsOf(b).version);
    },
  };
}

function conditions(tk: TenantKey | undefined): string[] {
  return (tk?.status?.conditions ?? []).map((c) => `${c.type}=${c.status}/${c.reason}`);
}

describe('TenantKey (reconcile driver, in-memory API server)', () => {
  it('generates version 1 in the keystore, wrapped for this tenant, key and version, and reports only its public facts', async () => {
    const w = await keyWorld();
    await w.create('data');
    await w.reconcile('data');

    const tk = await w.get('data');
    const [v1, ...more] = await w.versions('data');
    assert.ok(v1 && more.length === 0, 'exactly one version Secret');
    assert.equal(v1.metadata.name, `palisade-key-${UID}-data-v1`);
    assert.equal(v1.immutable, true);
    assert.equal(v1.metadata.ownerReferences, undefined, 'no garbage collection can reach key material');
    const binding = tenantKeyBinding({
      tenantUID: UID,
      keyName: 'data',
      keyUID: tk?.metadata.uid ?? '',
      version: 1,
    });
    const key = w.keystore.unwrap(v1, binding);
    assert.equal(key.length, 32);
    const other = tenantKeyBinding({
      tenantUID: UID,
      keyName: 'other',
      keyUID: tk?.metadata.uid ?? '',
      version: 1,
    });
    assert.throws(() => w.keystore.unwrap(v1, other), 'bound to its place');

    assert.equal(tk?.status?.currentVersion, 1);
    assert.equal(tk?.status?.tenantUID, UID);
    assert.deepEqual(
      tk?.status?.versions?.map((v) => [v.version, v.state, v.keyId, v.fingerprint, v.rootKeyVersion]),
      [[1, 'Active', keyId(key), fingerprint(key), 1]],
    );
    assert.deepEqual(conditions(tk), [
      'KeyReady=True/VersionsAvailable',
      'RootKeyCurrent=True/Rewrapped',
      'Ready=True/KeyReady',
    ]);
    assert.ok(
      !JSON.stringify(tk?.status).includes(Buffer.from(key).toString('base64')),
      'no key bytes in status',
    );
    assert.deepEqual(w.events.reasons, ['Normal/KeyGenerated']);
    assert.deepEqual(
      w.audit.records.map((r) => [r.action, r.tenantUID, r.version, r.keyId]),
      [['tenantkey.generate', UID, 1, keyId(key)]],
    );
  });

  it('rotates exactly once per rotationTrigger change, even when its cached status still lags', async () => {
    const w = await keyWorld({ holdKeys: true });
    await w.create('data', { rotationTrigger: 'one' });
    w.flush();
    await w.reconcile('data');
    w.flush();
    await w.reconcile('data');
    assert.equal((await w.versions('data')).length, 1, 'the first trigger value does not rotate');

    await w.edit('data', { rotationTrigger: 'two' });
    w.flush();
    await w.reconcile('data');
    assert.deepEqual(
      (await w.versions('data')).map((s) => [factsOf(s).version, factsOf(s).trigger]),
      [
        [1, 'one'],
        [2, 'two'],
      ],
    );
    // The cache still holds the TenantKey whose status lists version 1 only: no second rotation.
    await w.reconcile('data');
    w.flush();
    await w.reconcile('data');
    assert.equal((await w.versions('data')).length, 2);
    const tk = await w.get('data');
    assert.equal(tk?.status?.currentVersion, 2);
    assert.equal(tk?.status?.lastRotationTrigger, 'two');
    assert.deepEqual(w.events.reasons, ['Normal/KeyGenerated', 'Normal/KeyRotated']);
    assert.deepEqual(w.audit.actions, ['tenantkey.generate', 'tenantkey.rotate']);
  });

  it('generates, rotates and destroys nothing while its Tenant is deleted with Retain, and goes on once it is back', async () => {
    const w = await keyWorld();
    await w.create('data', { rotationTrigger: 'one' });
    await w.reconcile('data');
    const record = { kind: 'Secret', name: tenantRecordName(NS), namespace: OPERATOR_NAMESPACE };
    const label = `/metadata/labels/${RETAINED_LABEL.replace('/', '~1')}`;
    await w.client.jsonPatch(record, [{ op: 'add', path: label, value: 'true' }]);
    w.flush();
    // The namespace's editors still hold their rights: a rotation and a destroy asked for meanwhile.
    await w.create('fresh');
    await w.edit('data', { rotationTrigger: 'two' });
    await w.reconcile('data');
    await w.reconcile('fresh');
    assert.equal((await w.versions('data')).length, 1);
    assert.equal((await w.versions('fresh')).length, 0);
    const held = await w.get('data');
    assert.ok(conditions(held).includes('Ready=False/TenantNotFound'), conditions(held).join(', '));
    const ready = held?.status?.conditions?.find((c) => c.type === 'Ready');
    assert.match(ready?.message ?? '', /deletionPolicy Retain kept its keys/);
    assert.equal((await w.get('data'))?.status?.versions?.length, 1, 'status still lists the kept version');

    await w.client.jsonPatch(record, [{ op: 'remove', path: label }]);
    w.flush();
    await w.reconcile('data');
    await w.reconcile('fresh');
    assert.equal((await w.versions('data')).length, 2, 'the rotation asked for goes ahead');
    assert.equal((await w.versions('fresh')).length, 1);
  });

  it('destroys every wrap of the versions below destroyBelowVersion, and status remembers them', async () => {
    const w = await keyWorld();
    await w.create('data', { rotationTrigger: 'a' });
    await w.reconcile('data');
    for (const trigger of ['b', 'c']) {
      await w.edit('data', { rotationTrigger: trigger });
      await w.reconcile('data');
    }
    assert.equal((await w.versions('data')).length, 3);

    await w.edit('data', { destroyBelowVersion: 2 });
    await w.reconcile('data');
    assert.deepEqual(
      (await w.versions('data')).map((s) => factsOf(s).version),
      [2, 3],
    );
    const tk = await w.get('data');
    assert.deepEqual(
      tk?.status?.versions?.map((v) => [v.version, v.state]),
      [
        [1, 'Destroyed'],
        [2, 'DecryptOnly'],
        [3, 'Active'],
      ],
    );
    assert.equal(tk?.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    const destroyed = w.audit.records.filter((r) => r.action === 'tenantkey.destroy');
    assert.deepEqual(
      destroyed.map((r) => r.version),
      [1],
    );
    assert.equal(w.events.reasons.filter((r) => r === 'Normal/KeyDestroyed').length, 1);

    // A destroyed version is not missing key material.
    await w.reconcile('data');
    assert.equal((await w.get('data'))?.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
  });

  it("makes a new key's first version once when a crash lost its status, checking live by name (no keystore list)", async () => {
    const w = await keyWorld({ holdSecrets: true });
    await w.create('data');
    // The first run makes version 1, then dies before its status is written.
    const apply = w.client.apply.bind(w.client);
    w.client.apply = (async (obj: never, opts?: { subresource?: 'status' }) => {
      if (opts?.subresource === 'status') throw new Error('connection reset');
      return apply(obj, opts);
    }) as typeof w.client.apply;
    await assert.rejects(w.reconcile('data'), /connection reset/);
    w.client.apply = apply;
    assert.equal((await w.versions('data')).length, 1);
    // The Secret cache has not seen version 1, and no status lists it: the next run would make version 1 again.
    const lists = countSecretLists(w.client);
    await assert.rejects(
      w.reconcile('data'),
      /version 1 of tenant-acme\/data already exists; the cache is behind/,
    );
    assert.equal(lists.count, 0, 'a GET per name version 1 may have, not a list of the whole keystore');
    assert.equal((await w.versions('data')).length, 1, 'no second version 1');
    w.flush();
    await w.reconcile('data');
    assert.equal((await w.get('data'))?.status?.currentVersion, 1);
  });

  it('claims KeyMaterialMissing only after a live read agrees, and never generates a version in its place', async () => {
    const w = await keyWorld({ holdSecrets: true });
    await w.create('data');
    await w.reconcile('data');
    assert.equal((await w.get('data'))?.status?.currentVersion, 1);

    // The Secret cache has not seen version 1 yet, though status lists it.
    const lists = countSecretLists(w.client);
    await assert.rejects(w.reconcile('data'), /cache has not seen them yet/);
    assert.equal(lists.count, 0, 'the live read is a GET by name, not a list of the whole keystore');
    assert.deepEqual(conditions(await w.get('data')).at(-1), 'Ready=True/KeyReady');
    assert.equal((await w.versions('data')).length, 1, 'no version made in its place');

    w.flush();
    await w.reconcile('data');
    const [v1] = await w.versions('data');
    await w.client.delete({
      kind: 'Secret',
      name: (v1 as Secret).metadata.name,
      namespace: OPERATOR_NAMESPACE,
    });
    w.flush();
    lists.count = 0;
    assert.deepEqual(await w.reconcile('data'), { requeueAfterMs: 30_000 });
    assert.equal(
      lists.count,
      1,
      'found under no name it may have: a list of its labels agrees before the claim',
    );

    const tk = await w.get('data');
    assert.deepEqual(conditions(tk), [
      'KeyReady=False/KeyMaterialMissing',
      'RootKeyCurrent=True/Rewrapped',
      'Ready=False/KeyMaterialMissing',
    ]);
    assert.match(tk?.status?.conditions?.[0]?.message ?? '', /restore them from a backup/);
    assert.deepEqual(await w.versions('data'), [], 'nothing generated in its place');
  });

  it('contains a damaged version: reports it, warns, audits, and leaves every version (and any rotation) alone', async () => {
    const w = await keyWorld();
    await w.create('data', { rotationTrigger: 'a' });
    await w.reconcile('data');
    await w.edit('data', { rotationTrigger: 'b' });
    await w.reconcile('data');
    const [v1, v2] = (await w.versions('data')) as [Secret, Secret];
    // Version 1's Secret now holds version 2's wrap (copied over it, or altered).
    await w.client.delete({ kind: 'Secret', name: v1.metadata.name, namespace: OPERATOR_NAMESPACE });
    const damaged = await w.client.create<Secret>({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: v1.metadata.name,
        namespace: OPERATOR_NAMESPACE,
        labels: v1.metadata.labels,
        annotations: v1.metadata.annotations,
      },
      immutable: true,
      data: v2.data,
    });
    await w.edit('data', { rotationTrigger: 'c' });
    const [events, audited] = [w.events.events.length, w.audit.records.length];
    await w.reconcile('data');

    const tk = await w.get('data');
    assert.deepEqual(conditions(tk), [
      'KeyReady=False/KeyBindingMismatch',
      'RootKeyCurrent=True/Rewrapped',
      'Ready=False/KeyBindingMismatch',
    ]);
    assert.match(
      tk?.status?.conditions?.[0]?.message ?? '',
      new RegExp(`${v1.metadata.name} \\(version 1\\)`),
    );
    assert.deepEqual(
      tk?.status?.versions?.map((v) => v.version),
      [1, 2],
    );
    const after = await w.versions('data');
    assert.deepEqual(
      after.map((s) => s.metadata.resourceVersion),
      [damaged.metadata.resourceVersion, v2.metadata.resourceVersion],
      'both versions untouched, no version 3',
    );
    assert.deepEqual(
      w.events.events.slice(events).map((e) => `${e.type}/${e.reason}`),
      [`Warning/${TenantKeyReason.KeyBindingMismatch}`],
    );
    assert.deepEqual(
      w.audit.records.slice(audited).map((r) => [r.action, r.outcome, r.version]),
      [['tenantkey.verify', 'Failure', 1]],
    );
  });

  it('takes back its own rewrap when the wrap it was made from is destroyed meanwhile', async () => {
    const w = await keyWorld();
    await w.create('data');
    await w.reconcile('data');
    const [v1] = (await w.versions('data')) as [Secret];
    await w.rotateRoot();
    // A destroy of version 1 (destroyBelowVersion, another replica) lands between the rewrap's create of
    // the wrap under root version 2 and its delete of the old wrap, which then finds it gone.
    const other = w.server.client('palisade-other-replica');
    const create = w.client.create.bind(w.client);
    w.client.create = (async (o: Secret) => {
      const made = await create(o);
      if (o.metadata.name === `${v1.metadata.name}-r2`)
        await other.delete({ kind: 'Secret', name: v1.metadata.name, namespace: OPERATOR_NAMESPACE });
      return made;
    }) as typeof w.client.create;
    await w.keystore.rewrapSlot(v1.metadata.name, [v1]);
    assert.deepEqual(
      (await w.versions('data')).map((s) => s.metadata.name),
      [],
      'the destroyed version is not brought back by its rewrap',
    );
  });

  it('keeps RootKeyCurrent true to the keystore when a version fails to unwrap (not the last verdict before it)', async () => {
    const w = await keyWorld();
    await w.create('data', { rotationTrigger: 'a' });
    await w.reconcile('data');
    assert.ok(conditions(await w.get('data')).includes('RootKeyCurrent=True/Rewrapped'));
    const [v1] = (await w.versions('data')) as [Secret];
    await w.rotateRoot();
    // Version 1's wrap damaged before any rewrap: it no longer unwraps, and root version 2 wraps nothing.
    await w.client.delete({ kind: 'Secret', name: v1.metadata.name, namespace: OPERATOR_NAMESPACE });
    await w.client.create<Secret>({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: v1.metadata.name,
        namespace: OPERATOR_NAMESPACE,
        labels: v1.metadata.labels,
        annotations: v1.metadata.annotations,
      },
      immutable: true,
      data: { ...v1.data, wrapped: Buffer.from('not a wrap').toString('base64') },
    });
    await w.tick();
    await w.reconcile('data');

    const got = conditions(await w.get('data'));
    assert.equal(got[0]?.startsWith('KeyReady=False/'), true, got.join(', '));
    assert.deepEqual(got.slice(1), [
      'RootKeyCurrent=False/RewrapPending',
      `Ready=False/${got[0]?.split('/')[1]}`,
    ]);
  });
});
