/** Helpers shared by the benchmarks in hack/bench/. */
import { execFile } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { binaries, REPO_ROOT } from '../controlplane/binaries.ts';
import type { ControlPlane } from '../controlplane/index.ts';
import { OPERATOR_ENTRY_ENV, OPERATOR_NODE_ARGS_ENV } from '../../e2e/support/operator.ts';
import { operatorContainer, renderChart } from '../chart.ts';

/** The compiled operator, as the image runs it (the chart's args name it). */
const OPERATOR_SCRIPT = 'dist/controllers/main.js';

/**
 * Compiles the operator of `checkout` to dist/ as the image does (Dockerfile: tsc, the .proto files beside
 * dist/) and has the operators started from now on run it, unless `source` asks for the TypeScript as the
 * tests run it. Returns what runs, for the bench's header.
 */
export async function useOperatorBuild(source: boolean, checkout = REPO_ROOT): Promise<string> {
  if (source) {
    delete process.env[OPERATOR_ENTRY_ENV];
    return 'controllers/main.ts (TypeScript stripped by Node, as the tests run it)';
  }
  const dist = path.join(checkout, 'dist');
  rmSync(dist, { recursive: true, force: true });
  await promisify(execFile)(
    process.execPath,
    [path.join(checkout, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    { cwd: checkout },
  );
  cpSync(path.join(checkout, 'proto'), path.join(dist, 'proto'), { recursive: true });
  process.env[OPERATOR_ENTRY_ENV] = OPERATOR_SCRIPT;
  return `${OPERATOR_SCRIPT} (compiled, as the image runs it)`;
}

/** Runs `fn` over `items` with at most `n` in flight. */
export async function pool<T>(
  items: readonly T[],
  n: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

const WRITE_VERBS = new Set(['create', 'update', 'apply', 'patch', 'delete']);

/** The operator's API writes so far (create, update, apply, patch, delete), from its /metrics. */
export async function scrapeWrites(port: number): Promise<number> {
  let sum = 0;
  for (const [k, n] of (await scrapeMetrics(port)).requests) if (isWrite(k)) sum += n;
  return sum;
}

/** The operator's metrics of interest, so far; a busy operator may drop a scrape, so it is retried. */
export async function scrapeMetrics(port: number): Promise<{
  /** API requests by "verb kind code" (every verb: reads too). */
  requests: Map<string, number>;
  /** Reconciles by "controller result". */
  reconciles: Map<string, number>;
}> {
  let text = '';
  for (let attempt = 1; ; attempt++) {
    try {
      text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      break;
    } catch (e) {
      if (attempt >= 10) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  const collect = (re: RegExp) => {
    const out = new Map<string, number>();
    for (const m of text.matchAll(re)) {
      const key = m.slice(1, -1).join(' ');
      out.set(key, (out.get(key) ?? 0) + Number(m.at(-1)));
    }
    return out;
  };
  return {
    requests: collect(/^palisade_api_requests_total\{verb="(\w+)",kind="([\w/]+)",code="(\d+)"\} (\d+)/gm),
    reconciles: collect(/^palisade_reconcile_total\{controller="([\w-]+)",result="(\w+)"\} (\d+)/gm),
  };
}

/** Sums a map's values by the first `words` words of its keys ("verb kind code" → "verb kind"). */
export function byPrefix(m: Map<string, number>, words: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of m) {
    const p = k.split(' ').slice(0, words).join(' ');
    out.set(p, (out.get(p) ?? 0) + v);
  }
  return out;
}

/** `after - before`, keys with no change left out. */
export function delta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of after) if (v - (before.get(k) ?? 0) > 0) out.set(k, v - (before.get(k) ?? 0));
  return out;
}

export const isWrite = (verbKind: string) => WRITE_VERBS.has(verbKind.split(' ')[0] ?? '');

/** A process's resident set now and at its peak (VmRSS, VmHWM), in bytes. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** CPU time (user + system, seconds) the process `pid` has used so far, from /proc; undefined once it is gone. */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // NB: the command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    // Fields 14 and 15 of proc(5) (utime, stime) are then 12 and 13, in USER_HZ (100 wherever Node runs).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** The sockets a process holds open, by inode (watches share HTTP/2 connections: kube/sessions.ts). */
export function socketInodes(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (link.startsWith('socket:')) out.push(link);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

export const socketsOf = (pid: number) => socketInodes(pid).length;

export const MiB = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

/**
 * The chart's RBAC and admission guards (helm template, applied to the apiserver) for an operator in
 * `namespace`: what a real installation runs under. Returns a kubeconfig of the chart's ServiceAccount,
 * the operator flags the chart's Deployment passes (the role it binds in each tenant namespace) and the
 * NODE_OPTIONS it sets (V8 flags; '' when none) and the node options its args put before the script
 * (operator.nodeArgs). Those and the MALLOC_ARENA_MAX it sets go into this process's environment, which
 * the operators started afterwards inherit.
 */
export async function installChartRbac(
  cp: ControlPlane,
  namespace: string,
): Promise<{ kubeconfig: string; args: string[]; nodeOptions: string }> {
  const { kubernetesVersion } = await binaries();
  const docs = await renderChart(namespace, ['--kube-version', kubernetesVersion]);
  const RBAC = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];
  const wanted = docs.filter(
    (d) => RBAC.includes(d.kind ?? '') || d.kind?.startsWith('ValidatingAdmissionPolicy'),
  );
  const applied = await cp.kubectl(['apply', '-f', '-'], {
    input: wanted.map((d) => JSON.stringify(d)).join('\n'),
  });
  if (applied.code !== 0) throw new Error(`applying the chart's RBAC failed: ${applied.stderr}`);
  const container = operatorContainer(docs);
  const args = (container?.args ?? []).filter(
    (a) => a.startsWith('--namespace-role=') || a.startsWith('--service-account='),
  );
  const nodeOptions = container?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
  // NB: the node options before the script (operator.nodeArgs), for the operators started from now on.
  const script = (container?.args ?? []).indexOf(OPERATOR_SCRIPT);
  const nodeArgs = script > 0 ? (container?.args ?? []).slice(0, script) : [];
  if (nodeArgs.length) process.env[OPERATOR_NODE_ARGS_ENV] = nodeArgs.join(' ');
  else delete process.env[OPERATOR_NODE_ARGS_ENV];
  // NB: read by glibc when a process starts: the operators started from now on inherit it.
  const arenas = container?.env?.find((e) => e.name === 'MALLOC_ARENA_MAX')?.value;
  if (arenas) process.env.MALLOC_ARENA_MAX = arenas;
  else delete process.env.MALLOC_ARENA_MAX;
  const kubeconfig = await cp.kubeconfigFor(`system:serviceaccount:${namespace}:palisade`, [
    'system:serviceaccounts',
    `system:serviceaccounts:${namespace}`,
  ]);
  return { kubeconfig, args, nodeOptions };
}
