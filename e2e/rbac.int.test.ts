/**
 * The chart's RBAC is exactly what the operator needs: run under the chart's ServiceAccount identity
 * (rendered by helm, applied to the real apiserver, with the chart's admission guards), the operator drives
 * every kind without a single 403, every granted verb shows up in what it actually did, and it can read
 * Secrets only in its own namespace and in the tenant namespaces it manages.
 */
import assert from 'node:assert/strict';
import { permissions } from '../controllers/permissions.ts';
import { resourceFor } from '../controllers/runtime/kube/resources.ts';
import { renderChart, operatorContainer } from '../hack/chart.ts';
import { binaries } from '../hack/controlplane/binaries.ts';
import { testEnv } from '../hack/testenv/env.ts';
import {
  deleteTenants,
  ensureNamespace,
  getTenant,
  kube,
  readyStatus,
  tenantManifest,
  uniqueName,
} from './support/cluster.ts';
import { bindingManifest, getBinding } from './support/certificates.ts';
import { eventually, freePort, type OperatorProcess } from './support/operator.ts';
import { tenantKey } from './support/tenantkeys.ts';
import { startMessaging, stopMessaging, type MessagingEnv } from './messaging.support.ts';
import { randomBytes } from 'node:crypto';
import type { Condition } from '../crds/v1alpha1/index.ts';
import { rotateRootKey } from '../controllers/installation/rotation.ts';
import type { ConfigMap, KubeObject } from '../controllers/runtime/kube/types.ts';
import { KeyServiceClient } from '../controllers/keyservice/client.ts';
import { KubeClient, loadKubeConfig } from '../controllers/runtime/kube/client.ts';
import { ApiError, describeError } from '../controllers/runtime/errors.ts';

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

async function usedPermissions(op: OperatorProcess): Promise<Set<string>> {
  const text = await (await fetch(`http://127.0.0.1:${op.probePort}/metrics`)).text();
  const used = new Set<string>();
  for (const m of text.matchAll(
    /^palisade_api_requests_total\{verb="(\w+)",kind="([\w/]+)",code="(\d+)"\} (\d+)/gm,
  )) {
    const [, verb = '', kind = '', code] = m;
    // A 403 is not a use; whether it was RBAC saying no is read from the logs (rbacDenials).
    if (code !== '403') used.add(permissionOf(kind, verb));
    // A server-side apply that creates its object (201) is authorized as a create as well.
    if (verb === 'apply' && code === '201') used.add(permissionOf(kind, 'create'));
  }
  for (const m of text.matchAll(/^palisade_informer_synced\{kind="(\w+)"\} 1/gm)) {
    used.add(permissionOf(m[1] as string, 'list'));
    used.add(permissionOf(m[1] as string, 'watch'));
  }
  return used;
}

/**
 * Calls RBAC refused, from the operator's logs. NB: a 403 alone is not one: admission also answers 403 to
 * a create in a terminating namespace (an Event about an object of a namespace being deleted, say).
 */
function rbacDenials(output: string): string[] {
  return [
    ...output.matchAll(/is forbidden: User \\?"[^"\\]+\\?" cannot (\w+) resource \\?"([\w/]+)\\?"/g),
  ].map((m) => `${m[1]} ${m[2]}`);
}

type Conditioned = KubeObject & { status?: { currentVersion?: number; conditions?: Condition[] } };

async function condition(
  kind: string,
  name: string,
  namespace: string,
  type: string,
): Promise<Condition | undefined> {
  const o = await kube().get<Conditioned>({ kind, name, namespace });
  return o?.status?.conditions?.find((c) => c.type === type);
}

async function waitFor(
  kind: string,
  name: string,
  namespace: string,
  type: string,
  reason: string,
): Promise<void> {
  await eventually(
    `${kind} ${namespace}/${name} ${type}/${reason}`,
    async () => (await condition(kind, name, namespace, type))?.reason === reason,
    90_000,
  );
}

