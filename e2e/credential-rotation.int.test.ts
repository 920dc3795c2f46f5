/**
 * Rotated credentials, the way a projected ServiceAccount token rotates: the file the operator's
 * kubeconfig names (`tokenFile`) gets a new valid token and the old one is revoked. Real tokens from the
 * TokenRequest API, each bound to its own Secret: deleting that Secret makes the apiserver reject the
 * token at once (as it does when the Pod a projected token is bound to goes away).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { systemClock } from '../controllers/runtime/clock.ts';
import { ApiError } from '../controllers/runtime/errors.ts';
import { Informer } from '../controllers/runtime/informer.ts';
import { KubeClient, loadKubeConfig } from '../controllers/runtime/kube/client.ts';
import type { ConfigMap } from '../controllers/runtime/kube/types.ts';
import { testEnv } from '../hack/testenv/env.ts';
import {
  deleteTenants,
  ensureNamespace,
  getTenant,
  kube,
  kubectl,
  readyStatus,
  tenantManifest,
  uniqueName,
} from './support/cluster.ts';
import {
  eventually,
  probe,
  startOperator,
  waitForControllers,
  type OperatorProcess,
} from './support/operator.ts';

describe('Credential rotation (a tokenFile rewritten, the old token revoked)', function () {
  const ns = uniqueName('palisade-creds');
  const sa = 'palisade-operator';
  const binding = `${ns}-admin`;
  const tenants: string[] = [];
  let dir: string;
  let tokenFile: string;
  let kubeconfig: string;
  let op: OperatorProcess | undefined;

  /** A token of the ServiceAccount that stays valid while Secret `anchor` exists. */
  async function issueToken(anchor: string): Promise<string> {
    await kube().apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: anchor, namespace: ns } });
    const token = await kubectl([
      'create',
      'token',
      sa,
      `--namespace=${ns}`,
      '--bound-object-kind=Secret',
      `--bound-object-name=${anchor}`,
      '--duration=1h',
    ]);
    return token.trim();
  }

  /** Rewrites the token file the way the kubelet does: a new file renamed over the old one. */
  async function rotateTo(token: string): Promise<void> {
    const next = `${tokenFile}.next`;
    await writeFile(next, token, { mode: 0o600 });
    await rename(next, tokenFile);
  }

  /** Deletes the token's anchor Secret and waits until the apiserver rejects the token. */
  async function revoke(anchor: string, token: string): Promise<void> {
    await kube().delete({ kind: 'Secret', name: anchor, namespace: ns });
    const fixed = path.join(path.dirname(tokenFile), `${anchor}.kubeconfig`);
    await writeFile(fixed, kubeconfigWith({ token }), { mode: 0o600 });
    const client = new KubeClient(loadKubeConfig(fixed), 'revocation-probe');
    await eventually(`the token bound to ${anchor} to be rejected`, async () =>
      client.list('ConfigMap', { namespace: ns }).then(
        () => false,
        (e: unknown) => e instanceof ApiError && e.code === 401,
      ),
    );
  }

  let base: { clusters: unknown[] };
  function kubeconfigWith(user: Record<string, unknown>): string {
    return stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: base.clusters,
      users: [{ name: sa, user }],
      contexts: [{ name: sa, context: { cluster: 'palisade-local', user: sa } }],
      'current-context': sa,
    });
  }

  before(async function () {
    await ensureNamespace(ns);
    await kubectl(
      ['apply', '-f', '-'],
      stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: ns } },
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'ClusterRoleBinding',
            metadata: { name: binding },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
            subjects: [{ kind: 'ServiceAccount', name: sa, namespace: ns }],
          },
        ],
      }),
    );
    base = parse(await readFile(testEnv().kubeconfig, 'utf8')) as { clusters: unknown[] };
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-creds-'));
    tokenFile = path.join(dir, `${ns}.token`);
    kubeconfig = path.join(dir, `${ns}.kubeconfig`);
    await writeFile(kubeconfig, kubeconfigWith({ 'token-file': tokenFile }), { mode: 0o600 });
    await rotateTo(await issueToken('anchor-1'));
  });

  after(async () => {
    await deleteTenants(tenants);
    await op?.stop();
    await kubectl(['delete', 'clusterrolebinding', binding, '--ignore-not-found']);
    await kube().delete({ kind: 'Namespace', name: ns });
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps a client and new watches working after the token file is rotated and the old token revoked', async () => {
    const client = new KubeClient(loadKubeConfig(kubeconfig), 'rotation-test');
    const cm = (name: string): ConfigMap => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: ns },
    });
    await client.create(cm('before'));
    const old = (await readFile(tokenFile, 'utf8')).trim();
    await rotateTo(await issueToken('anchor-2'));
    await revoke('anchor-1', old);

    await client.create(cm('after'));
    const informer = new Informer<ConfigMap>(client, {
      kind: 'ConfigMap',
      namespace: ns,
      clock: systemClock,
    });
    try {
      await informer.start();
      await eventually('the informer to sync', async () => informer.hasSynced());
      const names = informer.list(ns).map((c) => c.metadata.name);
      assert.ok(names.includes('before') && names.includes('after'), names.join(','));
    } finally {
      await informer.stop();
    }
  });

  it('keeps the operator working across a rotation; a revoked token makes it unready with the reason until a valid one is back', async () => {
    op = await startOperator({ kubeconfig, namespace: ns, identity: 'rotation', leaderElect: false });
    await waitForControllers(op, 60_000);
    const ready = async (name: string) => readyStatus(await getTenant(name))?.status === 'True';
    const tenant = async () => {
      const name = uniqueName('rot');
      tenants.push(name);
      await kube().apply(tenantManifest(name));
      return name;
    };

    const first = await tenant();
    await eventually('a Tenant Ready before the rotation', () => ready(first), 60_000);
    let current = (await readFile(tokenFile, 'utf8')).trim();
    const rotated = await issueToken('anchor-3');
    await rotateTo(rotated);
    await revoke('anchor-2', current);
    current = rotated;
    const second = await tenant();
    await eventually('a Tenant Ready after the rotation', () => ready(second), 60_000);
    assert.equal(await probe(op.probePort, '/readyz'), 200);

    // Revoked and not replaced: the operator's next write is refused twice (before and after re-reading).
    await revoke('anchor-3', current);
    const third = await tenant();
    const why = await eventually(
      '/readyz to say the credentials are rejected',
      async () => {
        const res = await fetch(`http://127.0.0.1:${op?.probePort}/readyz`);
        const body = await res.text();
        return res.status === 503 && body.includes('401') ? body : undefined;
      },
      60_000,
    );
    assert.match(why, /rejects the credentials \(401 Unauthorized\)/);
    assert.equal(await probe(op.probePort, '/healthz'), 200, 'alive: a restart would not help');

    await rotateTo(await issueToken('anchor-4'));
    await eventually('the Tenant created meanwhile to become Ready', () => ready(third), 90_000);
    await eventually(
      '/readyz to be ready again',
      async () => (await probe(op?.probePort ?? 0, '/readyz')) === 200,
    );
    assert.ok(!op.exited());
  });
});
