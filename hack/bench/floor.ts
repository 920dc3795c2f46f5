/**
 * The floor of `make bench`: a bare client making the minimal writes of a full tenant's path, with no
 * informers, no queue and no re-reads — what any implementation must do at least. The list comes from
 * what the operator does per tenant (its palisade_api_requests_total by verb and kind, printed beside):
 *
 *   user      create Tenant
 *   operator  patch Tenant (finalizer), create Secret (tenant record, keystore), apply Namespace,
 *             apply RoleBinding (the Secrets-only role; then list Secrets there until RBAC lets it),
 *             apply TenantKey (primary), patch TenantKey (finalizer), create Secret (key version,
 *             wrapped; then get the root version's Secret), apply TenantKey/status, create Secret
 *             (account seed, wrapped; get the root version's Secret), push the account JWT to the
 *             resolver (NATS), apply Tenant/status
 *   per agent user: create ClusterAgent; operator: patch ClusterAgent (finalizer), create Secret (agent
 *             record, keystore), create Secret (credentials, tenant namespace), apply ClusterAgent/status
 *
 * Under the operator's own identity (the chart's ServiceAccount, so the same RBAC and admission guards),
 * with the objects the operator's own builders make, and statuses copied from the operator's.
 */
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import type { ClusterAgent } from '../../crds/v1alpha1/index.ts';
import { issueCredentials } from '../../controllers/clusteragent/credentials.ts';
import { agentRecordSecret } from '../../controllers/clusteragent/record.ts';
import {
  binding,
  BindingPurpose,
  fingerprint,
  generateDataKey,
  keyId,
  tenantKeyBinding,
  wrap,
} from '../../controllers/crypto/index.ts';
import {
  Component,
  KEY_ID_ANNOTATION,
  secretBytes,
  secretName,
} from '../../controllers/installation/secrets.ts';
import {
  accountSeedSlot,
  EntryKind,
  keystoreLabels,
  keystoreSecret,
  PUBLIC_KEY_ANNOTATION,
  ROOT_KEY_VERSION_LABEL,
  SLOT_LABEL,
  TENANT_NAMESPACE_LABEL,
} from '../../controllers/keystore/entries.ts';
import { WRAPPED_DATA_KEY } from '../../controllers/keystore/store.ts';
import { tenantRecordSecret } from '../../controllers/keystore/tenants.ts';
import {
  connectionOptions,
  createKeyPair,
  fromSeed,
  serviceUserJwt,
  tenantAccountJwt,
} from '../../controllers/nats/protocol/index.ts';
import { NATS_SECRETS, secretText } from '../../controllers/nats/secrets.ts';
import { ApiError } from '../../controllers/runtime/errors.ts';
import { KubeClient, loadKubeConfig } from '../../controllers/runtime/kube/client.ts';
import type { KubeObject, Secret } from '../../controllers/runtime/kube/types.ts';
import { accessRoleBinding } from '../../controllers/tenant/access.ts';
import { versionSecret } from '../../controllers/tenantkey/secrets.ts';
import { pool } from './support.ts';

export interface FloorOptions {
  admin: KubeClient;
  /** A kubeconfig of the operator's ServiceAccount. */
  kubeconfig: string;
  operatorNamespace: string;
  /** The chart's Secrets-only ClusterRole and the ServiceAccount it is bound to. */
  role: { clusterRole: string; serviceAccount: string };
  nats: { server: string; caPem: string };
  /** A Tenant the operator made Ready (with its agents): its statuses are the floor's. */
  template: string;
  names: readonly string[];
  agents: readonly string[];
  concurrency: number;
}

type WithStatus = KubeObject & { status?: Record<string, unknown> };

const rand = (n: number) => new Uint8Array(randomBytes(n));
const iso = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export interface FloorResult {
  seconds: number;
  writes: Map<string, number>;
  /** Mean milliseconds of one tenant's path: all of it, waiting for RBAC, and the resolver's reply. */
  perTenantMs: { path: number; rbac: number; resolver: number };
}