/** Drives every kind through the paths that need distinct permissions: create, change, revoke, rotate, delete. */
/**
 * Key service calls as a ServiceAccount (a TokenReview) under a KeyAccessPolicy (its status written): an
 * encryption, and a refresh token family's create, update and delete.
 */
async function keyService(ns: string, tenant: string, port: number): Promise<void> {
  const name = uniqueName('rbac-caller');
  await testEnv().kubectl(['create', 'serviceaccount', name, '-n', ns]);
  await kube().apply({
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'KeyAccessPolicy',
    metadata: { name },
    spec: {
      subjects: [{ serviceAccount: { namespace: ns, name } }],
      tenants: [tenant],
      operations: ['Encrypt', 'IssueToken'],
    },
  } as KubeObject);
  await waitFor('KeyAccessPolicy', name, '', 'Ready', 'Accepted');
  const token = (
    await testEnv().kubectl(['create', 'token', name, '-n', ns, '--audience', 'palisade-keyservice'])
  ).stdout.trim();
  const ca = await kube().get<ConfigMap>({ kind: 'ConfigMap', name: 'palisade-ca-bundle', namespace: ns });
  const client = new KeyServiceClient({
    address: `127.0.0.1:${port}`,
    caPem: ca?.data?.['ca.crt'] ?? '',
    serverName: 'localhost',
    token: () => token,
  });
  try {
    await eventually('a key service call', async () =>
      client.encrypt({ tenant }, new TextEncoder().encode('x')).catch(() => undefined),
    );
    // A refresh token family: created, updated and deleted in the operator's namespace, through the guard.
    const issued = await client.issueToken({ tenant, subject: 'u', audience: 'a', refreshable: true });
    const refreshed = await client.refreshToken(issued.refreshToken);
    await client.revokeRefreshToken(refreshed.refreshToken);
  } finally {
    client.close();
  }
  await kube().delete({ kind: 'KeyAccessPolicy', name });
}

