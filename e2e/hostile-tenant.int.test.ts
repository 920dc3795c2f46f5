/**
 * The trust boundary, tried the way a hostile tenant would: a ServiceAccount with edit rights only in
 * tenant A's namespace writes everything it can to what Palisade made there (labels, annotations, data,
 * deletion, planted look-alikes), with messaging on and the operator as a separate process. Tenant B's
 * agents are unaffected, revoked credentials stay revoked, and Palisade's decisions (account keys, key
 * versions, UIDs) do not move. Also: labels are not proof of a tenant's identity.
 */
import assert from 'node:assert/strict';
import { KubeClient, loadKubeConfig } from '../controllers/runtime/kube/client.ts';
import type { KubeObject, Secret } from '../controllers/runtime/kube/types.ts';
import { ApiError } from '../controllers/runtime/errors.ts';
import { testEnv } from '../hack/testenv/env.ts';
import {
  deleteTenants,
  getTenant,
  kube,
  readyStatus,
  tenantManifest,
  uniqueName,
} from './support/cluster.ts';
import { eventually, startOperator, waitForControllers } from './support/operator.ts';
import { versionSecrets } from './support/tenantkeys.ts';
import { bindingManifest } from './support/certificates.ts';
import {
  agentConnects,
  credsOf,
  startMessaging,
  stopMessaging,
  type MessagingEnv,
} from './messaging.support.ts';

interface AgentView extends KubeObject {
  status?: {
    credentialsVersion?: number;
    userPublicKey?: string;
    conditions?: { type: string; status: string; reason: string }[];
  };
}

const agentManifest = (ns: string, name: string, spec: Record<string, unknown> = {}) =>
  ({
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'ClusterAgent',
    metadata: { name, namespace: ns },
    spec: { clusterName: `${ns}-${name}`, ...spec },
  }) as KubeObject;

async function readyAgent(ns: string, name: string): Promise<AgentView> {
  return eventually(
    `ClusterAgent ${ns}/${name} Ready`,
    async () => {
      const a = await kube().get<AgentView>({ kind: 'ClusterAgent', name, namespace: ns });
      return readyStatus(a)?.status === 'True' ? a : undefined;
    },
    60_000,
  );
}

async function creds(ns: string, name: string): Promise<string> {
  const s = await kube().get<Secret>({ kind: 'Secret', name: `${name}-nats-creds`, namespace: ns });
  if (!s) throw new Error(`no credentials Secret ${ns}/${name}`);
  return credsOf(s);
}

