/**
 * The keystore's promises, with messaging on and the operator as a separate process: a tenant-side
 * deletion (the whole tenant namespace) loses no key, and a root rotation rewraps every wrapped object —
 * tenant key versions and NATS account seeds alike — retires the old root, and agents keep connecting.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { runCli } from '../controllers/cli.ts';
import type { KubeObject, Secret } from '../controllers/runtime/kube/types.ts';
import { loadTenantDataKeys } from '../controllers/keyservice/tenantdata.ts';
import { testEnv } from '../hack/testenv/env.ts';
import {
  deleteTenants,
  getTenant,
  kube,
  readyStatus,
  tenantManifest,
  uniqueName,
} from './support/cluster.ts';
import { eventually } from './support/operator.ts';
import { versionSecrets } from './support/tenantkeys.ts';
import {
  agentConnects,
  credsOf,
  startMessaging,
  stopMessaging,
  type MessagingEnv,
} from './messaging.support.ts';

type Conditioned = KubeObject & {
  status?: {
    uid?: string;
    conditions?: { type: string; status: string; reason: string; message?: string }[];
  };
};
const rand = (n: number) => new Uint8Array(randomBytes(n));

async function readyTenant(name: string): Promise<Conditioned> {
  return eventually(
    `Tenant ${name} Ready with messaging`,
    async () => {
      const t = (await getTenant(name)) as Conditioned | undefined;
      const ok = (type: string) => t?.status?.conditions?.some((c) => c.type === type && c.status === 'True');
      return ok('Ready') && ok('MessagingReady') && ok('PrimaryKeyReady') ? t : undefined;
    },
    90_000,
  );
}

async function readyAgent(ns: string, name: string): Promise<string> {
  await kube().apply({
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'ClusterAgent',
    metadata: { name, namespace: ns },
    spec: { clusterName: name },
  } as KubeObject);
  await eventually(
    `ClusterAgent ${ns}/${name} Ready`,
    async () =>
      readyStatus(await kube().get<Conditioned>({ kind: 'ClusterAgent', name, namespace: ns }))?.status ===
      'True',
    60_000,
  );
  const s = await kube().get<Secret>({ kind: 'Secret', name: `${name}-nats-creds`, namespace: ns });
  if (!s) throw new Error('no credentials Secret');
  return credsOf(s);
}

describe('Keystore journeys (messaging on, operator as a process)', function () {
  this.timeout(300_000);
  const operatorNs = uniqueName('palisade-ks');
  let env: MessagingEnv;
  const made: string[] = [];

  before(async function () {
    env = await startMessaging(operatorNs, 'keystore-suite', { PALISADE_ROOT_RETIRE_GRACE_MS: '1000' });
  });

  after(async function () {
    await deleteTenants(made);
    await stopMessaging(env);
  });

  it('a tenant namespace deleted under a live Retain tenant comes back with the same keys, says so, and old data decrypts', async function () {
    const name = uniqueName('nsdel');
    const ns = `tenant-${name}`;
    made.push(name);
    await kube().apply(tenantManifest(name));
    const before = await readyTenant(name);
    const keys = await loadTenantDataKeys(kube(), {
      namespace: ns,
      key: 'primary',
      operatorNamespace: operatorNs,
      rand,
    });
    const sealed = keys.encrypt(new TextEncoder().encode('alice@example.com'), 'user/1');
    const entries = (await versionSecrets(kube(), ns, 'primary', operatorNs))
      .map((s) => s.metadata.uid)
      .sort();
    const oldNs = (await kube().get({ kind: 'Namespace', name: ns }))?.metadata.uid;

    await kube().delete({ kind: 'Namespace', name: ns });
    const recreated = await eventually(
      'the namespace re-created',
      async () => {
        const n = await kube().get({ kind: 'Namespace', name: ns });
        return n && n.metadata.uid !== oldNs && !n.metadata.deletionTimestamp ? n : undefined;
      },
      120_000,
    );
    assert.ok(recreated);
    const after = await readyTenant(name);
    assert.equal(after.status?.uid, before.status?.uid, 'same tenant UID');
    const nsReady = after.status?.conditions?.find((c) => c.type === 'NamespaceReady');
    assert.equal(nsReady?.reason, 'NamespaceRecreated');
    await eventually('a Warning Event NamespaceRecreated', async () => {
      const ev = await kube().list<
        KubeObject & { reason?: string; type?: string; regarding?: { name?: string } }
      >('Event', {
        namespace: 'default',
      });
      return ev.items.some(
        (e) => e.reason === 'NamespaceRecreated' && e.type === 'Warning' && e.regarding?.name === name,
      );
    });
    const k = await eventually(
      'the primary TenantKey re-attached',
      async () => {
        const tk = await kube().get<Conditioned>({ kind: 'TenantKey', name: 'primary', namespace: ns });
        return readyStatus(tk)?.status === 'True' ? tk : undefined;
      },
      60_000,
    );
    assert.ok(k);
    assert.deepEqual(
      (await versionSecrets(kube(), ns, 'primary', operatorNs)).map((s) => s.metadata.uid).sort(),
      entries,
      'the very same keystore entries: nothing regenerated',
    );
    const again = await loadTenantDataKeys(kube(), {
      namespace: ns,
      key: 'primary',
      operatorNamespace: operatorNs,
      rand,
    });
    assert.equal(new TextDecoder().decode(again.decrypt(sealed, 'user/1')), 'alice@example.com');
    assert.equal(await agentConnects(env, await readyAgent(ns, 'edge')), true);
  });

  it('a root rotation rewraps tenant keys and account seeds, retires the old root, and agents keep connecting', async function () {
    const names = [uniqueName('rot'), uniqueName('rot')];
    made.push(...names);
    for (const n of names) await kube().apply(tenantManifest(n));
    for (const n of names) await readyTenant(n);
    const creds = await Promise.all(names.map((n) => readyAgent(`tenant-${n}`, 'edge')));
    const sealed = await Promise.all(
      names.map(async (n) => {
        const keys = await loadTenantDataKeys(kube(), {
          namespace: `tenant-${n}`,
          key: 'primary',
          operatorNamespace: operatorNs,
          rand,
        });
        return keys.encrypt(new TextEncoder().encode(n));
      }),
    );
    const wrappedBefore = await kube().list<Secret>('Secret', {
      namespace: operatorNs,
      labelSelector: 'palisade.dev/component=keystore,palisade.dev/root-key-version=1',
    });
    const kinds = new Set(wrappedBefore.items.map((s) => s.metadata.labels?.['palisade.dev/keystore-kind']));
    assert.deepEqual(
      [...kinds].sort(),
      ['nats-account', 'tenant-key'],
      'both kinds of wrapped material exist under root v1',
    );

    const out: string[] = [];
    const code = await runCli(
      ['root-key', 'rotate', `--kubeconfig=${testEnv().kubeconfig}`, `--namespace=${operatorNs}`],
      {
        stdin: async () => new Uint8Array(),
        stdout: (s) => out.push(String(s)),
        stderr: (s) => out.push(s),
        audit: { record: () => undefined },
      },
    );
    assert.equal(code, 0, out.join(''));
    await eventually(
      'root key v1 retired',
      async () =>
        !(await kube().get({ kind: 'Secret', name: 'palisade-root-key-v1', namespace: operatorNs })),
      120_000,
    );
    const wrapped = await kube().list<Secret>('Secret', {
      namespace: operatorNs,
      labelSelector: 'palisade.dev/component=keystore',
    });
    const stale = wrapped.items.filter((s) => s.metadata.labels?.['palisade.dev/root-key-version'] === '1');
    assert.deepEqual(
      stale.map((s) => s.metadata.name),
      [],
      'nothing is wrapped by root v1 any more',
    );
    for (const [i, n] of names.entries()) {
      const keys = await loadTenantDataKeys(kube(), {
        namespace: `tenant-${n}`,
        key: 'primary',
        operatorNamespace: operatorNs,
        rand,
      });
      assert.equal(new TextDecoder().decode(keys.decrypt(sealed[i] as Uint8Array)), n);
      assert.equal(await agentConnects(env, creds[i] as string), true);
    }
    // New credentials are signed with the rewrapped account seed: still the same account.
    await kube().apply({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'ClusterAgent',
      metadata: { name: 'edge', namespace: `tenant-${names[0]}` },
      spec: { clusterName: 'edge', credentialRotationTrigger: 'after-root-rotation' },
    } as KubeObject);
    const fresh = await eventually(
      'rotated credentials',
      async () => {
        const a = await kube().get<KubeObject & { status?: { credentialsVersion?: number } }>({
          kind: 'ClusterAgent',
          name: 'edge',
          namespace: `tenant-${names[0]}`,
        });
        if ((a?.status?.credentialsVersion ?? 0) < 2) return undefined;
        const s = await kube().get<Secret>({
          kind: 'Secret',
          name: 'edge-nats-creds',
          namespace: `tenant-${names[0]}`,
        });
        return s ? credsOf(s) : undefined;
      },
      60_000,
    );
    assert.equal(await agentConnects(env, fresh), true);
  });
});
