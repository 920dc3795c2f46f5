import assert from 'node:assert/strict';
import { testEnv } from '../hack/testenv/env.ts';
import type { Namespace, Secret } from '../controllers/runtime/kube/types.ts';
import {
  ensureNamespace,
  getTenant,
  kube,
  kubectl,
  readyStatus,
  tenantManifest,
  uniqueName,
} from './support/cluster.ts';
import { eventually, startOperator, waitForControllers, type OperatorProcess } from './support/operator.ts';

describe('Tenant lifecycle (operator as a separate process)', function () {
  const operatorNs = uniqueName('palisade-tenant');
  let op: OperatorProcess;

  before(async function () {
    await ensureNamespace(operatorNs);
    op = await startOperator({
      kubeconfig: testEnv().kubeconfig,
      namespace: operatorNs,
      identity: 'tenant-suite',
    });
    await waitForControllers(op);
  });

  after(async function () {
    await op?.stop();
  });

  async function readyTenant(name: string) {
    return eventually(`Tenant ${name} Ready=True`, async () => {
      const t = await getTenant(name);
      return readyStatus(t)?.status === 'True' ? t : undefined;
    });
  }

  it('becomes Ready=True with a 12-hex UID and a labelled namespace of its own', async function () {
    const name = uniqueName('acme');
    await kube().apply(tenantManifest(name, { displayName: 'Acme Corp' }));
    const t = await readyTenant(name);
    assert.match(t.status?.uid ?? '', /^[0-9a-f]{12}$/);
    assert.equal(t.status?.namespace, `tenant-${name}`);
    const ns = await kube().get<Namespace>({ kind: 'Namespace', name: `tenant-${name}` });
    assert.equal(ns?.metadata.labels?.['palisade.dev/tenant'], name);
    assert.equal(ns?.metadata.labels?.['palisade.dev/tenant-uid'], t.status?.uid);
    assert.equal(ns?.metadata.labels?.['app.kubernetes.io/managed-by'], 'palisade');
  });

  it('gives every tenant a different UID', async function () {
    const names = [uniqueName('u'), uniqueName('u'), uniqueName('u')];
    for (const n of names) await kube().apply(tenantManifest(n));
    const uids = await Promise.all(names.map(async (n) => (await readyTenant(n)).status?.uid));
    assert.equal(new Set(uids).size, names.length);
  });

  it('shows UID, namespace, policy and readiness in `kubectl get tenants`', async function () {
    const name = uniqueName('columns');
    await kube().apply(tenantManifest(name));
    const t = await readyTenant(name);
    const table = await kubectl(['get', 'tenants', name]);
    const [header, row] = table.trim().split('\n');
    for (const col of ['NAME', 'UID', 'NAMESPACE', 'POLICY', 'READY', 'AGE'])
      assert.match(header ?? '', new RegExp(col));
    assert.match(row ?? '', new RegExp(`${name}\\s+${t.status?.uid}\\s+tenant-${name}\\s+Retain\\s+True`));
  });

  it('writes nothing on a resync of a converged tenant (the status write is skipped)', async function () {
    const name = uniqueName('steady');
    await kube().apply(tenantManifest(name));
    const before = await readyTenant(name);
    await new Promise((r) => setTimeout(r, 2000));
    const after = await getTenant(name);
    assert.equal(after?.metadata.resourceVersion, before.metadata.resourceVersion);
  });

  it('sets Ready=False/NamespaceConflict when the namespace belongs to someone else, and keeps it untouched', async function () {
    const name = uniqueName('clash');
    const foreign = uniqueName('someone-elses');
    await ensureNamespace(foreign);
    await kube().apply(tenantManifest(name, { namespace: foreign }));
    const ready = await eventually('NamespaceConflict', async () => {
      const r = readyStatus(await getTenant(name));
      return r?.reason === 'NamespaceConflict' ? r : undefined;
    });
    assert.equal(ready.status, 'False');
    const ns = await kube().get<Namespace>({ kind: 'Namespace', name: foreign });
    assert.equal(ns?.metadata.labels?.['palisade.dev/tenant'], undefined);
    assert.equal(ns?.metadata.ownerReferences, undefined);
  });

  it('keeps the namespace and its key material when a Retain tenant is deleted, and re-adopts it with the same UID', async function () {
    const name = uniqueName('keep');
    await kube().apply(tenantManifest(name));
    const t = await readyTenant(name);
    const ns = `tenant-${name}`;
    await kube().create<Secret>({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'wrapped-key-material', namespace: ns },
      data: { wrapped: Buffer.from('testdata: not a real key').toString('base64') },
    });
    await kube().delete({ kind: 'Tenant', name });
    await eventually('the Tenant to be gone', async () => (await getTenant(name)) === undefined);
    // Give the garbage collector time to act if it were going to.
    await new Promise((r) => setTimeout(r, 3000));
    const kept = await kube().get<Namespace>({ kind: 'Namespace', name: ns });
    assert.ok(kept && !kept.metadata.deletionTimestamp, 'namespace survives');
    assert.equal(kept.metadata.labels?.['palisade.dev/retained'], 'true');
    assert.ok(
      await kube().get<Secret>({ kind: 'Secret', name: 'wrapped-key-material', namespace: ns }),
      'key material survives',
    );

    await kube().apply(tenantManifest(name));
    const again = await readyTenant(name);
    assert.equal(
      again.status?.uid,
      t.status?.uid,
      'a re-created tenant gets its UID back from the retained namespace',
    );
  });

  it('deletes the namespace when a Delete tenant is deleted', async function () {
    const name = uniqueName('drop');
    await kube().apply(tenantManifest(name, { deletionPolicy: 'Delete' }));
    await readyTenant(name);
    const ns = await kube().get<Namespace>({ kind: 'Namespace', name: `tenant-${name}` });
    assert.equal(ns?.metadata.ownerReferences?.[0]?.kind, 'Tenant');
    await kube().delete({ kind: 'Tenant', name });
    await eventually(
      'the namespace to be gone',
      async () => (await kube().get({ kind: 'Namespace', name: `tenant-${name}` })) === undefined,
      60_000,
    );
  });
});