async function everyKind(ns: string, sa: KubeClient, keyServicePort: number): Promise<void> {
  const keep = uniqueName('rbac-keep');
  const drop = uniqueName('rbac-drop');
  await kube().apply(tenantManifest(keep));
  await kube().apply(tenantManifest(drop, { deletionPolicy: 'Delete' }));
  for (const n of [keep, drop])
    await eventually(`${n} Ready`, async () => readyStatus(await getTenant(n))?.status === 'True', 90_000);
  const tns = `tenant-${keep}`;
  // Secret rights come with the tenant namespace (Palisade's RoleBinding there), not before.
  assert.ok(await canReadSecrets(sa, tns), `the operator reads Secrets in ${tns}, a namespace it manages`);
  await keyService(ns, keep, keyServicePort);

  await kube().apply({ ...tenantKey(tns, 'extra', { rotationTrigger: 'one' }) });
  await waitFor('TenantKey', 'extra', tns, 'Ready', 'KeyReady');
  await kube().apply({ ...tenantKey(tns, 'extra', { rotationTrigger: 'two' }) });
  await eventually(
    'rotation',
    async () =>
      (await kube().get<Conditioned>({ kind: 'TenantKey', name: 'extra', namespace: tns }))?.status
        ?.currentVersion === 2,
    60_000,
  );

  const agent = {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'ClusterAgent',
    metadata: { name: 'edge', namespace: tns },
  };
  await kube().apply({ ...agent, spec: { clusterName: 'edge-1' } } as KubeObject);
  await waitFor('ClusterAgent', 'edge', tns, 'CredentialsReady', 'CredentialsIssued');
  await kube().apply({ ...agent, spec: { clusterName: 'edge-1', suspended: true } } as KubeObject);
  await waitFor('ClusterAgent', 'edge', tns, 'CredentialsReady', 'Suspended');

  await kube().apply(
    bindingManifest('svc', tns, {
      secretName: 'svc-tls',
      internal: { dnsNames: [`svc.${tns}.svc`], duration: '2160h', renewBefore: '720h' },
    }),
  );
  await waitFor('CertificateBinding', 'svc', tns, 'Ready', 'CertificateBound');
  await kube().apply(
    bindingManifest('svc', tns, {
      secretName: 'svc-tls',
      internal: {
        dnsNames: [`svc.${tns}.svc`, `api.${tns}.svc`],
        duration: '2160h',
        renewBefore: '720h',
      },
    }),
  );
  await eventually(
    'reissued',
    async () => (await getBinding('svc', tns))?.status?.dnsNames?.length === 2,
    60_000,
  );
  await kube().apply(
    bindingManifest('portal', tns, {
      secretName: 'portal-tls',
      certManager: {
        issuerRef: { name: 'nowhere', kind: 'ClusterIssuer', group: 'cert-manager.io' },
        dnsNames: ['portal.example.com'],
      },
    }),
  );
  await eventually(
    'the Certificate',
    async () => !!(await kube().get({ kind: 'Certificate', name: 'portal', namespace: tns })),
    60_000,
  );

  await rotateRootKey({
    client: kube(),
    namespace: ns,
    rand: (n) => new Uint8Array(randomBytes(n)),
    audit: { record: () => undefined },
  });
  await waitFor('TenantKey', 'extra', tns, 'RootKeyCurrent', 'Rewrapped');

  await kube().delete({ kind: 'ClusterAgent', name: 'edge', namespace: tns });
  await kube().delete({ kind: 'TenantKey', name: 'extra', namespace: tns });
  await kube().delete({ kind: 'Tenant', name: keep });
  await kube().delete({ kind: 'Tenant', name: drop });
  await eventually('Tenants gone', async () => !(await getTenant(keep)) && !(await getTenant(drop)), 90_000);
  // Retain kept the namespace and its keys, but it is no longer Palisade's to manage: no Secret rights.
  assert.ok(await kube().get({ kind: 'Namespace', name: tns }), 'Retain keeps the namespace');
  assert.equal(await canReadSecrets(sa, tns), false, `no Secret rights left in retained ${tns}`);
}

/** True when `client` may list Secrets in `namespace`; false on 403; anything else fails the test. */
async function canReadSecrets(client: KubeClient, namespace: string): Promise<boolean> {
  try {
    await client.list('Secret', { namespace });
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.code === 403) return false;
    throw e;
  }
}

/** What a SubjectAccessReview answers for `user` (in `groups`) doing `verb` on Secrets in `namespace`. */
async function allowed(
  user: string,
  groups: string[],
  verb: string,
  namespace: string,
  name?: string,
): Promise<boolean> {
  const review = {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user,
      groups: [...groups, 'system:authenticated'],
      resourceAttributes: { namespace, verb, resource: 'secrets', ...(name ? { name } : {}) },
    },
  };
  const r = await testEnv().kubectl(['create', '-f', '-', '-o', 'json'], { input: JSON.stringify(review) });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { status?: { allowed?: boolean } }).status?.allowed === true;
}