async function readyTenant(name: string) {
  return eventually(
    `Tenant ${name} Ready`,
    async () => {
      const t = await getTenant(name);
      return readyStatus(t)?.status === 'True' &&
        (t as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions?.some(
          (c) => c.type === 'MessagingReady' && c.status === 'True',
        )
        ? t
        : undefined;
    },
    90_000,
  );
}

describe('A hostile tenant (edit rights in its own namespace only), messaging on', function () {
  this.timeout(300_000);
  const operatorNs = uniqueName('palisade-hostile');
  const a = uniqueName('tenant-a');
  const b = uniqueName('tenant-b');
  const nsA = `tenant-${a}`;
  const nsB = `tenant-${b}`;
  let env: MessagingEnv;
  let editor: KubeClient;

  before(async function () {
    env = await startMessaging(operatorNs, 'hostile-suite', { PALISADE_ROOT_RETIRE_GRACE_MS: '1000' });
    for (const t of [a, b]) await kube().apply(tenantManifest(t));
    for (const t of [a, b]) await readyTenant(t);
    for (const ns of [nsA, nsB]) {
      await kube().apply(agentManifest(ns, 'edge'));
      await kube().apply(agentManifest(ns, 'old'));
    }
    for (const ns of [nsA, nsB]) for (const n of ['edge', 'old']) await readyAgent(ns, n);
    // The editor: every verb on everything a tenant team usually edits, in its own namespace only.
    const rbac = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: tenant-editor, namespace: ${nsA} }
rules:
  - { apiGroups: [""], resources: [secrets, configmaps, events], verbs: ["*"] }
  - { apiGroups: [palisade.dev], resources: ["*"], verbs: ["*"] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: tenant-editor, namespace: ${nsA} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: tenant-editor }
subjects: [{ kind: ServiceAccount, name: editor, namespace: ${nsA} }]
`;
    const applied = await testEnv().kubectl(['apply', '-f', '-'], { input: rbac });
    assert.equal(applied.code, 0, applied.stderr);
    const sa = `system:serviceaccount:${nsA}:editor`;
    const kc = await testEnv().kubeconfigFor(sa, ['system:serviceaccounts', `system:serviceaccounts:${nsA}`]);
    editor = new KubeClient(loadKubeConfig(kc), 'hostile-editor');
  });

  after(async function () {
    await deleteTenants([a, b]);
    await stopMessaging(env);
  });

  it("cannot read or write anything in the operator's namespace, where the keystore lives", async function () {
    for (const attempt of [
      () => editor.list<Secret>('Secret', { namespace: operatorNs }),
      () => editor.get<Secret>({ kind: 'Secret', name: 'palisade-root-key-v1', namespace: operatorNs }),
    ])
      await assert.rejects(attempt(), (e: unknown) => e instanceof ApiError && e.code === 403);
  });

  it("changes none of Palisade's decisions with every write it can make to what Palisade made in its namespace", async function () {
    const tenantA = await getTenant(a);
    const tenantB = await getTenant(b);
    const accountA = (tenantA as { status?: { natsAccount?: { publicKey?: string } } }).status?.natsAccount
      ?.publicKey;
    const accountB = (tenantB as { status?: { natsAccount?: { publicKey?: string } } }).status?.natsAccount
      ?.publicKey;
    assert.ok(accountA && accountB && accountA !== accountB);
    const keysBefore = (await versionSecrets(kube(), nsA, 'primary', operatorNs))
      .map((s) => s.metadata.name)
      .sort();
    const credsB = await creds(nsB, 'edge');
    assert.equal(await agentConnects(env, credsB), true);

    // A revoked user of tenant A: suspend agent "old", keep its credentials.
    const revokedCreds = await creds(nsA, 'old');
    await kube().apply(agentManifest(nsA, 'old', { suspended: true }));
    // NB: 60 s and the operator's last lines on a timeout: once in CI (2 cores, every suite on one API
    // server) the refusal took over 30 s, and nothing said where the time went.
    const refusal = await eventually(
      'suspended creds refused',
      async () => {
        const r = await agentConnects(env, revokedCreds);
        return r === true ? undefined : r;
      },
      60_000,
    ).catch((e: unknown) => {
      const tail = env.op.output().trimEnd().split('\n').slice(-40).join('\n');
      throw new Error(`${e instanceof Error ? e.message : String(e)}\noperator's last lines:\n${tail}`);
    });
    assert.match(String(refusal), /uthorization/);

    // The hostile writes.
    const bUser =
      (await kube().get<AgentView>({ kind: 'ClusterAgent', name: 'edge', namespace: nsB }))?.status
        ?.userPublicKey ?? '';
    const planted = (
      name: string,
      labels: Record<string, string>,
      annotations: Record<string, string>,
      data: Record<string, string>,
    ): Secret => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name,
        namespace: nsA,
        labels: { 'app.kubernetes.io/managed-by': 'palisade', ...labels },
        annotations,
      },
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    });
    // 1. redirect to tenant B's account, as the old layout read it from here
    await editor.create(
      planted(
        'palisade-nats-account',
        { 'palisade.dev/component': 'nats-account', 'palisade.dev/root-key-version': '1' },
        { 'palisade.dev/nats-public-key': accountB ?? '' },
        { 'seed.wrapped': 'x' },
      ),
    );
    // 2. an empty revocation list, and one revoking tenant B's agent
    await editor.create(
      planted(
        'palisade-nats-revocations',
        { 'palisade.dev/component': 'nats-revocations' },
        {},
        { 'revocations.json': JSON.stringify({ [bUser]: { at: 1 } }) },
      ),
    );
    // 3. look-alike keystore entries that would hold a root version forever
    await editor.create(
      planted(
        'palisade-key-planted',
        {
          'palisade.dev/component': 'keystore',
          'palisade.dev/keystore-kind': 'tenant-key',
          'palisade.dev/root-key-version': '1',
          'palisade.dev/keystore-slot': 'x',
        },
        {},
        { wrapped: 'x' },
      ),
    );
    // 4. the delivered credentials: point at tenant B's user, then delete them
    await editor.jsonPatch({ kind: 'Secret', name: 'edge-nats-creds', namespace: nsA }, [
      { op: 'add', path: '/metadata/annotations/palisade.dev~1nats-user', value: bUser },
    ]);
    // 5. labels and annotations on the TenantKey, then delete it
    await editor.jsonPatch({ kind: 'TenantKey', name: 'primary', namespace: nsA }, [
      { op: 'add', path: '/metadata/labels/palisade.dev~1tenant', value: b },
    ]);
    await editor.delete({ kind: 'TenantKey', name: 'primary', namespace: nsA });

    // Tenant A re-applies its primary key, which finds the same versions in the keystore.
    await eventually(
      'primary TenantKey back and Ready',
      async () => {
        const k = await kube().get<AgentView>({ kind: 'TenantKey', name: 'primary', namespace: nsA });
        return k && !k.metadata.deletionTimestamp && readyStatus(k)?.status === 'True' ? k : undefined;
      },
      60_000,
    );
    const keysAfter = (await versionSecrets(kube(), nsA, 'primary', operatorNs))
      .map((s) => s.metadata.name)
      .sort();
    assert.deepEqual(keysAfter, keysBefore, 'the same key versions, none regenerated');
    // Tenant A's agent got fresh credentials (its delivered ones were tampered with), under its own account.
    const agentA = await eventually(
      'agent edge re-issued',
      async () => {
        const v = await kube().get<AgentView>({ kind: 'ClusterAgent', name: 'edge', namespace: nsA });
        return (v?.status?.credentialsVersion ?? 0) >= 2 && readyStatus(v)?.status === 'True' ? v : undefined;
      },
      60_000,
    );
    assert.notEqual(agentA.status?.userPublicKey, bUser);
    assert.equal(await agentConnects(env, await creds(nsA, 'edge')), true);
    const tenantAAfter = await getTenant(a);
    assert.equal(
      (tenantAAfter as { status?: { natsAccount?: { publicKey?: string } } }).status?.natsAccount?.publicKey,
      accountA,
      "tenant A's account key is Palisade's, not the planted one",
    );
    // Tenant B is untouched, and A's revoked user stays revoked.
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(await agentConnects(env, credsB), true, "tenant B's agent still connects");
    assert.match(
      String(await agentConnects(env, revokedCreds)),
      /uthorization/,
      'a revoked user stays revoked',
    );
    // The planted look-alikes were neither read nor touched.
    for (const n of ['palisade-nats-account', 'palisade-nats-revocations', 'palisade-key-planted'])
      assert.ok(await kube().get({ kind: 'Secret', name: n, namespace: nsA }), `${n} is left alone`);

    // A restart: the moves from the layout before the keystore completed at the first start, so they read
    // none of this again — not the look-alikes, nor a malformed revocation list and agent record that
    // made every start fail when they did.
    await editor.create(
      planted(
        'evil-nats-creds',
        { 'palisade.dev/component': 'nats-agent-credentials', 'palisade.dev/cluster-agent': 'Evil' },
        {
          'palisade.dev/nats-user': bUser,
          'palisade.dev/credentials-version': '1',
          'palisade.dev/credentials-issued-at': '2026-01-01T00:00:00Z',
        },
        {},
      ),
    );
    await editor.update({
      ...((await editor.get<Secret>({
        kind: 'Secret',
        name: 'palisade-nats-revocations',
        namespace: nsA,
      })) as Secret),
      data: { 'revocations.json': Buffer.from(JSON.stringify({ UX: null })).toString('base64') },
    });
    const layout = await kube().get<KubeObject & { data?: Record<string, string> }>({
      kind: 'ConfigMap',
      name: 'palisade-layout',
      namespace: operatorNs,
    });
    assert.deepEqual(Object.keys(layout?.data ?? {}).sort(), ['agents', 'keystore'], 'both moves recorded');
    await env.op.stop();
    env.op = await startOperator({
      kubeconfig: testEnv().kubeconfig,
      namespace: operatorNs,
      identity: 'hostile-suite-restarted',
      args: [`--nats-url=${env.server}`],
    });
    await waitForControllers(env.op, 60_000);
    assert.doesNotMatch(env.op.output(), /earlier layout|start-up task failed/);
    for (const n of [
      'palisade-nats-account',
      'palisade-nats-revocations',
      'palisade-key-planted',
      'evil-nats-creds',
    ])
      assert.ok(
        await kube().get({ kind: 'Secret', name: n, namespace: nsA }),
        `${n} is left alone after a restart`,
      );
    assert.equal(await agentConnects(env, credsB), true, "tenant B's agent still connects after a restart");
  });

  it("gets no internal-CA certificate for Palisade's, the cluster's or tenant B's names", async function () {
    const names = [`palisade-nats.${operatorNs}.svc`, 'kubernetes.default.svc', `api.${nsB}.svc`];
    for (const [i, name] of names.entries())
      await editor.create(
        bindingManifest(`foreign-${i}`, nsA, {
          secretName: `foreign-${i}-tls`,
          internal: { dnsNames: [name], duration: '2160h', renewBefore: '720h' },
        }),
      );
    for (const [i, name] of names.entries()) {
      const b = await eventually(`binding for ${name} refused`, async () => {
        const o = await kube().get<AgentView>({
          kind: 'CertificateBinding',
          name: `foreign-${i}`,
          namespace: nsA,
        });
        return readyStatus(o)?.reason === 'NameNotAllowed' ? o : undefined;
      });
      assert.equal(readyStatus(b)?.status, 'False');
      const secret = await kube().get<Secret>({ kind: 'Secret', name: `foreign-${i}-tls`, namespace: nsA });
      assert.equal(secret?.data?.['tls.crt'], undefined, `no certificate for ${name}`);
    }
  });

  it("does not let a labelled namespace lend its UID: a new Tenant never adopts another tenant's UID", async function () {
    const uidB = (await getTenant(b))?.status?.uid ?? '';
    const name = uniqueName('mimic');
    const ns = `tenant-${name}`;
    await kube().apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: ns,
        labels: {
          'app.kubernetes.io/managed-by': 'palisade',
          'palisade.dev/tenant': name,
          'palisade.dev/tenant-uid': uidB,
        },
      },
    });
    await kube().apply(tenantManifest(name));
    const r = await eventually('NamespaceConflict', async () => {
      const t = await getTenant(name);
      return readyStatus(t)?.reason === 'NamespaceConflict' ? t : undefined;
    });
    assert.notEqual(r?.status?.uid, uidB);
    assert.match(readyStatus(r)?.reason ?? '', /NamespaceConflict/);
    await kube().delete({ kind: 'Tenant', name });
    await kube().delete({ kind: 'Namespace', name: ns });
  });
});
