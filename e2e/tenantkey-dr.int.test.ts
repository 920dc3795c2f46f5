/**
 * Disaster recovery with messaging on: an installation with tenants, NATS accounts, rotated keys and
 * encrypted data is backed up; a fresh control plane gets the backup restored, then the same Tenants and
 * TenantKeys are applied again (as GitOps would); the operator (a separate process) becomes ready and
 * every key unwraps, pre-backup ciphertext included.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TenantKey } from '../crds/v1alpha1/index.ts';
import { runCli } from '../controllers/cli.ts';
import { ensureInstallationKeys } from '../controllers/installation/keys.ts';
import { DERIVED_COMPONENTS } from '../controllers/installation/backup.ts';
import { parseRecord, RECORD_CONFIGMAP, RECORD_KEY } from '../controllers/installation/record.ts';
import { writeLocalServerConfig } from '../controllers/nats/localconfig.ts';
import type { KubeClient } from '../controllers/runtime/kube/client.ts';
import type { ConfigMap, KubeObject, Secret } from '../controllers/runtime/kube/types.ts';
import { createLogger } from '../controllers/runtime/log.ts';
import { startControlPlane, type ControlPlane } from '../hack/controlplane/index.ts';
import { ensureNamespace, kube, uniqueName } from './support/cluster.ts';
import {
  eventually,
  probe,
  startOperator,
  waitForControllers,
  type OperatorProcess,
} from './support/operator.ts';
import {
  adminClient,
  eventuallyKey,
  rand,
  ready,
  openData,
  sealData,
  tenantKey,
  unwrapEveryVersion,
} from './support/tenantkeys.ts';
import { scratchDir } from '../hack/controlplane/proc.ts';

const OPERATOR_NS = 'palisade-system';
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const silentAudit = { record: () => undefined };
const TENANTS = ['dr-one', 'dr-two'];
/** A TenantKey of each tenant besides its primary one, rotated once (by trigger) before the backup. */
const RECORDS = 'records';
const tenantNs = (t: string) => `tenant-${t}`;

async function cli(args: string[], stdin = ''): Promise<string> {
  let out = '';
  const code = await runCli(args, {
    stdin: async () => new TextEncoder().encode(stdin),
    stdout: (s) => (out += typeof s === 'string' ? s : new TextDecoder().decode(s)),
    stderr: (s) => (out += s),
    audit: silentAudit,
  });
  if (code !== 0) throw new Error(`palisade ${args.join(' ')} exited ${code}: ${out}`);
  return out;
}

/** A control plane of its own with a nats-server, and the operator on it with messaging on. */
async function messagingInstallation(): Promise<{
  cp: ControlPlane;
  op: OperatorProcess;
  client: KubeClient;
}> {
  const cp = await startControlPlane({ crdDirs: [path.join(repo, 'crds')], nats: true });
  const client = adminClient(cp);
  let op: OperatorProcess | undefined;
  try {
    await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NS } });
    op = await startOperator({
      kubeconfig: cp.kubeconfig,
      namespace: OPERATOR_NS,
      identity: 'dr',
      args: [`--nats-url=${(cp.natsUrl ?? '').replace(/^nats:\/\//, '')}`],
    });
    await waitForControllers(op, 120_000);
    await natsFromOperatorConfig(cp, client);
    return { cp, op, client };
  } catch (e) {
    await op?.stop();
    await cp.stop();
    throw e;
  }
}

/** As the chart's StatefulSet would: nats-server runs from the config the operator published. */
async function natsFromOperatorConfig(cp: ControlPlane, client: KubeClient): Promise<void> {
  const dir = await mkdtemp(path.join(cp.dir, 'palisade-nats-'));
  const files = await eventually('the NATS server config', () =>
    writeLocalServerConfig(client, OPERATOR_NS, dir, path.join(cp.dir, 'nats-store', 'jwt')),
  );
  await cp.restartNats({ wipeStore: true, configFile: files.configFile });
}

const tenant = (name: string) =>
  ({ apiVersion: 'palisade.dev/v1alpha1', kind: 'Tenant', metadata: { name }, spec: {} }) as KubeObject;

