/**
 * The chart's RBAC is exactly what the operator needs: run under the chart's ServiceAccount identity
 * (rendered by helm, applied to the real apiserver), the operator drives every kind without a single
 * 403, and every granted verb shows up in what it actually did.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { permissions } from '../controllers/permissions.ts';
import { resourceFor } from '../controllers/runtime/kube/resources.ts';
import { binaries, REPO_ROOT } from '../hack/controlplane/binaries.ts';
import { testEnv } from '../hack/testenv/env.ts';
import {
  ensureNamespace,
  getTenant,
  kube,
  readyStatus,
  tenantManifest,
  uniqueName,
} from './support/cluster.ts';
import { eventually, startOperator, waitForControllers, type OperatorProcess } from './support/operator.ts';

const run = promisify(execFile);
const API_VERB: Record<string, string> = {
  apply: 'patch',
  patch: 'patch',
  update: 'update',
  get: 'get',
  list: 'list',
  create: 'create',
  delete: 'delete',
};

/** `group/resource:verb` of a metrics kind label (`Tenant`, `Tenant/status`) and client verb. */
function permissionOf(kind: string, verb: string): string {
  const [base = '', sub] = kind.split('/');
  const r = resourceFor(base);
  const group = r.apiVersion.includes('/') ? (r.apiVersion.split('/')[0] as string) : '';
  return `${group}/${r.plural}${sub ? `/${sub}` : ''}:${API_VERB[verb] ?? verb}`;
}

async function usedPermissions(op: OperatorProcess): Promise<{ used: Set<string>; forbidden: string[] }> {
  const text = await (await fetch(`http://127.0.0.1:${op.probePort}/metrics`)).text();
  const used = new Set<string>();
  const forbidden: string[] = [];
  for (const m of text.matchAll(
    /^palisade_api_requests_total\{verb="(\w+)",kind="([\w/]+)",code="(\d+)"\} (\d+)/gm,
  )) {
    const [, verb = '', kind = '', code] = m;
    if (code === '403') forbidden.push(`${verb} ${kind}`);
    else used.add(permissionOf(kind, verb));
  }
  for (const m of text.matchAll(/^palisade_informer_synced\{kind="(\w+)"\} 1/gm)) {
    used.add(permissionOf(m[1] as string, 'list'));
    used.add(permissionOf(m[1] as string, 'watch'));
  }
  return { used, forbidden };
}

describe('RBAC from the chart', function () {
  const ns = uniqueName('palisade-rbac');
  let op: OperatorProcess | undefined;

  after(async () => {
    await op?.stop();
  });

  it('lets the operator reconcile under the chart ServiceAccount with no forbidden call and no unused grant', async function () {
    this.timeout(5 * 60_000);
    await ensureNamespace(ns);
    const { helm, kubernetesVersion } = await binaries();
    const { stdout } = await run(
      helm,
      [
        'template',
        'palisade',
        path.join(REPO_ROOT, 'charts/palisade'),
        '--namespace',
        ns,
        '--kube-version',
        kubernetesVersion,
      ],
      {
        env: { ...process.env, HELM_CACHE_HOME: os.tmpdir() },
        maxBuffer: 16 << 20,
      },
    );
    const rbac = parseAllDocuments(stdout)
      .map((d) => d.toJS() as { kind?: string } | null)
      .filter(
        (d) =>
          d &&
          ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(
            d.kind ?? '',
          ),
      );
    assert.equal(rbac.length, 5);
    const applied = await testEnv().kubectl(['apply', '-f', '-'], {
      input: rbac.map((d) => JSON.stringify(d)).join('\n'),
    });
    assert.equal(applied.code, 0, applied.stderr);

    const sa = `system:serviceaccount:${ns}:palisade`;
    const kubeconfig = await testEnv().kubeconfigFor(sa, [
      'system:serviceaccounts',
      `system:serviceaccounts:${ns}`,
    ]);
    op = await startOperator({ kubeconfig, namespace: ns, identity: 'rbac' });
    await waitForControllers(op);

    const keep = uniqueName('rbac-keep');
    const drop = uniqueName('rbac-drop');
    await kube().apply(tenantManifest(keep));
    await kube().apply(tenantManifest(drop, { deletionPolicy: 'Delete' }));
    for (const n of [keep, drop])
      await eventually(`${n} Ready`, async () => readyStatus(await getTenant(n))?.status === 'True', 60_000);
    await kube().delete({ kind: 'Tenant', name: keep });
    await kube().delete({ kind: 'Tenant', name: drop });
    await eventually(
      'Tenants gone',
      async () => !(await getTenant(keep)) && !(await getTenant(drop)),
      60_000,
    );
    await op.stop();
    const lease = await kube().get({ kind: 'Lease', name: 'palisade-operator-leader', namespace: ns });
    assert.ok(lease, 'leader election worked under the role');

    const { used, forbidden } = await usedPermissions(op);
    assert.deepEqual(forbidden, [], 'no call was forbidden');
    assert.ok(!/forbidden/i.test(op.output()), 'no forbidden error in the logs');
    const granted = permissions.flatMap((p) => p.verbs.map((v) => `${p.apiGroup}/${p.resource}:${v}`));
    const unused = granted.filter((g) => !used.has(g));
    assert.deepEqual(unused, [], `granted but never used (used: ${[...used].sort().join(', ')})`);
  });
});