/** Runs the floor: its seconds, and its writes by "verb kind" (from its own client's request counter). */
export async function runFloor(o: FloorOptions): Promise<FloorResult> {
  const writes = new Map<string, number>();
  const sa = new KubeClient(loadKubeConfig(o.kubeconfig), 'palisade-operator', (verb, kind) =>
    writes.set(`${verb} ${kind}`, (writes.get(`${verb} ${kind}`) ?? 0) + 1),
  );
  const ns = o.operatorNamespace;
  const secret = async (name: string) => {
    const s = await o.admin.get<Secret>({ kind: 'Secret', name, namespace: ns });
    if (!s) throw new Error(`no Secret ${ns}/${name}`);
    return s;
  };
  const rootSecret = await secret(secretName(Component.RootKey, 1));
  /** The read after each key material write that proves its root version outlives it (Keystore.createWrapped). */
  const rootStillThere = () =>
    sa.get({ kind: 'Secret', name: secretName(Component.RootKey, 1), namespace: ns });
  const root = {
    key: secretBytes(rootSecret, 'key'),
    version: 1,
    keyId: rootSecret.metadata.annotations?.[KEY_ID_ANNOTATION] ?? '',
  };
  const operatorKey = fromSeed(secretText(await secret(NATS_SECRETS.operator), 'seed'), 'O');
  const system = fromSeed(secretText(await secret(NATS_SECRETS.systemAccount), 'seed'), 'A');
  const palisade = fromSeed(secretText(await secret(NATS_SECRETS.palisadeAccount), 'seed'), 'A');
  const user = createKeyPair('U');
  const userJwt = serviceUserJwt(system, user.publicKey, 'bench-floor', Math.floor(Date.now() / 1000), {
    pub: ['$SYS.REQ.CLAIMS.UPDATE'],
    sub: ['_INBOX.>'],
  });
  const nc = await connect(
    connectionOptions([o.nats.server], o.nats.caPem, { jwt: userJwt, seed: user.seed }, 'bench-floor'),
  );

  const templates = await statusTemplates(o.admin, o.template, o.agents[0]);
  const statusOf = (t: string, from: Record<string, string>) => {
    let text = t;
    for (const [a, b] of Object.entries(from)) text = text.replaceAll(a, b);
    return JSON.parse(text) as Record<string, unknown>;
  };

  const spent = { path: 0, rbac: 0, resolver: 0 };
  const timed = async <T>(what: keyof typeof spent, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      spent[what] += performance.now() - t;
    }
  };

  const tenantPath = async (name: string) => {
    const uid = randomBytes(6).toString('hex');
    const tns = `tenant-${name}`;
    const swap = { [`tenant-${o.template}`]: tns, [templates.uid]: uid, [o.template]: name };
    const tenant = await o.admin.create<WithStatus>({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'Tenant',
      metadata: { name },
      spec: {},
    } as KubeObject);
    const patched = await sa.jsonPatch<WithStatus>({ kind: 'Tenant', name }, [
      { op: 'test', path: '/metadata/resourceVersion', value: tenant.metadata.resourceVersion },
      { op: 'add', path: '/metadata/finalizers', value: ['palisade.dev/tenant-deletion'] },
    ]);
    await sa.create(
      tenantRecordSecret({ namespace: tns, keystoreNamespace: ns, uid, tenant: name, created: iso() }),
    );
    await sa.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: tns,
        labels: {
          'app.kubernetes.io/managed-by': 'palisade',
          'palisade.dev/tenant': name,
          'palisade.dev/tenant-uid': uid,
        },
      },
    });
    await sa.apply(accessRoleBinding(tns, { ...o.role, serviceAccountNamespace: ns }));
    await timed('rbac', () => untilReadable(sa, tns));

    const key = await sa.apply<WithStatus>({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'TenantKey',
      metadata: {
        name: 'primary',
        namespace: tns,
        labels: { 'app.kubernetes.io/managed-by': 'palisade', 'palisade.dev/tenant': name },
      },
      spec: templates.keySpec,
    } as KubeObject);
    await sa.jsonPatch({ kind: 'TenantKey', name: 'primary', namespace: tns }, [
      { op: 'test', path: '/metadata/resourceVersion', value: key.metadata.resourceVersion },
      { op: 'add', path: '/metadata/finalizers', value: ['palisade.dev/tenantkey-deletion'] },
    ]);
    const dataKey = generateDataKey(rand);
    const keyUID = key.metadata.uid ?? '';
    const place = { tenantUID: uid, keyName: 'primary', keyUID, version: 1 };
    await sa.create(
      versionSecret(
        {
          ...place,
          tenantNamespace: tns,
          rootVersion: 1,
          keyId: keyId(dataKey),
          fingerprint: fingerprint(dataKey),
          created: iso(),
          trigger: '',
        },
        wrap(dataKey, root.key, root, tenantKeyBinding(place), rand),
        false,
        ns,
      ),
    );
    await rootStillThere();
    await sa.apply(
      {
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'TenantKey',
        metadata: { name: 'primary', namespace: tns },
        status: statusOf(templates.key, { ...swap, [templates.keyUID]: keyUID }),
      } as KubeObject,
      { subresource: 'status' },
    );

    const account = createKeyPair('A');
    const slot = accountSeedSlot(uid);
    await sa.create(
      keystoreSecret({
        name: slot,
        namespace: ns,
        labels: keystoreLabels(EntryKind.NatsAccount, uid, {
          [TENANT_NAMESPACE_LABEL]: tns,
          [ROOT_KEY_VERSION_LABEL]: '1',
          [SLOT_LABEL]: slot,
        }),
        annotations: { [PUBLIC_KEY_ANNOTATION]: account.publicKey },
        data: {
          [WRAPPED_DATA_KEY]: wrap(
            new TextEncoder().encode(account.seed),
            root.key,
            root,
            binding(BindingPurpose.NatsAccountSeed, { tenantUID: uid }),
            rand,
          ),
        },
        immutable: true,
      }),
    );
    await rootStillThere();
    swap[templates.account] = account.publicKey;
    const push = tenantAccountJwt(
      operatorKey,
      {
        tenantUID: uid,
        tenantName: name,
        account: account.publicKey,
        palisadeAccount: palisade.publicKey,
        limits: { maxConnections: -1, maxSubscriptions: -1, maxPayloadBytes: -1, maxDataBytes: -1 },
        revocations: {},
      },
      Math.floor(Date.now() / 1000),
    );
    const answer = await timed('resolver', () =>
      nc.request('$SYS.REQ.CLAIMS.UPDATE', push, { timeout: 10_000 }),
    );
    const reply = answer.json<{
      data?: { code?: number };
    }>();
    if (reply.data?.code !== 200)
      throw new Error(`the resolver refused an account: ${JSON.stringify(reply)}`);

    await Promise.all([
      sa.apply(
        {
          apiVersion: 'palisade.dev/v1alpha1',
          kind: 'Tenant',
          metadata: { name, resourceVersion: patched.metadata.resourceVersion },
          status: statusOf(templates.tenant, swap),
        } as KubeObject,
        { subresource: 'status' },
      ),
      ...o.agents.map((agent) => agentPath(agent, tns, name, uid, account, swap)),
    ]);
  };

  const agentPath = async (
    name: string,
    tns: string,
    tenantName: string,
    uid: string,
    account: ReturnType<typeof createKeyPair>,
    swap: Record<string, string>,
  ) => {
    const agent = await o.admin.create({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'ClusterAgent',
      metadata: { name, namespace: tns },
      spec: { clusterName: name },
    } as ClusterAgent & KubeObject);
    await sa.jsonPatch({ kind: 'ClusterAgent', name, namespace: tns }, [
      { op: 'test', path: '/metadata/resourceVersion', value: agent.metadata.resourceVersion },
      { op: 'add', path: '/metadata/finalizers', value: ['palisade.dev/clusteragent-revocation'] },
    ]);
    const issued = issueCredentials({
      agent,
      tenantName,
      tenantUID: uid,
      account,
      version: 1,
      now: new Date(),
      caPem: o.nats.caPem,
    });
    await sa.create(
      agentRecordSecret({
        keystoreNamespace: ns,
        uid,
        agent: name,
        tenantNamespace: tns,
        record: issued.record,
      }),
    );
    await sa.create(issued.secret);
    await sa.apply(
      {
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'ClusterAgent',
        metadata: { name, namespace: tns },
        status: statusOf(templates.agent, { ...swap, [templates.user]: issued.record.user }),
      } as KubeObject,
      { subresource: 'status' },
    );
  };

  try {
    const t0 = performance.now();
    await pool(o.names, o.concurrency, (n) => timed('path', () => tenantPath(n)));
    const seconds = (performance.now() - t0) / 1000;
    const onlyWrites = new Map([...writes].filter(([k]) => !/^(get|list|watch) /.test(k)));
    const mean = (ms: number) => ms / o.names.length;
    return {
      seconds,
      writes: onlyWrites,
      perTenantMs: { path: mean(spent.path), rbac: mean(spent.rbac), resolver: mean(spent.resolver) },
    };
  } finally {
    await nc.close();
  }
}

