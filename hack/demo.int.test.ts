/**
 * `make demo` shows everything working (issue 14): hack/demo.sh, from a clean state dir, brings every
 * object of examples/ (and each Tenant's primary TenantKey) to Ready=True, with acme's agent (Secret mode)
 * and globex's (paired with a one-time code) Connected; a second `up` is idempotent, and pairs the agent
 * again when a new code was asked for; `down` leaves none of the processes it started behind. Runs the demo's own control plane, not the
 * shared one of the integration run.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { binaries, REPO_ROOT } from './controlplane/binaries.ts';
import { readPids } from './controlplane/state.ts';

const DEMO = path.join(REPO_ROOT, 'hack', 'demo.sh');

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: { namespace?: string };
  status?: { conditions?: Condition[]; pairing?: { state?: string; codeID?: string } };
}

const idOf = (o: Obj): string =>
  `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

/** What the demo must make Ready: every object in examples/*.yaml, and each Tenant's primary TenantKey. */
function expectedObjects(): string[] {
  const dir = path.join(REPO_ROOT, 'examples');
  const docs = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJS() as Obj));
  const primaries = docs
    .filter((d) => d.kind === 'Tenant')
    .map((t) => ({
      kind: 'TenantKey',
      metadata: { name: 'primary', namespace: t.spec?.namespace ?? `tenant-${t.metadata.name}` },
    }));
  return [...docs, ...primaries].map(idOf).sort();
}

/** Runs the demo script like `make` does: Node on PATH, nothing of the shared test control plane. */
async function demo(command: 'up' | 'down', state: string): Promise<string> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    PALISADE_DEMO_TTL: '30m', // should this test die, its processes stop by themselves
    PALISADE_DEMO_TIMEOUT: '90',
  };
  delete env.KUBECONFIG;
  delete env.NATS_URL;
  try {
    const { stdout, stderr } = await promisify(execFile)('bash', [DEMO, command, state], { env });
    return stdout + stderr;
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string };
    const log = await readFile(path.join(state, 'operator.log'), 'utf8').catch(() => '(no operator.log)');
    const lastLines = log.trimEnd().split('\n').slice(-30).join('\n');
    const output = `${err.stdout ?? ''}${err.stderr ?? ''}`;
    throw new Error(`hack/demo.sh ${command} failed:\n${output}\n--- operator.log ---\n${lastLines}`);
  }
}

async function kubectl(state: string, args: string[]): Promise<string> {
  const kubeconfig = path.join(state, 'kubeconfig');
  const run = promisify(execFile)((await binaries()).kubectl, [`--kubeconfig=${kubeconfig}`, ...args], {
    maxBuffer: 64 << 20,
  });
  return (await run).stdout;
}

async function palisadeObjects(state: string): Promise<Obj[]> {
  // `palisade`: the category, every Palisade kind.
  const stdout = await kubectl(state, ['get', 'palisade', '-A', '-o', 'json']);
  return (JSON.parse(stdout) as { items: Obj[] }).items;
}

const PAIRED_AGENT = 'ClusterAgent tenant-globex/trial';
const AGENTS = ['ClusterAgent tenant-acme/prod-eu-west-1', PAIRED_AGENT];

const condition = (o: Obj, type: string): Condition | undefined =>
  o.status?.conditions?.find((c) => c.type === type);

/** "<id>: <type>=<status>/<reason>: <message>" for every object whose condition `type` is not True. */
function notTrue(objects: Obj[], type: string): string[] {
  return objects
    .filter((o) => condition(o, type)?.status !== 'True')
    .map((o) => {
      const c = condition(o, type);
      return `${idOf(o)}: ${type}=${c ? `${c.status}/${c.reason ?? ''}: ${c.message ?? ''}` : 'missing'}`;
    });
}

interface Proc {
  ppid: number;
  /** Field 22 of /proc/<pid>/stat: with the pid, it tells a process from a later one with its pid. */
  start: string;
  cmdline: string;
}
const identity = (p: Proc): string => `${p.start} ${p.cmdline}`;

