/**
 * The chart's guards (charts/palisade/templates/keystore-guard.yaml), on the real apiserver: in the release
 * namespace, only Palisade's ServiceAccount and the break-glass groups may create, change or delete Secrets
 * labelled as Palisade's — not even a user RBAC allows every verb on Secrets there; and Palisade's
 * ServiceAccount may delete only namespaces a Tenant owns, whatever RBAC grants it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { KubeClient, loadKubeConfig } from '../controllers/runtime/kube/client.ts';
import { ApiError } from '../controllers/runtime/errors.ts';
import type { KubeObject, Secret } from '../controllers/runtime/kube/types.ts';
import { binaries, REPO_ROOT } from '../hack/controlplane/binaries.ts';
import { testEnv } from '../hack/testenv/env.ts';
import { ensureNamespace, kube, uniqueName } from './support/cluster.ts';
import { eventually } from './support/operator.ts';

const run = promisify(execFile);

const secret = (namespace: string, name: string, labels: Record<string, string>): Secret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace, labels },
  data: { wrapped: Buffer.from('testdata: not a real key').toString('base64') },
});
const PALISADE = { 'app.kubernetes.io/managed-by': 'palisade', 'palisade.dev/component': 'keystore' };
const denied = (e: unknown) => e instanceof ApiError && e.code === 403 && /may not/.test(e.message);

describe('Chart guards (ValidatingAdmissionPolicies on the real apiserver)', function () {
  this.timeout(120_000);
  const ns = uniqueName('palisade-guard');
  let alice: KubeClient;
  let operator: KubeClient;
  let manifest = '';

  before(async function () {
    await ensureNamespace(ns);
    const { helm, kubernetesVersion } = await binaries();
    const args = ['template', 'palisade', path.join(REPO_ROOT, 'charts/palisade'), '--namespace', ns];
    const show = ['--show-only', 'templates/keystore-guard.yaml', '--kube-version', kubernetesVersion];
    manifest = (
      await run(helm, [...args, ...show], { env: { ...process.env, HELM_CACHE_HOME: os.tmpdir() } })
    ).stdout;
    const applied = await testEnv().kubectl(['apply', '-f', '-'], { input: manifest });
    assert.equal(applied.code, 0, applied.stderr);
    // alice may do anything with Secrets in the namespace, as far as RBAC goes.
    const rbac = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: secrets-admin, namespace: ${ns} }
rules: [{ apiGroups: [""], resources: [secrets], verbs: ["*"] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: secrets-admin, namespace: ${ns} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: secrets-admin }
subjects:
  - { kind: User, name: alice, apiGroup: rbac.authorization.k8s.io }
  - { kind: ServiceAccount, name: palisade, namespace: ${ns} }
`;
    const r = await testEnv().kubectl(['apply', '-f', '-'], { input: rbac });
    assert.equal(r.code, 0, r.stderr);
    alice = new KubeClient(
      loadKubeConfig(await testEnv().kubeconfigFor('alice', ['platform-team'])),
      'alice',
    );
    const sa = `system:serviceaccount:${ns}:palisade`;
    const kc = await testEnv().kubeconfigFor(sa, ['system:serviceaccounts', `system:serviceaccounts:${ns}`]);
    operator = new KubeClient(loadKubeConfig(kc), 'palisade-operator');
  });

  after(async function () {
    await testEnv().kubectl(['delete', '--ignore-not-found', '-f', '-'], {
      input: manifest,
      allowFail: true,
    });
  });

  it('lets Palisade delete only namespaces a Tenant owns', async function () {
    const sa = `system:serviceaccount:${ns}:palisade`;
    const as = [`--as=${sa}`, '--as-group=system:serviceaccounts', '--as-group=system:authenticated'];
    const kubectl = (args: string[]) => testEnv().kubectl(args, { allowFail: true });
    const grant = `${ns}-ns-deleter`;
    assert.equal(
      (await kubectl(['create', 'clusterrole', grant, '--verb=delete', '--resource=namespaces'])).code,
      0,
    );
    const bound = await kubectl([
      'create',
      'clusterrolebinding',
      grant,
      `--clusterrole=${grant}`,
      `--serviceaccount=${ns}:palisade`,
    ]);
    assert.equal(bound.code, 0, bound.stderr);
    const unowned = uniqueName('someone-elses');
    const owned = uniqueName('tenant-owned');
    const tenant = uniqueName('guard');
    try {
      await ensureNamespace(unowned);
      // Dry runs pass through admission: the policy answers without anything being deleted.
      const refusal = await eventually(
        'the namespace guard in force',
        async () => {
          const r = await kubectl(['delete', 'namespace', unowned, '--dry-run=server', ...as]);
          return r.code !== 0 && /not one/.test(r.stderr) ? r.stderr : undefined;
        },
        60_000,
      );
      assert.match(refusal, /only namespaces a Tenant owns/);
      const real = await kubectl(['delete', 'namespace', unowned, '--wait=false', ...as]);
      assert.notEqual(real.code, 0, 'refused for real too');
      assert.ok(await kube().get({ kind: 'Namespace', name: unowned }), 'the namespace is still there');
      const t = await kube().create<KubeObject>({
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'Tenant',
        metadata: { name: tenant },
        spec: { namespace: owned },
      } as KubeObject);
      await kube().create<KubeObject>({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name: owned,
          ownerReferences: [
            { apiVersion: 'palisade.dev/v1alpha1', kind: 'Tenant', name: tenant, uid: t.metadata.uid ?? '' },
          ],
        },
      });
      const allowed = await kubectl(['delete', 'namespace', owned, '--dry-run=server', ...as]);
      assert.equal(allowed.code, 0, allowed.stderr);
    } finally {
      await kubectl(['delete', 'clusterrolebinding,clusterrole', grant]);
      await kubectl(['delete', 'namespace', unowned, owned, '--ignore-not-found', '--wait=false']);
      await kubectl(['delete', 'tenant', tenant, '--ignore-not-found', '--wait=false']);
    }
  });

  it("refuses anyone but Palisade's ServiceAccount and the break-glass groups, naming who may", async function () {
    // The policy takes effect once the apiserver has compiled it.
    await eventually(
      'the policy in force',
      async () => {
        try {
          await alice.create(secret(ns, 'forged', PALISADE));
          await kube().delete({ kind: 'Secret', name: 'forged', namespace: ns });
          return false;
        } catch (e) {
          return denied(e);
        }
      },
      60_000,
    );
    const made = await operator.create(secret(ns, 'palisade-key-guarded-v1', PALISADE));
    assert.ok(made.metadata.uid, "Palisade's ServiceAccount creates keystore entries");
    await assert.rejects(alice.delete({ kind: 'Secret', name: made.metadata.name, namespace: ns }), denied);
    await assert.rejects(
      alice.jsonPatch({ kind: 'Secret', name: made.metadata.name, namespace: ns }, [
        { op: 'remove', path: '/metadata/labels/app.kubernetes.io~1managed-by' },
      ]),
      denied,
      'removing the label to escape the guard is itself guarded',
    );
    await assert.rejects(
      alice.create(secret(ns, 'forged', PALISADE)).catch((e: unknown) => {
        assert.match(String((e as Error).message), new RegExp(`system:serviceaccount:${ns}:palisade`));
        throw e;
      }),
      denied,
    );
    // The key service's refresh token families carry no managed-by label (no replica caches them) but
    // are guarded all the same: a forged family would mint access tokens.
    const FAMILY = { 'palisade.dev/component': 'refresh-family' };
    await assert.rejects(alice.create(secret(ns, 'palisade-refresh-forged', FAMILY)), denied);
    const family = await operator.create(secret(ns, 'palisade-refresh-guarded', FAMILY));
    await assert.rejects(alice.delete({ kind: 'Secret', name: family.metadata.name, namespace: ns }), denied);
    await operator.delete({ kind: 'Secret', name: family.metadata.name, namespace: ns });
    // Other Secrets in the namespace are RBAC's business only; the break-glass admin may repair.
    await alice.create(secret(ns, 'unrelated', { team: 'platform' }));
    await alice.delete({ kind: 'Secret', name: 'unrelated', namespace: ns });
    await kube().delete({ kind: 'Secret', name: made.metadata.name, namespace: ns });
    assert.equal(
      await kube().get<KubeObject>({ kind: 'Secret', name: made.metadata.name, namespace: ns }),
      undefined,
    );
  });

  it('keeps the RoleBindings Palisade may create to its Secrets role, for itself, in namespaces it made', async function () {
    const sa = `system:serviceaccount:${ns}:palisade`;
    const as = [`--as=${sa}`, '--as-group=system:serviceaccounts', '--as-group=system:authenticated'];
    const kubectl = (args: string[], input?: string) =>
      testEnv().kubectl(args, { allowFail: true, ...(input ? { input } : {}) });
    // RBAC as the chart grants it: create RoleBindings anywhere, bind the Secrets role, patch namespaces.
    const grant = `${ns}-binder`;
    const role = 'palisade-namespace';
    const rbac = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ${grant} }
rules:
  - { apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [create, patch, delete] }
  - { apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [${role}, cluster-admin] }
  - { apiGroups: [""], resources: [namespaces], verbs: [patch, update, get] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: ${grant} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${grant} }
subjects: [{ kind: ServiceAccount, name: palisade, namespace: ${ns} }]
`;
    assert.equal((await kubectl(['apply', '-f', '-'], rbac)).code, 0);
    const made = uniqueName('made');
    const foreign = uniqueName('foreign');
    const binding = (where: string, roleName: string, subject = 'palisade') =>
      JSON.stringify({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'palisade-operator', namespace: where },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
        subjects: [{ kind: 'ServiceAccount', name: subject, namespace: ns }],
      });
    const create = (where: string, roleName: string, subject?: string) =>
      kubectl(['create', '--dry-run=server', '-f', '-', ...as], binding(where, roleName, subject));
    try {
      await kube().create({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: made, labels: { 'app.kubernetes.io/managed-by': 'palisade' } },
      });
      await ensureNamespace(foreign);
      const refused = await eventually(
        'the access guard in force',
        async () => {
          const r = await create(foreign, role);
          return r.code !== 0 && /not one/.test(r.stderr) ? r.stderr : undefined;
        },
        60_000,
      );
      assert.match(refused, /Secrets only in namespaces it made/);
      const ok = await create(made, role);
      assert.equal(ok.code, 0, `its own binding in a namespace it made is admitted: ${ok.stderr}`);
      const admin = await create(made, 'cluster-admin');
      assert.notEqual(admin.code, 0, 'another role is refused');
      assert.match(admin.stderr, /binds only its Secrets role/);
      const other = await create(made, role, 'someone-else');
      assert.notEqual(other.code, 0, 'another subject is refused');
      const label = await kubectl([
        'label',
        'namespace',
        foreign,
        'app.kubernetes.io/managed-by=palisade',
        '--dry-run=server',
        ...as,
      ]);
      assert.notEqual(label.code, 0, 'Palisade cannot claim a namespace it did not make by labelling it');
      assert.match(label.stderr, /changes only namespaces it made/);
    } finally {
      await kubectl(['delete', 'clusterrolebinding,clusterrole', grant]);
      await kubectl(['delete', 'namespace', made, foreign, '--ignore-not-found', '--wait=false']);
    }
  });
});
