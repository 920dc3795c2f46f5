import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { ClusterAgent, Tenant, TenantKey } from '../crds/v1alpha1/index.ts';
import { rotateRootKey } from '../controllers/installation/rotation.ts';
import { writeLocalServerConfig } from '../controllers/nats/localconfig.ts';
import { NATS_SECRETS, secretText } from '../controllers/nats/secrets.ts';
import type { KubeClient } from '../controllers/runtime/kube/client.ts';
import type { KubeObject, Secret } from '../controllers/runtime/kube/types.ts';
import { loadTenantDataKeys } from '../controllers/keyservice/tenantdata.ts';
import { startControlPlane, type ControlPlane } from '../hack/controlplane/index.ts';
import { AuditTail, writesByUser, WRITE_AUDIT_POLICY, type AuditEvent } from './support/audit.ts';
import {
  controllersStarted,
  crashTable,
  killTimed,
  warmOperator,
  type CrashKill,
  type WarmOperator,
} from './support/crash.ts';
import { agentConnects } from './messaging.support.ts';
import { eventually, waitForControllers, type OperatorProcess } from './support/operator.ts';
import {
  adminClient,
  rand,
  ready,
  tenantKey,
  unwrapEveryVersion,
  versionSecrets,
} from './support/tenantkeys.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OPERATOR_NS = 'palisade-system';
/**
 * Total kills, spread evenly over the phases (default 210, about 1 s each on two cores); scale it down
 * locally with PALISADE_TEST_KILLS, never below one per phase.
 */
const KILLS = Math.max(Number(process.env.PALISADE_TEST_KILLS ?? 210), 5);
const USER_PREFIX = 'palisade-crash-';

const PHASES = ['tenant creation', 'key generation', 'rotation', 'root rewrap', 'agent credentials'] as const;
type Phase = (typeof PHASES)[number];
/** The writes (crash.ts `writeKind`) that are each phase's own work: a kill inside one proves the phase. */
const OWN_WRITES: Record<Phase, string[]> = {
  'tenant creation': ['tenant record', 'account seed'],
  'key generation': ['key v1'],
  rotation: ['key v2+'],
  'root rewrap': ['rewrap', 'wrap delete', 'root retire'],
  'agent credentials': ['agent record', 'agent credentials', 'revocations'],
};
/**
 * How a kill's moment is chosen: at any moment after the start (often during start-up), at a random moment
 * after the controllers started, or on a write (as soon as the audit log shows a write of the phase's sort
 * by this operator still open). Which writes were in flight is measured afterwards, whichever it was.
 */
type Timing = 'any moment' | 'reconciling' | 'on a write';

type Kill = CrashKill<Phase, Timing>;

/**
 * The sorts of write an on-a-write kill aims at in each phase (one picked per kill), as far as a request's
 * arrival shows it: a create's name is not known yet, an update's is.
 */
const targets: Record<Phase, ((e: AuditEvent) => boolean)[]> = {
  'tenant creation': [(e) => isSecretWrite(e, ['create'], OPERATOR_NS)],
  'key generation': [(e) => isSecretWrite(e, ['create'], OPERATOR_NS)],
  rotation: [(e) => isSecretWrite(e, ['create'], OPERATOR_NS)],
  'root rewrap': [(e) => isSecretWrite(e, ['create', 'delete'], OPERATOR_NS)],
  'agent credentials': [
    (e) =>
      isSecretWrite(e, ['update'], OPERATOR_NS) &&
      /^palisade-(agent|revocations)-/.test(e.objectRef?.name ?? ''),
    (e) => isSecretWrite(e, ['create', 'update'], 'tenant-'),
  ],
};
/** How many of those writes an on-a-write kill may let pass first (fewer where a phase has few). */
const SKIP: Record<Phase, number> = {
  'tenant creation': 2,
  'key generation': 4,
  rotation: 4,
  'root rewrap': 4,
  'agent credentials': 3,
};
/** A Secret write arriving, in the namespace `ns` (or, ending in "-", any namespace it begins). */
function isSecretWrite(e: AuditEvent, verbs: string[], ns: string): boolean {
  const where = e.objectRef?.namespace ?? '';
  return (
    e.stage === 'RequestReceived' &&
    verbs.includes(e.verb) &&
    e.objectRef?.resource === 'secrets' &&
    (ns.endsWith('-') ? where.startsWith(ns) : where === ns)
  );
}

