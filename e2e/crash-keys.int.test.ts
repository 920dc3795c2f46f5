import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import type { TenantKey } from '../crds/v1alpha1/index.ts';
import { rotateRootKey } from '../controllers/installation/rotation.ts';
import type { KubeClient } from '../controllers/runtime/kube/client.ts';
import type { KubeObject, Secret } from '../controllers/runtime/kube/types.ts';
import { loadTenantDataKeys } from '../controllers/tenantkey/data.ts';
import type { ControlPlane } from '../hack/controlplane/index.ts';
import { eventually, startOperator, waitForControllers, type OperatorProcess } from './support/operator.ts';
import {
  adminClient,
  privateControlPlane,
  rand,
  ready,
  tenantKey,
  unwrapEveryVersion,
  versionSecrets,
} from './support/tenantkeys.ts';

const OPERATOR_NS = 'palisade-system';
const KILLS_PER_PHASE = Number(process.env.PALISADE_TEST_KILLS ?? 17);
type Phase = 'generate' | 'rotate' | 'rewrap';

/**
 * SIGKILLs the operator (a separate process) at random moments while it generates, rotates and rewraps
 * keys — some kills during start-up, most while reconciling — then checks that one clean run converges:
 * every TenantKey Ready, one key per version, every version unwraps, the old roots retired, and data
 * encrypted before the first crash still decrypts.
 */
