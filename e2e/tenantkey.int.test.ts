import assert from 'node:assert/strict';
import type { Tenant, TenantKey } from '../crds/v1alpha1/index.ts';
import { runCli } from '../controllers/cli.ts';
import type { KubeClient } from '../controllers/runtime/kube/client.ts';
import type { KubeObject, Secret } from '../controllers/runtime/kube/types.ts';
import { FIELD_MANAGER } from '../controllers/runtime/manager.ts';
import { loadTenantDataKeys } from '../controllers/keyservice/tenantdata.ts';
import type { ControlPlane } from '../hack/controlplane/index.ts';
import { tenantManifest, uniqueName } from './support/cluster.ts';
import { eventually } from './support/operator.ts';
import {
  adminClient,
  eventuallyKey,
  privateControlPlane,
  rand,
  ready,
  startInProcessOperator,
  tenantKey,
  tenantNamespace,
  unwrapEveryVersion,
  versionSecrets,
  type InProcessOperator,
} from './support/tenantkeys.ts';

const OPERATOR_NS = 'palisade-system';
const HOUR = 3600_000;
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const states = (tk: TenantKey) => tk.status?.versions?.map((v) => `${v.version}:${v.state}`).join(' ');

describe('TenantKey (controllers in-process, private control plane, injectable clock)', function () {
  let cp: ControlPlane;
  let client: KubeClient;
  let op: InProcessOperator;

  before(async function () {
    cp = await privateControlPlane();
    client = adminClient(cp);
    await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NS } });
    op = await startInProcessOperator({ kubeconfig: cp.kubeconfig, namespace: OPERATOR_NS });
  });

  after(async function () {
    await op?.stop();
    await cp?.stop();
  });

  async function newKey(spec: Record<string, unknown> = {}) {
    const ns = uniqueName('tenant-k');
    const uid = await tenantNamespace(client, ns);
    await client.apply(tenantKey(ns, 'k', spec));
    const tk = await eventuallyKey(client, ns, 'k', (k) => ready(k) && k.status?.currentVersion === 1, 'v1');
    return { ns, uid, tk };
  }

  it("creates version 1 in an immutable, unowned keystore Secret in the operator's namespace, listed in status without key bytes", async function () {
    const { ns, uid, tk } = await newKey();
    assert.equal(tk.status?.tenantUID, uid);
    const [v1] = tk.status?.versions ?? [];
    assert.equal(v1?.state, 'Active');
    assert.equal(v1?.rootKeyVersion, 1);
    assert.match(v1?.fingerprint ?? '', /^sha256:[0-9a-f]{64}$/);
    const [secret, ...more] = await versionSecrets(client, ns, 'k');
    assert.equal(more.length, 0);
    assert.equal(secret?.metadata.name, `palisade-key-${uid}-k-v1`);
    assert.equal(secret?.metadata.namespace, OPERATOR_NS, 'no tenant-side action reaches it');
    assert.equal(secret?.immutable, true);
    assert.equal(secret?.metadata.ownerReferences, undefined, 'garbage collection can never reach it');
    assert.equal(secret?.metadata.labels?.['palisade.dev/root-key-version'], '1');
    const key = (await unwrapEveryVersion(client, OPERATOR_NS, ns, 'k')).get(1) ?? '';
    assert.equal(key.length, 64);
    assert.ok(!JSON.stringify(tk).includes(key), 'status carries no key material');
    assert.ok(tk.metadata.finalizers?.includes('palisade.dev/tenantkey-deletion'));
    // The finalizer's JSON patch is recorded under the operator's field manager, not "unknown".
    const fresh = await client.get<TenantKey>({ kind: 'TenantKey', name: 'k', namespace: ns });
    const managers = (fresh?.metadata as { managedFields?: { manager: string; fieldsV1?: object }[] })
      .managedFields;
    const finalizerManagers = (managers ?? [])
      .filter((m) => JSON.stringify(m.fieldsV1 ?? {}).includes('"f:finalizers"'))
      .map((m) => m.manager);
    assert.deepEqual(finalizerManagers, [FIELD_MANAGER]);
  });

  it('stays Ready=True but says PolicyAheadOfVersion when minDecryptionVersion is above the current version', async function () {
    const ns = uniqueName('tenant-k');
    await tenantNamespace(client, ns);
    await client.apply(tenantKey(ns, 'k', { minDecryptionVersion: 3 }));
    const tk = await eventuallyKey(client, ns, 'k', (k) => ready(k) && k.status?.currentVersion === 1, 'v1');
    const r = tk.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(r?.reason, 'PolicyAheadOfVersion');
    assert.match(r?.message ?? '', /spec\.minDecryptionVersion \(3\) is ahead of the current version \(1\)/);
    // Lowered to the current version: the warning goes.
    await client.apply(tenantKey(ns, 'k', { minDecryptionVersion: 1 }));
    await eventuallyKey(
      client,
      ns,
      'k',
      (k) => k.status?.conditions?.find((c) => c.type === 'Ready')?.reason === 'KeyReady',
      'KeyReady',
    );
  });

  it('gives a TenantKey of the longest name the CRD allows (30 characters) its versions', async function () {
    // Its keystore entries are labelled palisade-key-<uid>-<name>-v<N>: a longer name made every create fail.
    const ns = uniqueName('tenant-k');
    await tenantNamespace(client, ns);
    const name = 'long-'.padEnd(30, 'k');
    await client.apply(tenantKey(ns, name, {}));
    await eventuallyKey(client, ns, name, (k) => ready(k) && k.status?.currentVersion === 1, 'v1');
    await client.apply(tenantKey(ns, name, { rotationTrigger: 'rotate-1' }));
    await eventuallyKey(client, ns, name, (k) => ready(k) && k.status?.currentVersion === 2, 'v2');
    assert.equal((await versionSecrets(client, ns, name)).length, 2);
  });

  it('rotates exactly once per rotationTrigger change, never for the initial trigger', async function () {
    const { ns } = await newKey({ rotationTrigger: 'initial' });
    assert.equal((await versionSecrets(client, ns, 'k')).length, 1, 'the initial trigger does not rotate');
    await client.apply(tenantKey(ns, 'k', { rotationTrigger: 'rotate-1' }));
    let tk = await eventuallyKey(client, ns, 'k', (k) => ready(k) && k.status?.currentVersion === 2, 'v2');
    assert.equal(tk.status?.lastRotationTrigger, 'rotate-1');
    // A resync of the same trigger, and an unrelated spec change, add nothing.
    op.poke(ns, 'k');
    await client.apply(tenantKey(ns, 'k', { rotationTrigger: 'rotate-1', retainedVersions: 5 }));
    tk = await eventuallyKey(client, ns, 'k', ready, 'converged after an unrelated change');
    assert.equal(tk.status?.currentVersion, 2);
    await client.apply(tenantKey(ns, 'k', { rotationTrigger: 'rotate-2', retainedVersions: 5 }));
    tk = await eventuallyKey(client, ns, 'k', (k) => ready(k) && k.status?.currentVersion === 3, 'v3');
    assert.equal(states(tk), '1:DecryptOnly 2:DecryptOnly 3:Active');
    assert.equal((await versionSecrets(client, ns, 'k')).length, 3);
  });

  it('rotates by period on the injected clock, and data encrypted before still decrypts after', async function () {
    const { ns } = await newKey({ rotationPeriod: '24h' });
    const before = await loadTenantDataKeys(client, {
      namespace: ns,
      key: 'k',
      operatorNamespace: OPERATOR_NS,
      rand,
    });
    const sealed = before.encrypt(new TextEncoder().encode('alice@example.com'), 'user/1/email');
    op.advance(23 * HOUR);
    op.poke(ns, 'k');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await versionSecrets(client, ns, 'k')).length, 1, 'not due after 23h');
    op.advance(2 * HOUR);
    op.poke(ns, 'k');
    const tk = await eventuallyKey(
      client,
      ns,
      'k',
      (k) => ready(k) && k.status?.currentVersion === 2,
      'v2 by period',
    );
    assert.ok(tk.status?.lastRotationTime);
    const after = await loadTenantDataKeys(client, {
      namespace: ns,
      key: 'k',
      operatorNamespace: OPERATOR_NS,
      rand,
    });
    assert.equal(after.activeVersion, 2);
    assert.equal(text(after.decrypt(sealed, 'user/1/email')), 'alice@example.com');
    assert.throws(() => after.decrypt(sealed, 'user/2/email'), /authentication|AuthenticationFailed/i);
  });

  it('keeps retainedVersions decrypt-only, disables older ones, destroys only below destroyBelowVersion', async function () {
    const { ns, uid } = await newKey({ retainedVersions: 1, rotationTrigger: 't1' });
    const v1data = (
      await loadTenantDataKeys(client, { namespace: ns, key: 'k', operatorNamespace: OPERATOR_NS, rand })
    ).encrypt(new TextEncoder().encode('old'));
    for (const t of ['t2', 't3']) {
      await client.apply(tenantKey(ns, 'k', { retainedVersions: 1, rotationTrigger: t }));
      await eventuallyKey(client, ns, 'k', (k) => ready(k) && k.status?.lastRotationTrigger === t, t);
    }
    let tk = await eventuallyKey(client, ns, 'k', ready, 'three versions');
    assert.equal(states(tk), '1:Disabled 2:DecryptOnly 3:Active');
    assert.equal((await versionSecrets(client, ns, 'k')).length, 3, 'a disabled version is kept');
    const keys = await loadTenantDataKeys(client, {
      namespace: ns,
      key: 'k',
      operatorNamespace: OPERATOR_NS,
      rand,
    });
    assert.throws(() => keys.decrypt(v1data), /version 1, which is Disabled/);
    const spec = {
      retainedVersions: 1,
      rotationTrigger: 't3',
      minDecryptionVersion: 2,
      destroyBelowVersion: 2,
    };
    await client.apply(tenantKey(ns, 'k', spec));
    tk = await eventuallyKey(
      client,
      ns,
      'k',
      (k) => ready(k) && states(k)?.startsWith('1:Destroyed') === true,
      'destroyed',
    );
    assert.equal(states(tk), '1:Destroyed 2:DecryptOnly 3:Active');
    assert.deepEqual((await versionSecrets(client, ns, 'k')).map((s) => s.metadata.name).sort(), [
      `palisade-key-${uid}-k-v2`,
      `palisade-key-${uid}-k-v3`,
    ]);
    assert.match(await op.audit(), /"action":"tenantkey.destroy".*"version":1/);
  });

  it('ignores key Secrets planted in a tenant namespace: they are neither adopted nor touched, and block nothing', async function () {
    const victim = await newKey();
    const attackerNs = uniqueName('tenant-k');
    await tenantNamespace(client, attackerNs);
    const [stolen] = await versionSecrets(client, victim.ns, 'k');
    const planted: Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'planted-v1',
        namespace: attackerNs,
        labels: stolen?.metadata.labels,
        annotations: stolen?.metadata.annotations,
      },
      immutable: true,
      data: stolen?.data,
    };
    const plantedRV = (await client.create(planted)).metadata.resourceVersion;
    await client.apply(tenantKey(attackerNs, 'k'));
    const tk = await eventuallyKey(
      client,
      attackerNs,
      'k',
      (k) => ready(k) && k.status?.currentVersion === 1,
      'own v1',
    );
    const own = await unwrapEveryVersion(client, OPERATOR_NS, attackerNs, 'k');
    const theirs = await unwrapEveryVersion(client, OPERATOR_NS, victim.ns, 'k');
    assert.notEqual(own.get(1), theirs.get(1), "the attacker's key is its own, not the victim's");
    assert.equal(tk.status?.versions?.length, 1);
    const still = await client.get<Secret>({ kind: 'Secret', name: 'planted-v1', namespace: attackerNs });
    assert.equal(still?.metadata.resourceVersion, plantedRV, 'Palisade does not touch what it does not own');
    await client.delete({ kind: 'Secret', name: 'planted-v1', namespace: attackerNs });
  });

  it('refuses a keystore entry filed under another tenant: Ready=False/KeyBindingMismatch, Warning Event', async function () {
    const victim = await newKey();
    const attackerNs = uniqueName('tenant-k');
    const attackerUID = await tenantNamespace(client, attackerNs);
    const [stolen] = await versionSecrets(client, victim.ns, 'k');
    const name = `palisade-key-${attackerUID}-k2-v1`;
    // Only someone with write access to the operator's namespace could do this; the binding still refuses it.
    await client.create<Secret>({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name,
        namespace: OPERATOR_NS,
        labels: {
          ...stolen?.metadata.labels,
          'palisade.dev/tenant-uid': attackerUID,
          'palisade.dev/tenantkey': 'k2',
          'palisade.dev/tenant-namespace': attackerNs,
          'palisade.dev/keystore-slot': name,
        },
        annotations: stolen?.metadata.annotations,
      },
      immutable: true,
      data: stolen?.data,
    });
    await client.apply(tenantKey(attackerNs, 'k2'));
    const tk = await eventuallyKey(
      client,
      attackerNs,
      'k2',
      (k) =>
        k.status?.conditions?.some((c) => c.type === 'Ready' && c.reason === 'KeyBindingMismatch') === true,
      'KeyBindingMismatch',
    );
    const cond = tk.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(cond?.status, 'False');
    assert.match(cond?.message ?? '', /wrapped for another tenant, key or version/);
    assert.equal((await versionSecrets(client, attackerNs, 'k2')).length, 1, 'nothing was generated over it');
    await eventually('a Warning Event', async () => {
      const events = await client.list<KubeObject & { reason?: string; type?: string }>('Event', {
        namespace: attackerNs,
      });
      return events.items.some((e) => e.reason === 'KeyBindingMismatch' && e.type === 'Warning');
    });
    assert.match(
      await op.audit(),
      /"action":"tenantkey.verify".*"outcome":"Failure","reason":"KeyBindingMismatch"/,
    );
    await client.delete({ kind: 'TenantKey', name: 'k2', namespace: attackerNs });
    await eventually(
      'TenantKey gone',
      async () => !(await client.get({ kind: 'TenantKey', name: 'k2', namespace: attackerNs })),
    );
    await client.delete({ kind: 'Secret', name, namespace: OPERATOR_NS });
  });

  it('gives every Tenant a primary TenantKey and mirrors its readiness in PrimaryKeyReady', async function () {
    const name = uniqueName('acme');
    await client.apply(tenantManifest(name, { keyPolicy: { rotationPeriod: '720h' } }));
    const tenant = await eventually('Tenant Ready with a primary key', async () => {
      const t = await client.get<Tenant>({ kind: 'Tenant', name });
      return t?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? t : undefined;
    });
    assert.equal(tenant.status?.primaryKey, 'primary');
    assert.equal(tenant.status?.conditions?.find((c) => c.type === 'PrimaryKeyReady')?.status, 'True');
    const tk = await eventuallyKey(client, `tenant-${name}`, 'primary', ready, 'primary ready');
    assert.equal(tk.spec.rotationPeriod, '720h');
    assert.equal(tk.status?.tenantUID, tenant.status?.uid);
  });

  it('deleting a TenantKey keeps its keystore entries; a re-created key of the same name adopts them', async function () {
    const { ns } = await newKey();
    const before = await unwrapEveryVersion(client, OPERATOR_NS, ns, 'k');
    await client.delete({ kind: 'TenantKey', name: 'k', namespace: ns });
    await eventually(
      'TenantKey gone',
      async () => !(await client.get({ kind: 'TenantKey', name: 'k', namespace: ns })),
    );
    const kept = await versionSecrets(client, ns, 'k');
    assert.equal(kept.length, 1);
    await client.apply(tenantKey(ns, 'k'));
    await eventuallyKey(client, ns, 'k', (k) => ready(k) && k.status?.currentVersion === 1, 'adopted v1');
    assert.deepEqual(await unwrapEveryVersion(client, OPERATOR_NS, ns, 'k'), before);
  });

  it('root rotation (palisade root-key rotate) rewraps every key version and retires the old root', async function () {
    const keys = await Promise.all([newKey(), newKey({ rotationTrigger: 'a' })]);
    await client.apply(tenantKey(keys[1].ns, 'k', { rotationTrigger: 'b' }));
    await eventuallyKey(client, keys[1].ns, 'k', (k) => ready(k) && k.status?.currentVersion === 2, 'v2');
    const before = await Promise.all(keys.map((k) => unwrapEveryVersion(client, OPERATOR_NS, k.ns, 'k')));
    const out: string[] = [];
    const code = await runCli(
      ['root-key', 'rotate', `--kubeconfig=${cp.kubeconfig}`, `--namespace=${OPERATOR_NS}`],
      {
        stdin: async () => new Uint8Array(),
        stdout: (s) => out.push(String(s)),
        stderr: (s) => out.push(s),
        audit: { record: () => undefined },
      },
    );
    assert.equal(code, 0);
    assert.match(out.join(''), /created root key version 2/);
    await eventually(
      'root key v1 retired',
      async () =>
        !(await client.get({ kind: 'Secret', name: 'palisade-root-key-v1', namespace: OPERATOR_NS })),
      60_000,
    );
    const all = await client.list<Secret>('Secret', {
      namespace: OPERATOR_NS,
      labelSelector: 'palisade.dev/keystore-kind=tenant-key',
    });
    assert.ok(all.items.length > 0);
    for (const s of all.items)
      assert.equal(s.metadata.labels?.['palisade.dev/root-key-version'], '2', s.metadata.name);
    for (const [i, k] of keys.entries()) {
      const tk = await eventuallyKey(
        client,
        k.ns,
        'k',
        (t) => ready(t) && t.status?.versions?.every((v) => v.rootKeyVersion === 2) === true,
        'status shows root v2',
      );
      assert.equal(tk.status?.conditions?.find((c) => c.type === 'RootKeyCurrent')?.status, 'True');
      assert.deepEqual(
        await unwrapEveryVersion(client, OPERATOR_NS, k.ns, 'k'),
        before[i],
        'same keys, new wrap',
      );
    }
    const audit = await op.audit();
    assert.match(audit, /"action":"tenantkey.rewrap"/);
    assert.match(audit, /"action":"root-key.retire"/);
    const metrics = await op.mgr.metrics.registry.metrics();
    assert.doesNotMatch(metrics, /palisade_rootkey_rewrap_pending\{root_version="1"\} [1-9]/);
  });
});