/**
 * SIGKILLs the operator (a separate process, messaging on, a real nats-server) at least 200 times while
 * tenants are created, keys generated, rotated and rewrapped under new roots, and agents' credentials
 * issued. The apiserver's audit log says which of the operator's writes were in flight at each kill (every
 * operator process authenticates as its own user): a write is in flight when the apiserver received it
 * before the signal was sent and completed it only after the kill was delivered (support/audit.ts). The
 * test fails unless at least one in ten kills of each phase landed inside one of the phase's own writes. Then one clean run converges: every listed version unwraps, one key per version, old roots
 * retired, every agent Ready and its delivered credentials connect, data encrypted before the first kill
 * decrypts.
 */
describe('Key material and credentials survive SIGKILL inside their writes (messaging on)', function () {
  this.timeout(600_000);
  let cp: ControlPlane;
  let client: KubeClient;
  let audit: AuditTail;
  let natsServer = '';
  let run = 0;
  const warming: Promise<WarmOperator>[] = [];
  const kills: Kill[] = [];
  const previousGrace = process.env.PALISADE_ROOT_RETIRE_GRACE_MS;

  before(async function () {
    cp = await startControlPlane({
      crdDirs: [path.join(repo, 'crds')],
      nats: true,
      auditPolicy: WRITE_AUDIT_POLICY,
    });
    client = adminClient(cp);
    natsServer = (cp.natsUrl ?? '').replace(/^nats:\/\//, '');
    await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NS } });
    audit = AuditTail.open(cp.auditLog ?? '', (l) => l.includes(`"username":"${USER_PREFIX}`));
    process.env.PALISADE_ROOT_RETIRE_GRACE_MS = '1000';
  });

  after(async function () {
    if (previousGrace === undefined) delete process.env.PALISADE_ROOT_RETIRE_GRACE_MS;
    else process.env.PALISADE_ROOT_RETIRE_GRACE_MS = previousGrace;
    for (const w of warming) await (await w.catch(() => undefined))?.discard();
    audit?.close();
    await cp?.stop();
  });

  /** Spawns the next operator now (it loads its modules while the current one works). */
  const prewarm = async (): Promise<WarmOperator> => {
    const id = run++;
    return warmOperator({
      kubeconfig: await cp.kubeconfigFor(`${USER_PREFIX}${id}`, ['system:masters']),
      namespace: OPERATOR_NS,
      identity: `crash-${id}`,
      args: [`--nats-url=${natsServer}`],
      compileCache: path.join(cp.dir, 'node-compile-cache'),
    });
  };
  /** The next operator, started; two more load meanwhile, so each has loaded well before its turn. */
  const operator = async (): Promise<{ op: OperatorProcess; user: string }> => {
    while (warming.length < 3) warming.push(prewarm());
    const warm = await (warming.shift() as Promise<WarmOperator>);
    return { op: warm.start(), user: warm.identity.replace(/^crash-/, USER_PREFIX) };
  };

  // Every version stays decrypt-only, so data from before the first crash must still decrypt at the end.
  let trigger = 0;
  const spec = () => ({ rotationTrigger: String(trigger), retainedVersions: 100 });
  const tenants: string[] = [];
  const keys: { ns: string; name: string }[] = [];
  const agents: { ns: string; name: string }[] = [];
  let agentTrigger = 0;
  const sealed: { ns: string; name: string; box: Uint8Array; plain: string }[] = [];
  const initialCreds: string[] = [];

  async function addTenant(): Promise<void> {
    const name = `crash-${tenants.length}`;
    await client.apply({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'Tenant',
      metadata: { name },
      spec: {},
    } as KubeObject);
    tenants.push(name);
  }

  /** Namespaces of Tenants whose namespace exists (keys and agents are put only there). */
  async function liveNamespaces(): Promise<string[]> {
    const out: string[] = [];
    for (const t of tenants)
      if (await client.get({ kind: 'Namespace', name: `tenant-${t}` })) out.push(`tenant-${t}`);
    return out;
  }

  async function addKeys(n: number): Promise<void> {
    const live = await liveNamespaces();
    for (let i = 0; i < n && live.length; i++) {
      const ns = live[(keys.length + i) % live.length] as string;
      const k = { ns, name: `k${keys.length}` };
      keys.push(k);
      await client.apply(tenantKey(k.ns, k.name, spec()));
    }
  }

  async function bumpTriggers(): Promise<void> {
    trigger++;
    for (const k of keys) await client.apply(tenantKey(k.ns, k.name, spec()));
  }

  const agentManifest = (a: { ns: string; name: string }) =>
    ({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'ClusterAgent',
      metadata: { name: a.name, namespace: a.ns },
      spec: { clusterName: a.name, credentialRotationTrigger: String(agentTrigger) },
    }) as KubeObject;

  async function addAgents(n: number): Promise<void> {
    const live = await liveNamespaces();
    for (let i = 0; i < n && live.length; i++) {
      const a = { ns: live[(agents.length + i) % live.length] as string, name: `edge-${agents.length}` };
      agents.push(a);
      await client.apply(agentManifest(a));
    }
  }

  async function reissueAgents(): Promise<void> {
    agentTrigger++;
    for (const a of agents) await client.apply(agentManifest(a));
  }

  const rotateRoot = () =>
    rotateRootKey({ client, namespace: OPERATOR_NS, rand, audit: { record: () => undefined } });

  /** What each phase asks of the operator, and before which of its kills (by index in the phase). */
  const work: Record<Phase, (i: number) => Promise<unknown>> = {
    'tenant creation': async (i) => (i % 2 === 0 ? addTenant() : undefined),
    'key generation': async (i) => (i % 2 === 0 ? addKeys(3) : undefined),
    rotation: async (i) => (i % 4 === 0 ? bumpTriggers() : undefined),
    'root rewrap': async (i) => (i % 7 === 0 ? rotateRoot() : undefined),
    'agent credentials': async (i) =>
      i % 6 === 3 ? reissueAgents() : i % 2 === 0 ? addAgents(2) : undefined,
  };

  let blocker = '';
  async function allConverged(): Promise<boolean> {
    const fail = (what: string, status: unknown) => {
      blocker = `${what}: ${JSON.stringify(status)}`;
      return false;
    };
    for (const t of tenants) {
      const tenant = await client.get<Tenant>({ kind: 'Tenant', name: t });
      const ok = (type: string) =>
        tenant?.status?.conditions?.some((c) => c.type === type && c.status === 'True');
      if (!ok('Ready') || !ok('MessagingReady')) return fail(`Tenant ${t}`, tenant?.status?.conditions);
    }
    for (const k of keys) {
      const tk = await client.get<TenantKey>({ kind: 'TenantKey', name: k.name, namespace: k.ns });
      if (!tk || !ready(tk) || tk.status?.lastRotationTrigger !== String(trigger))
        return fail(`TenantKey ${k.ns}/${k.name}`, tk?.status);
    }
    for (const a of agents) {
      const ca = await client.get<ClusterAgent>({ kind: 'ClusterAgent', name: a.name, namespace: a.ns });
      const isReady = ca?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
      if (!ca || !isReady || ca.status?.observedGeneration !== ca.metadata.generation)
        return fail(`ClusterAgent ${a.ns}/${a.name}`, ca?.status?.conditions);
    }
    return true;
  }
  const converged = async (op: OperatorProcess, timeoutMs: number) => {
    try {
      await eventually('everything converged', allConverged, timeoutMs, 500);
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

  it('starts messaging, and encrypts data with every key before any crash', async function () {
    const { op } = await operator();
    try {
      await waitForControllers(op, 60_000);
      const dir = await mkdtemp(path.join(cp.dir, 'palisade-nats-'));
      const files = await eventually('the NATS server config Secret', () =>
        writeLocalServerConfig(client, OPERATOR_NS, dir, path.join(cp.dir, 'nats-store', 'jwt')),
      );
      await cp.restartNats({ wipeStore: true, configFile: files.configFile });
      for (let i = 0; i < 3; i++) await addTenant();
      await eventually('the tenant namespaces', async () => (await liveNamespaces()).length === 3, 60_000);
      await addKeys(6);
      await addAgents(3);
      await converged(op, 120_000);
      for (const a of agents) initialCreds.push(await deliveredCreds(a));
    } finally {
      await op.stop();
    }
    const primaries = tenants.map((t) => ({ ns: `tenant-${t}`, name: 'primary' }));
    for (const k of [...keys, ...primaries]) {
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

  it(`is killed ${KILLS} times, inside the writes of every phase`, async function () {
    this.timeout(900_000);
    const perPhase = Math.ceil(KILLS / PHASES.length);
    const t0 = Date.now();
    for (const phase of PHASES) {
      for (let i = 0; i < perPhase; i++) {
        await work[phase](i);
        kills.push(await crashOnce(phase));
      }
    }
    // NB: a killed request's completion is logged once the apiserver is done with it: let it finish.
    await new Promise((r) => setTimeout(r, 2000));
    audit.read();
    const table = crashTable({
      kills,
      writes: writesByUser(audit.events),
      phases: PHASES,
      timings: ['any moment', 'reconciling', 'on a write'],
      ownWrites: OWN_WRITES,
      operatorNs: OPERATOR_NS,
    });
    console.log(`${table.text}\n      (${((Date.now() - t0) / kills.length).toFixed(0)} ms per kill)`);
    assert.ok(kills.length >= KILLS);
    const floor = Math.max(1, Math.floor(perPhase / 10));
    for (const phase of PHASES)
      assert.ok(
        table.own[phase] >= floor,
        `only ${table.own[phase]} of ${perPhase} kills during ${phase} landed inside a ${OWN_WRITES[phase].join(' / ')} write (at least ${floor} expected)`,
      );
  });

  /** Starts the next operator, kills it at a moment chosen one of three ways, and says when that was. */
  async function crashOnce(phase: Phase): Promise<Kill> {
    const { op, user } = await operator();
    const draw = randomInt(10);
    const timing: Timing = draw < 2 ? 'any moment' : draw < 5 ? 'reconciling' : 'on a write';
    const target = targets[phase][randomInt(targets[phase].length)] ?? (() => false);
    if (timing === 'any moment') {
      await new Promise((r) => setTimeout(r, randomInt(1000)));
    } else {
      await controllersStarted(op, 30_000);
      if (timing === 'reconciling') await new Promise((r) => setTimeout(r, randomInt(500)));
      // NB: skipping a few spreads kills over a reconcile's later writes (e.g. credentials after the record).
      else
        await audit.untilOpen((e) => e.user.username === user && target(e), 1500, {
          skip: randomInt(SKIP[phase]),
        });
    }
    const startingUp = !op.output().includes('controllers started');
    if (op.exited()) assert.fail(`${user} exited by itself before its kill:\n${op.output().slice(-3000)}`);
    const at = await killTimed(op);
    // An operator that spins (a hot retry loop) floods its log; fail with what it said.
    const size = op.output().length;
    if (size > 4 << 20)
      assert.fail(`${user} wrote ${size} bytes of logs; the tail:\n${op.output().slice(-3000)}`);
    return { ...at, phase, user, timing, startingUp };
  }

  it('converges afterwards: versions unwrap, one key per version, old roots retired, agents connect, old data decrypts', async function () {
    const { op } = await operator();
    try {
      await waitForControllers(op, 60_000);
      await converged(op, 240_000);
      const roots = async () =>
        (
          await client.list<Secret>('Secret', {
            namespace: OPERATOR_NS,
            labelSelector: 'palisade.dev/component=root-key',
          })
        ).items;
      await eventually('old root versions retired', async () => (await roots()).length === 1, 120_000, 500);
      const active = (await roots())[0]?.metadata.labels?.['palisade.dev/version'];
      await checkEveryKey(active);
      const stale = (
        await client.list<Secret>('Secret', {
          namespace: OPERATOR_NS,
          labelSelector: 'palisade.dev/component=keystore,palisade.dev/root-key-version',
        })
      ).items.filter((s) => s.metadata.labels?.['palisade.dev/root-key-version'] !== active);
      assert.deepEqual(
        stale.map((s) => s.metadata.name),
        [],
        'every wrapped entry (keys, account seeds) is under the active root',
      );
      await checkAgentsConnect(op);
      for (const s of sealed) {
        const dk = await loadTenantDataKeys(client, {
          namespace: s.ns,
          key: s.name,
          operatorNamespace: OPERATOR_NS,
          rand,
        });
        assert.equal(new TextDecoder().decode(dk.decrypt(s.box)), s.plain, `${s.ns}/${s.name}`);
      }
    } finally {
      await op.stop();
    }
  });

  /** Every TenantKey in the cluster (the test's and every tenant's primary): listed = existing = unwrapping. */
  async function checkEveryKey(activeRoot: string | undefined): Promise<void> {
    const all = (await client.list<TenantKey>('TenantKey')).items;
    assert.equal(all.length, keys.length + tenants.length, 'the test keys and one primary per tenant');
    for (const tk of all) {
      const ns = tk.metadata.namespace ?? '';
      const where = `${ns}/${tk.metadata.name}`;
      const listed = tk.status?.versions?.map((v) => v.version) ?? [];
      const unwrapped = await unwrapEveryVersion(client, OPERATOR_NS, ns, tk.metadata.name);
      assert.deepEqual(
        [...unwrapped.keys()].sort((a, b) => a - b),
        listed,
        `${where}: status lists what exists`,
      );
      assert.deepEqual(
        listed,
        listed.map((_, i) => i + 1),
        `${where}: versions 1..N, no gaps`,
      );
      assert.ok(listed.length >= 1, `${where}: a version`);
      assert.equal(tk.status?.currentVersion, listed.length);
      if (tk.metadata.name !== 'primary')
        assert.ok(listed.length <= trigger + 1, `${where}: at most one version per trigger change`);
      const secrets = await versionSecrets(client, ns, tk.metadata.name, OPERATOR_NS);
      assert.equal(secrets.length, listed.length, `${where}: no leftover wraps`);
      for (const s of secrets)
        assert.equal(s.metadata.labels?.['palisade.dev/root-key-version'], activeRoot, s.metadata.name);
    }
  }

  /** The agent's delivered credentials (`agent.creds` of its Secret in the tenant namespace). */
  async function deliveredCreds(a: { ns: string; name: string }): Promise<string> {
    const s = await client.get<Secret>({ kind: 'Secret', name: `${a.name}-nats-creds`, namespace: a.ns });
    assert.ok(s, `${a.ns}/${a.name}: credentials delivered`);
    return secretText(s, 'agent.creds');
  }

  /** Connects to nats-server over TLS with `creds`: undefined when it works, else why not. */
  async function refusal(op: OperatorProcess, creds: string): Promise<string | undefined> {
    const tls = await client.get<Secret>({ kind: 'Secret', name: NATS_SECRETS.tls, namespace: OPERATOR_NS });
    assert.ok(tls, 'the NATS TLS Secret');
    const ok = await agentConnects({ server: natsServer, caPem: secretText(tls, 'ca.crt') }, creds);
    return ok === true ? undefined : ok;
  }

  /**
   * Every agent's delivered credentials connect; credentials delivered before the first kill and replaced
   * since (credentialRotationTrigger) are revoked, however the kills fell between issue and revocation.
   */
  async function checkAgentsConnect(op: OperatorProcess): Promise<void> {
    for (const a of agents) {
      const why = await refusal(op, await deliveredCreds(a));
      assert.equal(why, undefined, `${a.ns}/${a.name}: its delivered credentials do not connect`);
    }
    if (agentTrigger === 0) return;
    for (const [i, creds] of initialCreds.entries())
      await eventually(
        `the credentials ${agents[i]?.name} had before the first kill revoked`,
        async () => (await refusal(op, creds)) !== undefined,
        60_000,
        500,
      );
  }
});