describe('Key material survives SIGKILL at random moments (operator as a separate process)', function () {
  this.timeout(420_000);
  let cp: ControlPlane;
  let client: KubeClient;
  const keys: { ns: string; name: string }[] = [];
  const sealed: { ns: string; name: string; box: Uint8Array; plain: string }[] = [];
  let trigger = 0;
  let run = 0;
  const previousGrace = process.env.PALISADE_ROOT_RETIRE_GRACE_MS;

  before(async function () {
    cp = await privateControlPlane();
    client = adminClient(cp);
    await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NS } });
    process.env.PALISADE_ROOT_RETIRE_GRACE_MS = '1000';
  });

  after(async function () {
    if (previousGrace === undefined) delete process.env.PALISADE_ROOT_RETIRE_GRACE_MS;
    else process.env.PALISADE_ROOT_RETIRE_GRACE_MS = previousGrace;
    await cp?.stop();
  });

  // Every version stays decrypt-only, so data from before the first crash must still decrypt at the end.
  const spec = () => ({ rotationTrigger: String(trigger), retainedVersions: 100 });

  const operator = () =>
    startOperator({
      kubeconfig: cp.kubeconfig,
      namespace: OPERATOR_NS,
      identity: `crash-${run++}`,
      leaderElect: false,
    });

  // Tenants are created while operators are being killed; their keys are applied once the namespace exists.
  const pending: { ns: string; n: number }[] = [];
  let tenantCount = 0;

  async function addKeys(n: number): Promise<void> {
    const name = `crash-${tenantCount++}`;
    await client.apply({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'Tenant',
      metadata: { name },
      spec: {},
    } as KubeObject);
    pending.push({ ns: `tenant-${name}`, n });
  }

  async function applyPending(): Promise<boolean> {
    for (const p of [...pending]) {
      if (!(await client.get({ kind: 'Namespace', name: p.ns }))) continue;
      for (let i = 0; i < p.n; i++) {
        keys.push({ ns: p.ns, name: `k${i}` });
        await client.apply(tenantKey(p.ns, `k${i}`, spec()));
      }
      pending.splice(pending.indexOf(p), 1);
    }
    return pending.length === 0;
  }

  async function bumpTriggers(): Promise<void> {
    trigger++;
    for (const k of keys) await client.apply(tenantKey(k.ns, k.name, spec()));
  }

  let blocker = '';
  async function allConverged(): Promise<boolean> {
    for (const k of keys) {
      const tk = await client.get<TenantKey>({ kind: 'TenantKey', name: k.name, namespace: k.ns });
      if (!tk || !ready(tk) || tk.status?.lastRotationTrigger !== String(trigger)) {
        blocker = `${k.ns}/${k.name}: ${JSON.stringify(tk?.status?.conditions)} trigger ${tk?.status?.lastRotationTrigger}`;
        return false;
      }
    }
    return true;
  }
  const converged = async (op: OperatorProcess) => {
    try {
      await eventually('every TenantKey converged', allConverged, 120_000, 500);
    } catch (e) {
      const failures = op
        .output()
        .split('\n')
        .filter((l) => l.includes('failed'))
        .slice(-8)
        .join('\n');
      throw new Error(
        `${String(e)}; still waiting for ${blocker}; the operator's last failures:\n${failures}`,
        {
          cause: e,
        },
      );
    }
  };

  it('encrypts data with every key before any crash', async function () {
    await addKeys(12);
    const op = await operator();
    await waitForControllers(op);
    await eventually('the tenant namespace', applyPending, 60_000);
    await eventually('all keys ready', allConverged, 60_000);
    await op.stop();
    for (const k of keys) {
      const dk = await loadTenantDataKeys(client, {
        namespace: k.ns,
        key: k.name,
        operatorNamespace: OPERATOR_NS,
        rand,
      });
      const plain = `secret of ${k.ns}/${k.name}`;
      sealed.push({ ...k, plain, box: dk.encrypt(new TextEncoder().encode(plain)) });
    }
  });

  it('is killed at least 50 times while generating, rotating and rewrapping', async function () {
    const stats: Record<Phase, { kills: number; startup: number; reconciling: number; actions: number }> = {
      generate: { kills: 0, startup: 0, reconciling: 0, actions: 0 },
      rotate: { kills: 0, startup: 0, reconciling: 0, actions: 0 },
      rewrap: { kills: 0, startup: 0, reconciling: 0, actions: 0 },
    };
    const work: Record<Phase, () => Promise<unknown>> = {
      generate: () => addKeys(8),
      rotate: bumpTriggers,
      rewrap: () =>
        rotateRootKey({ client, namespace: OPERATOR_NS, rand, audit: { record: () => undefined } }),
    };
    for (const phase of ['generate', 'rotate', 'rewrap'] as const) {
      for (let i = 0; i < KILLS_PER_PHASE; i++) {
        if (i % 4 === 0) await work[phase]();
        const op: OperatorProcess = await operator();
        if (randomInt(5) === 0) {
          await new Promise((r) => setTimeout(r, randomInt(1500)));
        } else {
          await waitForControllers(op, 60_000).catch(() => undefined);
          await new Promise((r) => setTimeout(r, randomInt(600)));
        }
        const started = op.output().includes('controllers started');
        await op.kill();
        // An operator that spins (a hot retry loop) floods its log; fail with what it said.
        const size = op.output().length;
        if (size > 4 << 20)
          assert.fail(
            `operator ${run - 1} wrote ${size} bytes of logs; the tail:\n${op.output().slice(-3000)}`,
          );
        await applyPending();
        const s = stats[phase];
        s.kills++;
        s[started ? 'reconciling' : 'startup']++;
        s.actions += (op.output().match(/"action":"(tenantkey|root-key|tenant)\.[a-z.-]+"/g) ?? []).length;
      }
    }
    const total = Object.values(stats).reduce((n, s) => n + s.kills, 0);
    console.log(`      SIGKILLed the operator ${total} times:`);
    for (const [phase, s] of Object.entries(stats))
      console.log(
        `        ${phase.padEnd(8)} ${s.kills} kills (${s.reconciling} while reconciling, ${s.startup} during start-up); ${s.actions} key actions completed between kills`,
      );
    assert.ok(total >= 3 * KILLS_PER_PHASE);
  });

  it('converges afterwards: one key per version, every version unwraps, old roots retired, old data decrypts', async function () {
    const op = await operator();
    try {
      await waitForControllers(op, 60_000);
      await eventually('every tenant namespace made', applyPending, 60_000, 500);
      await converged(op);
      const roots = async () =>
        (
          await client.list<Secret>('Secret', {
            namespace: OPERATOR_NS,
            labelSelector: 'palisade.dev/component=root-key',
          })
        ).items;
      await eventually('old root versions retired', async () => (await roots()).length === 1, 60_000, 500);
      const active = (await roots())[0]?.metadata.labels?.['palisade.dev/version'];
      for (const k of keys) {
        const tk = await client.get<TenantKey>({ kind: 'TenantKey', name: k.name, namespace: k.ns });
        const listed = tk?.status?.versions?.map((v) => v.version) ?? [];
        const unwrapped = await unwrapEveryVersion(client, OPERATOR_NS, k.ns, k.name);
        assert.deepEqual(
          [...unwrapped.keys()].sort((a, b) => a - b),
          listed,
          `${k.ns}/${k.name}: status lists what exists`,
        );
        assert.deepEqual(
          listed,
          listed.map((_, i) => i + 1),
          `${k.ns}/${k.name}: versions 1..N, no gaps`,
        );
        assert.equal(tk?.status?.currentVersion, listed.length);
        assert.ok(listed.length <= trigger + 1, 'at most one version per trigger change');
        const secrets = await versionSecrets(client, k.ns, k.name);
        assert.equal(secrets.length, listed.length, `${k.ns}/${k.name}: no leftover wraps`);
        for (const s of secrets) assert.equal(s.metadata.labels?.['palisade.dev/root-key-version'], active);
      }
      for (const s of sealed) {
        const dk = await loadTenantDataKeys(client, {
          namespace: s.ns,
          key: s.name,
          operatorNamespace: OPERATOR_NS,
          rand,
        });
        assert.equal(new TextDecoder().decode(dk.decrypt(s.box)), s.plain);
      }
    } finally {
      await op.stop();
    }
  });
});
