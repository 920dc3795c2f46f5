// Runs a local control plane in the background, for the demo and for poking at things by hand.
//
//   node hack/controlplane/cli.ts up --state <dir> [--ttl 8h] [--crds <dir>]... [--cert-manager]
//   node hack/controlplane/cli.ts down --state <dir>
//
// `up` starts a detached supervisor (supervisor.ts) and returns once the control plane is ready, leaving
// <state>/kubeconfig, <state>/env and <state>/pids; the supervisor stops everything after the TTL or on
// `down`. `up` on a running state dir only prints its env.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { hasYaml } from './crds.ts';
import { tail } from './proc.ts';
import { alive, readPids, runs, STATE_FILES, type PidEntry } from './state.ts';

const SUPERVISOR = path.join(import.meta.dirname, 'supervisor.ts');
const MAX_TIMER_MS = 2 ** 31 - 1; // setTimeout's limit, about 24 days

export function parseDuration(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86400_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text)
    throw new Error(`bad duration: ${text}`);
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2] ?? ''] ?? 0), 0);
  if (ms <= 0 || ms > MAX_TIMER_MS) throw new Error(`duration out of range: ${text}`);
  return ms;
}

async function supervisorOf(state: string): Promise<PidEntry | undefined> {
  const entry = (await readPids(state)).find((e) => e.name === 'supervisor');
  return entry && runs(entry.pid, SUPERVISOR) ? entry : undefined;
}

async function up(state: string, ttlMs: number, crdDirs: string[], certManager: boolean): Promise<void> {
  if (await supervisorOf(state)) {
    console.log(`already running; state in ${state}`);
    console.log(await readFile(path.join(state, STATE_FILES.env), 'utf8'));
    return;
  }
  await mkdir(path.join(state, 'logs'), { recursive: true });
  for (const f of [STATE_FILES.env, STATE_FILES.pids, STATE_FILES.error])
    await rm(path.join(state, f), { force: true });
  const args = [SUPERVISOR, '--state', state, '--ttl-ms', String(ttlMs)];
  for (const dir of crdDirs) if (await hasYaml(dir)) args.push('--crds', path.resolve(dir));
  if (certManager) args.push('--cert-manager');
  const logFile = path.join(state, STATE_FILES.log);
  const fd = openSync(logFile, 'a');
  // detached: its own session, so it survives this process, the terminal and `make`.
  const supervisor = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  supervisor.unref();
  const pid = supervisor.pid ?? 0;
  for (const deadline = Date.now() + 180_000; Date.now() < deadline; await sleep(200)) {
    const env = await readFile(path.join(state, STATE_FILES.env), 'utf8').catch(() => undefined);
    if (env !== undefined) {
      console.log(`control plane up (supervisor pid ${pid}, state in ${state}):\n${env}`);
      console.log(`use it: set -a; . ${path.join(state, STATE_FILES.env)}; set +a`);
      return;
    }
    if (!alive(pid)) break;
  }
  const error = await readFile(path.join(state, STATE_FILES.error), 'utf8').catch(() => '');
  if (alive(pid)) process.kill(pid, 'SIGTERM');
  throw new Error(`control plane did not come up: ${error || (await tail(logFile, 30))}`);
}

async function down(state: string): Promise<void> {
  const pids = await readPids(state);
  const supervisor = await supervisorOf(state);
  if (supervisor) {
    process.kill(supervisor.pid, 'SIGTERM');
    for (const deadline = Date.now() + 15_000; alive(supervisor.pid) && Date.now() < deadline;)
      await sleep(100);
  }
  // Normally already gone (the supervisor stops them, and they die with it); this covers a stuck supervisor.
  for (const entry of pids) {
    if (entry.name !== 'supervisor' && runs(entry.pid, entry.name)) process.kill(entry.pid, 'SIGKILL');
  }
  if (supervisor && alive(supervisor.pid)) process.kill(supervisor.pid, 'SIGKILL');
  await rm(path.join(state, STATE_FILES.env), { force: true });
  await rm(path.join(state, STATE_FILES.pids), { force: true });
  console.log(supervisor ? `control plane in ${state} stopped` : `no control plane running in ${state}`);
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      state: { type: 'string' },
      ttl: { type: 'string', default: '8h' },
      crds: { type: 'string', multiple: true },
      'cert-manager': { type: 'boolean', default: false },
    },
  });
  const [command] = positionals;
  if (!values.state || (command !== 'up' && command !== 'down')) {
    throw new Error('usage: cli.ts up|down --state <dir> [--ttl 8h] [--crds <dir>]... [--cert-manager]');
  }
  const state = path.resolve(values.state);
  if (command === 'up') await up(state, parseDuration(values.ttl), values.crds ?? [], values['cert-manager']);
  else await down(state);
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