/** Every live, non-zombie process (Linux /proc). */
function processTable(): Map<number, Proc> {
  const table = new Map<number, Proc>();
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
      if (fields[0] === 'Z') continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      table.set(Number(entry), { ppid: Number(fields[1]), start: fields[19] ?? '', cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return table;
}

/** What `up` started (pid → identity): the pids in the state dir, their descendants, anything naming it. */
async function startedBy(state: string): Promise<Map<number, string>> {
  const roots = (await readPids(state)).map((e) => e.pid);
  for (const f of (await readdir(state)).filter((n) => n.endsWith('.pid')))
    roots.push(Number(await readFile(path.join(state, f), 'utf8')));
  const table = processTable();
  const found = new Map<number, string>();
  const visit = (pid: number): void => {
    const p = table.get(pid);
    if (!p || found.has(pid)) return;
    found.set(pid, identity(p));
    for (const [child, c] of table) if (c.ppid === pid) visit(child);
  };
  roots.forEach(visit);
  for (const [pid, p] of table) if (p.cmdline.includes(state)) visit(pid);
  return found;
}

/** Which of `started` still run (the same process, not a later one with its pid): "<pid> <identity>". */
function survivors(started: Map<number, string>): string[] {
  const now = processTable();
  return [...started]
    .filter(([pid, id]) => {
      const p = now.get(pid);
      return p !== undefined && identity(p) === id;
    })
    .map(([pid, id]) => `${pid} ${id}`);
}

describe('make demo', function () {
  this.timeout(300_000);
  let state: string;
  let started: Map<number, string> | undefined; // set just before down

  before(async () => {
    state = await mkdtemp(path.join(os.tmpdir(), 'palisade-demo-test-'));
  });

  // Whatever failed: stop everything, and kill what down missed, so no run leaves processes behind.
  after(async () => {
    if (!started) {
      started = await startedBy(state);
      await demo('down', state).catch(() => undefined);
    }
    for (const line of survivors(started)) {
      try {
        process.kill(Number(line.split(' ')[0]), 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await rm(state, { recursive: true, force: true });
  });

  it('brings every example object to Ready=True, and the agents it runs (one paired, on the key-API replica) to Connected', async () => {
    await demo('up', state);
    const objects = await palisadeObjects(state);
    assert.deepEqual(objects.map(idOf).sort(), expectedObjects());
    assert.deepEqual(notTrue(objects, 'Ready'), []);
    const agents = objects.filter((o) => AGENTS.includes(idOf(o)));
    assert.equal(agents.length, 2);
    assert.deepEqual(notTrue(agents, 'Connected'), []);
    const paired = objects.find((o) => idOf(o) === PAIRED_AGENT);
    assert.equal(paired?.status?.pairing?.state, 'Paired');
    // Pairing mode: no credentials of this agent in the management cluster.
    const secrets = await kubectl(state, ['-n', 'tenant-globex', 'get', 'secrets', '-o', 'name']);
    assert.doesNotMatch(secrets, /trial-nats-creds|trial-pairing-code/);
    // It reports to the key-API replica, which never leads: Connected above came by its relay.
    const server = await readFile(path.join(state, 'agent-trial', 'server'), 'utf8');
    const keyApiPort = (await readFile(path.join(state, 'keyapi.port'), 'utf8')).trim();
    assert.equal(server.trim(), `127.0.0.1:${keyApiPort}`);
    assert.match(await readFile(path.join(state, 'keyapi.log'), 'utf8'), /serving only/);
  });

  it('says it is already running on a second up, and everything stays Ready', async () => {
    const out = await demo('up', state);
    assert.match(out, /already running/);
    assert.deepEqual(notTrue(await palisadeObjects(state), 'Ready'), []);
  });

  it('pairs the trial agent again on the next up when a new code was asked for', async () => {
    const before = (await palisadeObjects(state)).find((o) => idOf(o) === PAIRED_AGENT);
    const agentPid = async () => Number(await readFile(path.join(state, 'agent-trial.pid'), 'utf8'));
    const pidBefore = await agentPid();
    await kubectl(state, [
      '-n',
      'tenant-globex',
      'patch',
      'clusteragent',
      'trial',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { pairing: { requestedAt: new Date().toISOString() } } }),
    ]);
    await demo('up', state);
    const after = (await palisadeObjects(state)).find((o) => idOf(o) === PAIRED_AGENT);
    assert.ok(after, 'the trial ClusterAgent is gone');
    assert.equal(after.status?.pairing?.state, 'Paired');
    assert.notEqual(after.status?.pairing?.codeID, before?.status?.pairing?.codeID);
    // The agent runs again, on the new credentials: the one on the superseded ones was stopped.
    const pidAfter = await agentPid();
    assert.notEqual(pidAfter, pidBefore);
    assert.doesNotThrow(() => process.kill(pidAfter, 0), 'the re-paired agent is not running');
    assert.deepEqual(notTrue([after], 'Connected'), []);
    assert.deepEqual(notTrue(await palisadeObjects(state), 'Ready'), []);
  });

  it('leaves no process it started behind after down', async () => {
    const found = await startedBy(state);
    const names = [...found.values()].join('\n');
    for (const name of [
      'etcd',
      'kube-apiserver',
      'cert-manager-controller',
      'nats-server',
      'controllers/nats/cli.ts watch-tls',
      'controllers/main.ts',
      '--role keyservice',
      'agent/main.ts --secret-dir',
      'agent/main.ts run',
    ])
      assert.ok(names.includes(name), `${name} is not among the processes found:\n${names}`);
    started = found;
    await demo('down', state);
    // The control plane's watchdogs notice within 0.5 s that the supervisor is gone: allow them that.
    let left = survivors(found);
    for (const deadline = Date.now() + 3000; left.length && Date.now() < deadline; left = survivors(found))
      await sleep(100);
    assert.deepEqual(left, [], 'processes left after down');
  });
});
