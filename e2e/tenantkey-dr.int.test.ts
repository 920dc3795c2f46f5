import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TenantKey } from '../crds/v1alpha1/index.ts';
import { runCli } from '../controllers/cli.ts';
import { ensureInstallationKeys } from '../controllers/installation/keys.ts';
import type { KubeClient } from '../controllers/runtime/kube/client.ts';
import type { Namespace, Secret } from '../controllers/runtime/kube/types.ts';
import { createLogger } from '../controllers/runtime/log.ts';
import { loadTenantDataKeys } from '../controllers/tenantkey/data.ts';
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
} from './support/tenantkeys.ts';

const OPERATOR_NS = 'palisade-system';
const silentAudit = { record: () => undefined };

async function cli(args: string[]): Promise<string> {
  let out = '';
  const code = await runCli(args, {
    stdin: async () => new Uint8Array(),
    stdout: (s) => (out += String(s)),
    stderr: (s) => (out += s),
    audit: silentAudit,
  });
  if (code !== 0) throw new Error(`palisade ${args.join(' ')} exited ${code}: ${out}`);
  return out;
}

/** What an etcd-level restore of the tenant namespaces brings back: namespaces, TenantKeys, key Secrets. */
interface TenantSnapshot {
  namespace: Namespace;
  keys: TenantKey[];
  secrets: Secret[];
}

describe('Disaster recovery: backup → fresh control plane → restore → every tenant key unwraps', function () {
  this.timeout(240_000);
  let dir: string;
  const snapshots: TenantSnapshot[] = [];
  const sealed: { ns: string; box: Uint8Array; plain: string }[] = [];
  const keyBytes = new Map<string, Map<number, string>>();

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-dr-'));
    await writeFile(path.join(dir, 'pass'), 'correct horse battery staple\n', { mode: 0o600 });
  });

  it('backs up the installation keys of a cluster with rotated keys and encrypted data', async function () {
    const cp = await privateControlPlane();
    const client = adminClient(cp);
    await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NS } });
    const op = await startInProcessOperator({ kubeconfig: cp.kubeconfig, namespace: OPERATOR_NS });
    try {
      for (const i of [1, 2]) {
        const ns = `tenant-dr-${i}`;
        await tenantNamespace(client, ns);
        await client.apply(tenantKey(ns, 'primary', { rotationTrigger: 'a' }));
        await eventuallyKey(client, ns, 'primary', ready, 'v1');
        const dk = await loadTenantDataKeys(client, {
          namespace: ns,
          key: 'primary',
          operatorNamespace: OPERATOR_NS,
          rand,
        });
        const plain = `cloud credentials of tenant ${i}`;
        sealed.push({ ns, plain, box: dk.encrypt(new TextEncoder().encode(plain)) });
        await client.apply(tenantKey(ns, 'primary', { rotationTrigger: 'b' }));
        await eventuallyKey(client, ns, 'primary', (k) => ready(k) && k.status?.currentVersion === 2, 'v2');
        keyBytes.set(ns, await unwrapEveryVersion(client, OPERATOR_NS, ns, 'primary'));
      }
      const out = await cli([
        'backup',
        `--kubeconfig=${cp.kubeconfig}`,
        `--out=${path.join(dir, 'backup.bin')}`,
        `--passphrase-file=${path.join(dir, 'pass')}`,
      ]);
      assert.match(out, /palisade-root-key-v1/);
      assert.match(out, /palisade-hash-salt/);
      assert.match(out, /palisade-jwt-signing-key-v1/);
      for (const ns of keyBytes.keys()) {
        snapshots.push({
          namespace: (await client.get<Namespace>({ kind: 'Namespace', name: ns })) as Namespace,
          keys: (await client.list<TenantKey>('TenantKey', { namespace: ns })).items,
          secrets: await versionSecrets(client, ns, 'primary'),
        });
      }
    } finally {
      await op.stop();
      await cp.stop();
    }
  });

  it('restores into a fresh control plane, after which every key unwraps and old data decrypts', async function () {
    const cp = await privateControlPlane();
    const client = adminClient(cp);
    try {
      const out = await cli([
        'restore',
        `--kubeconfig=${cp.kubeconfig}`,
        `--in=${path.join(dir, 'backup.bin')}`,
        `--passphrase-file=${path.join(dir, 'pass')}`,
      ]);
      assert.match(out, /restored into palisade-system: created .*palisade-root-key-v1/);
      await restoreTenants(client, snapshots);
      const op = await startInProcessOperator({ kubeconfig: cp.kubeconfig, namespace: OPERATOR_NS });
      try {
        for (const [ns, before] of keyBytes) {
          const tk = await eventuallyKey(
            client,
            ns,
            'primary',
            (k) => ready(k) && k.status?.currentVersion === 2,
            'ready after restore',
          );
          assert.equal(
            tk.status?.versions?.length,
            2,
            'no version was generated in place of the restored ones',
          );
          assert.deepEqual(await unwrapEveryVersion(client, OPERATOR_NS, ns, 'primary'), before);
        }
        for (const s of sealed) {
          const dk = await loadTenantDataKeys(client, {
            namespace: s.ns,
            key: 'primary',
            operatorNamespace: OPERATOR_NS,
            rand,
          });
          assert.equal(new TextDecoder().decode(dk.decrypt(s.box)), s.plain);
        }
      } finally {
        await op.stop();
      }
      assert.match(
        await cli([
          'restore',
          `--kubeconfig=${cp.kubeconfig}`,
          `--in=${path.join(dir, 'backup.bin')}`,
          `--passphrase-file=${path.join(dir, 'pass')}`,
        ]),
        /created nothing; already present \(identical\)/,
        'a second restore is a no-op',
      );
    } finally {
      await cp.stop();
    }
  });

  it('refuses to restore over different installation keys, and with a wrong passphrase', async function () {
    const cp = await privateControlPlane();
    const client = adminClient(cp);
    try {
      await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NS } });
      await ensureInstallationKeys({
        client,
        namespace: OPERATOR_NS,
        rand,
        log: createLogger({ level: 'error' }),
        audit: silentAudit,
      });
      const args = [`--kubeconfig=${cp.kubeconfig}`, `--in=${path.join(dir, 'backup.bin')}`];
      await assert.rejects(
        cli(['restore', ...args, `--passphrase-file=${path.join(dir, 'pass')}`]),
        /already exists with different content.*Nothing was restored/,
      );
      await writeFile(path.join(dir, 'wrong'), 'not the passphrase at all\n');
      await assert.rejects(
        cli(['restore', ...args, `--passphrase-file=${path.join(dir, 'wrong')}`]),
        /wrong passphrase/,
      );
    } finally {
      await cp.stop();
    }
  });
});

/** Re-creates the tenant namespaces, their key Secrets and TenantKeys (new UIDs, as after a Velero-style restore). */
async function restoreTenants(client: KubeClient, snapshots: TenantSnapshot[]): Promise<void> {
  for (const snap of snapshots) {
    const ns = snap.namespace.metadata;
    await client.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns.name, labels: ns.labels },
    });
    for (const s of snap.secrets) {
      const { name, namespace, labels, annotations } = s.metadata;
      await client.create<Secret>({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace, labels, annotations },
        type: s.type,
        immutable: true,
        data: s.data,
      });
    }
    for (const k of snap.keys)
      await client.apply(tenantKey(ns.name, k.metadata.name, k.spec as unknown as Record<string, unknown>));
  }
}
