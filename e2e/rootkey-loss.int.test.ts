/**
 * Root key loss is refused loudly: the root key Secret deleted by hand, the operator restarted → no
 * new root key is made, the record stays as it was, and the loss shows in /readyz, a metric, a Warning
 * Event and the log, while the replica keeps its lease; `palisade restore` from a backup taken before
 * repairs it, the same operator process proceeds, and data encrypted before the loss decrypts.
 * Messaging is on throughout.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runCli } from '../controllers/cli.ts';
import { ensureInstallationKeys } from '../controllers/installation/keys.ts';
import { parseRecord, RECORD_CONFIGMAP, RECORD_KEY } from '../controllers/installation/record.ts';
import type { ConfigMap, KubeObject, Secret } from '../controllers/runtime/kube/types.ts';
import { createLogger } from '../controllers/runtime/log.ts';
import { testEnv } from '../hack/testenv/env.ts';
import { getTenant, kube, readyStatus, tenantManifest, uniqueName } from './support/cluster.ts';
import { eventually, startOperator, waitForControllers, type OperatorProcess } from './support/operator.ts';
import { eventuallyKey, openData, rand, ready, sealData } from './support/tenantkeys.ts';
import { startMessaging, stopMessaging, type MessagingEnv } from './messaging.support.ts';
import { scratchDir } from '../hack/controlplane/proc.ts';

const silentAudit = { record: () => undefined };

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

async function get(port: number, p: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${p}`);
  return { status: res.status, body: await res.text() };
}

interface EventView extends KubeObject {
  type?: string;
  reason?: string;
  note?: string;
  regarding?: { kind?: string; name?: string };
}

describe('Root key loss: no replacement, reported everywhere, repaired by restore', function () {
  this.timeout(8 * 60_000);
  const ns = uniqueName('palisade-loss');
  const tenant = uniqueName('loss');
  const tns = `tenant-${tenant}`;
  const plain = 'the card number of a customer';
  let env: MessagingEnv | undefined;
  let op: OperatorProcess | undefined;
  let dir = '';
  let box = '';
  let recordBefore: ConfigMap | undefined;

  const root = () => kube().get<Secret>({ kind: 'Secret', name: 'palisade-root-key-v1', namespace: ns });
  const record = () => kube().get<ConfigMap>({ kind: 'ConfigMap', name: RECORD_CONFIGMAP, namespace: ns });
  const rootSecrets = async () =>
    (
      await kube().list<Secret>('Secret', {
        namespace: ns,
        labelSelector: 'app.kubernetes.io/managed-by=palisade,palisade.dev/component=root-key',
      })
    ).items.map((s) => s.metadata.name);

  before(async function () {
    dir = await scratchDir('palisade-loss-');
    await writeFile(path.join(dir, 'pass'), 'correct horse battery staple\n', { mode: 0o600 });
  });

  after(async function () {
    this.timeout(3 * 60_000);
    if (op && !op.exited()) {
      await kube().delete({ kind: 'Tenant', name: tenant });
      await eventually('the Tenant gone', async () => !(await getTenant(tenant)), 90_000).catch(
        () => undefined,
      );
    }
    await stopMessaging(env && op ? { ...env, op } : env);
  });

  it('encrypts data under a tenant key and takes a backup', async function () {
    env = await startMessaging(ns, 'loss-1');
    op = env.op;
    await kube().apply(tenantManifest(tenant));
    await eventually(
      `Tenant ${tenant} Ready`,
      async () => readyStatus(await getTenant(tenant))?.status === 'True',
      120_000,
    );
    await eventuallyKey(kube(), tns, 'primary', ready, 'ready', 60_000);
    box = await sealData(kube(), { namespace: tns, operatorNamespace: ns }, plain);
    const out = await cli([
      'backup',
      `--namespace=${ns}`,
      `--out=${path.join(dir, 'backup.bin')}`,
      `--passphrase-file=${path.join(dir, 'pass')}`,
    ]);
    assert.match(out, /palisade-root-key-v1/);
    const id = parseRecord((await record())?.data?.[RECORD_KEY]).installationID;
    assert.match(out, new RegExp(`installation ${id}`));
  });

  it('makes no new root key after the root key Secret is deleted and the operator restarted, and keeps the record', async function () {
    await op?.stop();
    recordBefore = await record();
    assert.ok(recordBefore, 'the installation has a record');
    await kube().delete({ kind: 'Secret', name: 'palisade-root-key-v1', namespace: ns });
    op = await startOperator({
      kubeconfig: testEnv().kubeconfig,
      namespace: ns,
      identity: 'loss-2',
      args: [`--nats-url=${env?.server ?? ''}`],
    });
    const current = op;
    // Several checks go by (every 5 s): none of them makes a key or touches the record.
    await eventually(
      'the start-up task to have checked four times',
      async () =>
        current
          .output()
          .split('\n')
          .filter((l) => l.includes('start-up task failed') && l.includes('installation-keys')).length >= 4,
      60_000,
    );
    assert.equal(await root(), undefined, 'palisade-root-key-v1 was not made again');
    assert.deepEqual(await rootSecrets(), [], 'no root key version at all was made');
    const now = await record();
    assert.equal(
      now?.metadata.resourceVersion,
      recordBefore.metadata.resourceVersion,
      'the record is untouched',
    );
    assert.deepEqual(now?.data, recordBefore.data);
    assert.ok(!current.output().includes('controllers started'), 'no controller runs without the root key');
    assert.ok(!current.exited(), 'the operator stays up');
  });

  it('reports the loss in /readyz, a metric, a Warning Event on the record and an error log line with the recovery step', async function () {
    const current = op as OperatorProcess;
    const readyz = await get(current.probePort, '/readyz');
    assert.equal(readyz.status, 503);
    assert.match(readyz.body, /root key version 1 .*palisade-root-key-v1 is missing/);
    assert.match(readyz.body, /palisade restore --in/);
    assert.equal((await get(current.probePort, '/healthz')).status, 200, 'alive');
    const metrics = (await get(current.probePort, '/metrics')).body;
    assert.match(metrics, /^palisade_rootkey_missing\{root_version="1"\} 1$/m);
    const event = await eventually('a Warning Event on the record', async () =>
      (await kube().list<EventView>('Event', { namespace: ns })).items.find(
        (e) =>
          e.type === 'Warning' &&
          e.reason === 'RootKeyMissing' &&
          e.regarding?.kind === 'ConfigMap' &&
          e.regarding.name === RECORD_CONFIGMAP,
      ),
    );
    assert.match(event.note ?? '', /root key version 1.*palisade restore --in <backup>/);
    const line = current
      .output()
      .split('\n')
      .find((l) => l.includes('installation keys missing'));
    assert.ok(line, 'an error line');
    assert.match(line, /"level":"error"/);
    assert.match(line, /palisade restore --in <backup>/);
    const lease = await kube().get<KubeObject & { spec?: { holderIdentity?: string } }>({
      kind: 'Lease',
      name: 'palisade-operator-leader',
      namespace: ns,
    });
    assert.equal(lease?.spec?.holderIdentity, 'loss-2', 'the replica keeps its lease while it waits');
  });

  it('refuses a root rotation and a backup of another installation while the key is missing', async function () {
    await assert.rejects(
      cli(['root-key', 'rotate', `--namespace=${ns}`]),
      /refusing to rotate.*palisade restore/,
    );
    const other = uniqueName('palisade-other');
    await kube().apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: other } });
    await ensureInstallationKeys({
      client: kube(),
      namespace: other,
      rand,
      log: createLogger({ level: 'error' }),
      audit: silentAudit,
    });
    const pass = `--passphrase-file=${path.join(dir, 'pass')}`;
    await cli(['backup', `--namespace=${other}`, `--out=${path.join(dir, 'other.bin')}`, pass]);
    await assert.rejects(
      cli(['restore', `--namespace=${ns}`, `--in=${path.join(dir, 'other.bin')}`, pass]),
      /this backup is not of the installation in namespace .*: it was taken from installation [0-9a-f]{32}.*Nothing was restored/,
    );
    assert.equal(await root(), undefined, 'nothing was restored');
  });

  it('proceeds without a restart once palisade restore brings the key back; data encrypted before decrypts', async function () {
    const current = op as OperatorProcess;
    const pid = current.child.pid;
    const out = await cli([
      'restore',
      `--namespace=${ns}`,
      `--in=${path.join(dir, 'backup.bin')}`,
      `--passphrase-file=${path.join(dir, 'pass')}`,
    ]);
    assert.match(out, /created palisade-root-key-v1/);
    assert.match(out, /repaired installation [0-9a-f]{32}/);
    assert.match(out, /the installation keys are complete/);
    await waitForControllers(current, 60_000);
    assert.equal(current.child.pid, pid);
    assert.ok(!current.exited(), 'the same process, never restarted');
    assert.equal((await get(current.probePort, '/readyz')).status, 200);
    assert.doesNotMatch(
      (await get(current.probePort, '/metrics')).body,
      /^palisade_rootkey_missing\{.*\} 1$/m,
    );
    const rec = await record();
    assert.deepEqual(rec?.data, recordBefore?.data, 'the record is still the same installation');
    await eventuallyKey(kube(), tns, 'primary', ready, 'ready after the restore', 60_000);
    const decrypted = await openData(kube(), { namespace: tns, operatorNamespace: ns }, box);
    assert.equal(decrypted, plain);
  });
});