async function tenantReady(client: KubeClient, name: string): Promise<void> {
  await eventually(
    `Tenant ${name} Ready`,
    async () => {
      const t = await client.get<
        KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
      >({ kind: 'Tenant', name });
      return t?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    },
    120_000,
  );
}

async function operatorSecrets(client: KubeClient): Promise<Secret[]> {
  const list = await client.list<Secret>('Secret', {
    namespace: OPERATOR_NS,
    labelSelector: 'app.kubernetes.io/managed-by=palisade,palisade.dev/component',
  });
  return list.items;
}

describe('Disaster recovery with messaging on: backup → fresh control plane → restore → ready, every key unwraps', function () {
  this.timeout(8 * 60_000);
  let dir: string;
  const sealed: { ns: string; key: string; box: string; plain: string }[] = [];
  /** `namespace/key` → version → key bytes (hex), read before the backup. */
  const keyBytes = new Map<string, Map<number, string>>();
  /** Name → immutable flag of every Secret the backup holds. */
  const backedUp = new Map<string, boolean>();
  let installationID = '';

  before(async function () {
    dir = await scratchDir('palisade-dr-');
    await writeFile(path.join(dir, 'pass'), 'correct horse battery staple\n', { mode: 0o600 });
  });

  it('backs up every installation key, seed, the internal CA, the keystore and the record, and no derived Secret', async function () {
    const { cp, op, client } = await messagingInstallation();
    try {
      for (const [i, t] of TENANTS.entries()) {
        await client.apply(tenant(t));
        await tenantReady(client, t);
        const ns = tenantNs(t);
        await eventuallyKey(client, ns, 'primary', ready, 'v1', 60_000);
        await client.apply(tenantKey(ns, RECORDS, { rotationTrigger: 'a' }));
        await eventuallyKey(client, ns, RECORDS, ready, 'v1', 60_000);
        for (const key of ['primary', RECORDS]) {
          const plain = `${key} data of tenant ${i}`;
          const box = await sealData(client, { namespace: ns, key, operatorNamespace: OPERATOR_NS }, plain);
          sealed.push({ ns, key, plain, box });
        }
        await client.apply(tenantKey(ns, RECORDS, { rotationTrigger: 'b' }));
        await eventuallyKey(client, ns, RECORDS, (k) => ready(k) && k.status?.currentVersion === 2, 'v2');
        for (const key of ['primary', RECORDS])
          keyBytes.set(`${ns}/${key}`, await unwrapEveryVersion(client, OPERATOR_NS, ns, key));
      }
      const out = await cli([
        'backup',
        `--kubeconfig=${cp.kubeconfig}`,
        `--out=${path.join(dir, 'backup.bin')}`,
        `--passphrase-file=${path.join(dir, 'pass')}`,
      ]);
      const record = await client.get<ConfigMap>({
        kind: 'ConfigMap',
        name: RECORD_CONFIGMAP,
        namespace: OPERATOR_NS,
      });
      installationID = parseRecord(record?.data?.[RECORD_KEY]).installationID;
      assert.match(out, new RegExp(`installation record \\(installation ${installationID}\\)`));
      const listed = (/: (.*)\n/.exec(out)?.[1] ?? '').split(', ');
      const components = new Set<string>();
      for (const s of await operatorSecrets(client)) {
        const component = s.metadata.labels?.['palisade.dev/component'] ?? '';
        if (DERIVED_COMPONENTS.has(component)) {
          assert.ok(!listed.includes(s.metadata.name), `${s.metadata.name} is derived: left out`);
          continue;
        }
        assert.ok(listed.includes(s.metadata.name), `${s.metadata.name} (${component}) is in the backup`);
        backedUp.set(s.metadata.name, s.immutable === true);
        components.add(component);
      }
      for (const c of [
        'root-key',
        'jwt-signing-key',
        'hash-salt',
        'internal-ca',
        'nats-operator',
        'nats-system-account',
        'nats-palisade-account',
        'keystore',
      ])
        assert.ok(components.has(c), `the backup holds the ${c}`);
      assert.match(out, /left out, made again by the operator: .*palisade-nats-server/);
    } finally {
      await op.stop();
      await cp.stop();
    }
  });

  it('restores into a fresh control plane, where the operator becomes ready, every key unwraps and old data decrypts', async function () {
    const cp = await startControlPlane({ crdDirs: [path.join(repo, 'crds')], nats: true });
    const client = adminClient(cp);
    let op: OperatorProcess | undefined;
    try {
      const out = await cli([
        'restore',
        `--kubeconfig=${cp.kubeconfig}`,
        `--in=${path.join(dir, 'backup.bin')}`,
        `--passphrase-file=${path.join(dir, 'pass')}`,
      ]);
      assert.match(out, /restored into palisade-system: created .*palisade-root-key-v1/);
      assert.match(out, new RegExp(`installation record restored \\(installation ${installationID}\\)`));
      for (const s of await operatorSecrets(client))
        assert.equal(
          s.immutable === true,
          backedUp.get(s.metadata.name),
          `${s.metadata.name} keeps its immutable flag`,
        );

      op = await startOperator({
        kubeconfig: cp.kubeconfig,
        namespace: OPERATOR_NS,
        identity: 'dr-restored',
        args: [`--nats-url=${(cp.natsUrl ?? '').replace(/^nats:\/\//, '')}`],
      });
      await waitForControllers(op, 120_000);
      assert.equal(await probe(op.probePort, '/readyz'), 200);
      await natsFromOperatorConfig(cp, client);
      assert.doesNotMatch(op.output(), /start-up task failed/, 'every start-up task succeeded at once');
      const record = await client.get<ConfigMap>({
        kind: 'ConfigMap',
        name: RECORD_CONFIGMAP,
        namespace: OPERATOR_NS,
      });
      assert.equal(parseRecord(record?.data?.[RECORD_KEY]).installationID, installationID);

      // GitOps applies the same Tenants and TenantKeys again.
      for (const t of TENANTS) await client.apply(tenant(t));
      for (const t of TENANTS) {
        await tenantReady(client, t);
        await client.apply(tenantKey(tenantNs(t), RECORDS, { rotationTrigger: 'b' }));
      }
      for (const [ref, before] of keyBytes) {
        const [ns = '', key = ''] = ref.split('/');
        const tk: TenantKey = await eventuallyKey(
          client,
          ns,
          key,
          (k) => ready(k) && k.status?.currentVersion === before.size,
          'ready after restore',
          90_000,
        );
        assert.equal(
          tk.status?.versions?.length,
          before.size,
          `${ref}: no version was generated in place of the restored ones`,
        );
        assert.deepEqual(await unwrapEveryVersion(client, OPERATOR_NS, ns, key), before, ref);
      }
      for (const s of sealed) {
        const plain = await openData(
          client,
          { namespace: s.ns, key: s.key, operatorNamespace: OPERATOR_NS },
          s.box,
        );
        assert.equal(plain, s.plain);
      }
      await op.stop();
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
      await op?.stop();
      await cp.stop();
    }
  });

  it('refuses to restore another installation over an installation, or over keys without a record, and with a wrong passphrase', async function () {
    const ns = uniqueName('palisade-other');
    await ensureNamespace(ns);
    await ensureInstallationKeys({
      client: kube(),
      namespace: ns,
      rand,
      log: createLogger({ level: 'error' }),
      audit: silentAudit,
    });
    const args = [`--in=${path.join(dir, 'backup.bin')}`, `--namespace=${ns}`];
    const pass = `--passphrase-file=${path.join(dir, 'pass')}`;
    await assert.rejects(
      cli(['restore', ...args, pass]),
      new RegExp(
        `not of the installation in namespace ${ns} .*it was taken from installation ${installationID}.*Nothing was restored`,
      ),
    );
    await kube().delete({ kind: 'ConfigMap', name: RECORD_CONFIGMAP, namespace: ns });
    await assert.rejects(
      cli(['restore', ...args, pass]),
      /already exists with different content.*Nothing was restored/,
    );
    await writeFile(path.join(dir, 'wrong'), 'not the passphrase at all\n');
    await assert.rejects(
      cli(['restore', ...args, `--passphrase-file=${path.join(dir, 'wrong')}`]),
      /wrong passphrase/,
    );
    const names = (await kube().list<Secret>('Secret', { namespace: ns })).items.map((s) => s.metadata.name);
    assert.ok(
      !names.some((n) => n.startsWith('palisade-key-') || n.startsWith('palisade-tenant-')),
      'nothing was written',
    );
  });
});