describe('RBAC from the chart', function () {
  const ns = uniqueName('palisade-rbac');
  let env: MessagingEnv | undefined;

  after(async () => {
    await stopMessaging(env);
  });

  it('lets the operator drive every kind under the chart ServiceAccount with no forbidden call and no unused grant', async function () {
    this.timeout(8 * 60_000);
    await ensureNamespace(ns);
    const { kubernetesVersion } = await binaries();
    const docs = await renderChart(ns, ['--kube-version', kubernetesVersion]);
    const rbac = docs.filter(
      (d) =>
        d &&
        ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(d.kind ?? ''),
    );
    // The Secrets-only ClusterRole is bound by no ClusterRoleBinding: per namespace only.
    assert.deepEqual(rbac.map((d) => d?.kind).sort(), [
      'ClusterRole',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'ServiceAccount',
    ]);
    // The admission guards run too: they must admit everything the operator really does.
    const guards = docs.filter((d) => d?.kind?.startsWith('ValidatingAdmissionPolicy'));
    assert.equal(guards.length, 6, 'keystore, namespace and access guards with their bindings');
    const applied = await testEnv().kubectl(['apply', '-f', '-'], {
      input: [...rbac, ...guards].map((d) => JSON.stringify(d)).join('\n'),
    });
    assert.equal(applied.code, 0, applied.stderr);
    const chartArgs = (operatorContainer(docs)?.args ?? []).filter(
      (a) => a.startsWith('--namespace-role=') || a.startsWith('--service-account='),
    );
    assert.equal(chartArgs.length, 2, 'the chart tells the operator which role to bind, to whom');

    const sa = `system:serviceaccount:${ns}:palisade`;
    const kubeconfig = await testEnv().kubeconfigFor(sa, [
      'system:serviceaccounts',
      `system:serviceaccounts:${ns}`,
    ]);
    const saClient = new KubeClient(loadKubeConfig(kubeconfig), 'rbac-probe');
    // A namespace Palisade does not manage, with a Secret in it.
    const unmanaged = uniqueName('unmanaged');
    await ensureNamespace(unmanaged);
    await kube().create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'not-palisades', namespace: unmanaged },
      stringData: { password: 'fake-testdata' },
    } as KubeObject);
    // A Tenant an earlier release made (status with a UID, its namespace, no record in this keystore): the
    // keystore upgrade records it and must grant its namespace before it reads Secrets there.
    const earlier = uniqueName('rbac-earlier');
    await kube().apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: `tenant-${earlier}`, labels: { 'app.kubernetes.io/managed-by': 'palisade' } },
    });
    await kube().apply(tenantManifest(earlier, { deletionPolicy: 'Delete' }));
    await kube().apply(
      {
        ...tenantManifest(earlier),
        status: { uid: randomBytes(6).toString('hex'), namespace: `tenant-${earlier}` },
      } as KubeObject,
      { subresource: 'status' },
    );
    const keyServicePort = await freePort();
    env = await startMessaging(ns, 'rbac', { PALISADE_ROOT_RETIRE_GRACE_MS: '1000' }, kubeconfig, undefined, [
      ...chartArgs,
      `--keyservice-address=127.0.0.1:${keyServicePort}`,
    ]);
    const op = env.op;

    await everyKind(ns, saClient, keyServicePort);
    await eventually(
      "the earlier release's Tenant Ready",
      async () => readyStatus(await getTenant(earlier))?.status === 'True',
      90_000,
    ).catch(async (e: unknown) => {
      throw new Error(`${describeError(e)}: ${JSON.stringify((await getTenant(earlier))?.status)}`);
    });
    assert.ok(await canReadSecrets(saClient, `tenant-${earlier}`), 'its namespace was granted');
    await deleteTenants([earlier]);

    // Least privilege: no Secret outside the operator's namespace and the namespaces it manages.
    for (const where of [unmanaged, 'kube-system', 'default']) {
      assert.equal(await canReadSecrets(saClient, where), false, `no Secret list in ${where}`);
      const got = await saClient
        .get({ kind: 'Secret', name: 'not-palisades', namespace: where })
        .catch((e: unknown) => e);
      assert.ok(
        got instanceof ApiError && got.code === 403,
        `no Secret get in ${where}: ${describeError(got)}`,
      );
    }
    assert.ok(await canReadSecrets(saClient, ns), 'its own namespace stays readable');
    // A binding in an unmanaged namespace says why it is refused.
    await kube().apply(
      bindingManifest('stray', unmanaged, {
        secretName: 'stray-tls',
        internal: { dnsNames: [`stray.${unmanaged}.svc`], duration: '2160h', renewBefore: '720h' },
      }),
    );
    await waitFor('CertificateBinding', 'stray', unmanaged, 'Ready', 'NamespaceNotManaged');
    const lease = await kube().get({ kind: 'Lease', name: 'palisade-operator-leader', namespace: ns });
    assert.ok(lease, 'leader election worked under the role');

    // The denial detector recognises a real RBAC refusal, as the operator would log it.
    const refusal = await saClient.list('Secret', { namespace: 'kube-system' }).catch((e: unknown) => e);
    assert.deepEqual(rbacDenials(JSON.stringify({ error: describeError(refusal) })), ['list secrets']);
    const denied = await saClient
      .create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'kube-system' } })
      .catch((e: unknown) => e);
    assert.deepEqual(rbacDenials(JSON.stringify({ error: describeError(denied) })), ['create configmaps']);

    const used = await usedPermissions(op);
    // `bind` is checked by the apiserver on each RoleBinding Palisade creates; one created means it was used.
    if (used.has('rbac.authorization.k8s.io/rolebindings:create'))
      used.add('rbac.authorization.k8s.io/clusterroles:bind');
    const refusedLines = op
      .output()
      .split('\n')
      .filter((l) => rbacDenials(l).length)
      .slice(0, 5);
    assert.deepEqual(rbacDenials(op.output()), [], `RBAC refused no call:\n${refusedLines.join('\n')}`);
    const granted = permissions.flatMap((p) => p.verbs.map((v) => `${p.apiGroup}/${p.resource}:${v}`));
    const unused = granted.filter((g) => !used.has(g));
    assert.deepEqual(unused, [], `granted but never used (used: ${[...used].sort().join(', ')})`);
  });

  it("lets nobody but the operator's ServiceAccount get, list or watch the root key Secret", async function () {
    this.timeout(2 * 60_000);
    // NB: under the chart's RBAC as the test above applied it, in its namespace.
    const roots = await kube().list<KubeObject>('Secret', {
      namespace: ns,
      labelSelector: 'palisade.dev/component=root-key',
    });
    const root = roots.items[0]?.metadata.name;
    assert.ok(root, 'a root key Secret exists');
    const saGroups = (n: string) => ['system:serviceaccounts', `system:serviceaccounts:${n}`];
    // A tenant's namespace admin: every verb on every resource of a namespace of theirs (a Role: the
    // built-in admin ClusterRole's rules are filled by an aggregation controller this control plane may lack).
    const tenantNs = uniqueName('rbac-tenant-admin');
    await ensureNamespace(tenantNs);
    const everything = [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }];
    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'admin', namespace: tenantNs },
      rules: everything,
    };
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'admin', namespace: tenantNs },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'admin' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'tenant-admin' }],
    };
    const bound = await testEnv().kubectl(['apply', '-f', '-'], {
      input: [role, binding].map((d) => JSON.stringify(d)).join('\n'),
    });
    assert.equal(bound.code, 0, bound.stderr);
    await testEnv().kubectl(['create', 'serviceaccount', 'neighbour', '-n', ns]);
    const others: [string, string, string[]][] = [
      [
        'another ServiceAccount of the operator namespace',
        `system:serviceaccount:${ns}:neighbour`,
        saGroups(ns),
      ],
      [
        "the operator namespace's default ServiceAccount",
        `system:serviceaccount:${ns}:default`,
        saGroups(ns),
      ],
      ['a tenant namespace admin', 'tenant-admin', []],
      ['any authenticated user', 'someone', []],
    ];
    for (const verb of ['get', 'list', 'watch']) {
      const secret: string | undefined = verb === 'get' ? root : undefined;
      assert.equal(
        await allowed(`system:serviceaccount:${ns}:palisade`, saGroups(ns), verb, ns, secret),
        true,
        `the operator may ${verb} it`,
      );
      for (const [who, user, groups] of others)
        assert.equal(await allowed(user, groups, verb, ns, secret), false, `${who} may not ${verb} it`);
    }
    // The review is no rubber stamp: the tenant admin may read Secrets of their own namespace.
    assert.equal(await allowed('tenant-admin', [], 'get', tenantNs, 'theirs'), true);
  });
});