/** The statuses the operator wrote for `tenant`, its primary key and its first agent, as text to fill in. */
async function statusTemplates(admin: KubeClient, tenant: string, agent: string | undefined) {
  const t = await admin.get<WithStatus>({ kind: 'Tenant', name: tenant });
  const tns = `tenant-${tenant}`;
  const k = await admin.get<WithStatus>({ kind: 'TenantKey', name: 'primary', namespace: tns });
  const a = agent
    ? await admin.get<WithStatus>({ kind: 'ClusterAgent', name: agent, namespace: tns })
    : undefined;
  const status = t?.status as { uid?: string; natsAccount?: { publicKey?: string } } | undefined;
  return {
    tenant: JSON.stringify(t?.status ?? {}),
    uid: status?.uid ?? '\u0000',
    account: status?.natsAccount?.publicKey ?? '\u0000',
    key: JSON.stringify(k?.status ?? {}),
    keySpec: (k as { spec?: Record<string, unknown> } | undefined)?.spec ?? {},
    keyUID: k?.metadata.uid ?? '\u0000',
    agent: JSON.stringify(a?.status ?? {}),
    user: String((a?.status as { userPublicKey?: string } | undefined)?.userPublicKey ?? '\u0000'),
  };
}

/** As the operator does after binding its role: RBAC learns a new RoleBinding a moment later. */
async function untilReadable(client: KubeClient, namespace: string): Promise<void> {
  for (;;) {
    try {
      await client.list('Secret', { namespace, labelSelector: 'app.kubernetes.io/managed-by=palisade' });
      return;
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 403)) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
