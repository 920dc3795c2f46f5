/**
 * `make bench-memory`: what the operator holds in memory, apart from speed. The operator runs as a
 * separate process under the chart's RBAC with messaging on (as in `make bench`); its resident set and
 * V8 heap are sampled once it is idle before the first Tenant, once N Tenants are Ready and it is idle
 * again, and once M Secrets that are none of Palisade's business (not labelled for it; half in tenant
 * namespaces it watches, half in a namespace it does not manage) have been written, each of K KiB.
 * Each sample waits until the operator makes no API request but its Lease's, then has it collect its
 * garbage (a preloaded SIGUSR2 handler, hack/bench/gcsignal.mjs): what it holds, not what it has not
 * collected yet. The peak (VmHWM) is printed too: a memory limit must leave room for it.
 * Then, with the operator stopped, what one Secret list+watch per tenant namespace costs in this
 * process (watches.ts; run with --expose-gc for the heap figure). Prints figures; asserts nothing.
 *
 *   node --expose-gc hack/bench/memory.ts [--tenants 1000] [--secrets 1000] [--secret-kib 100] [--snapshot <dir>] [--checkout <dir>]
 *     [--node-options=<V8 flags for the operator>] [--source]
 *
 * The operator runs compiled (dist/controllers/main.js, as the image runs it); --source runs the
 * TypeScript as the tests do, which Node's type stripping makes about 28 MiB larger.
 *
 * The operator runs with the chart's NODE_OPTIONS (operator.nodeOptions) unless --node-options names
 * others (`--node-options=` for V8's defaults).
 * --checkout runs the operator of another checkout (e.g. a `git worktree` of an earlier commit, its
 * node_modules linked), for a before/after comparison on the same machine.
 * --snapshot writes a V8 heap snapshot of the operator (SIGWINCH, node --heapsnapshot-signal) into <dir>
 * at each sample, for a heap viewer.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Tenant } from '../../crds/v1alpha1/index.ts';
import { startMessaging } from '../../e2e/messaging.support.ts';
import { OPERATOR_NODE_ARGS_ENV, type OperatorProcess } from '../../e2e/support/operator.ts';
import { systemClock } from '../../controllers/runtime/clock.ts';
import { Informer } from '../../controllers/runtime/informer.ts';
import { KubeClient, loadKubeConfig } from '../../controllers/runtime/kube/client.ts';
import type { KubeObject } from '../../controllers/runtime/kube/types.ts';
import { startControlPlane } from '../controlplane/index.ts';
import { setTestEnv } from '../testenv/env.ts';
import { installChartRbac, memoryOf, MiB, pool, socketsOf, useOperatorBuild } from './support.ts';
import { measureNamespaceWatches } from './watches.ts';

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '1000' },
    secrets: { type: 'string', default: '1000' },
    'secret-kib': { type: 'string', default: '100' },
    snapshot: { type: 'string' },
    checkout: { type: 'string' },
    'node-options': { type: 'string' },
    source: { type: 'boolean', default: false },
  },
});
const N = Number(values.tenants);
const SECRETS = Number(values.secrets);
const SECRET_KIB = Number(values['secret-kib']);
const CHECKOUT = values.checkout ? path.resolve(values.checkout) : undefined;
const SNAPSHOTS = values.snapshot ? path.resolve(values.snapshot) : undefined;
const OPERATOR_NS = 'palisade-system';
const UNMANAGED_NS = 'bench-unrelated';
/** How long the operator must be quiet (no API request) before a sample. */
const QUIET_MS = 5_000;

interface Sample {
  rss: number;
  peak: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  sockets: number;
  load: string;
}

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** The operator's V8 heap in use and its external memory (buffers), from its own /metrics. */
async function heapOf(port: number): Promise<{ heapUsed: number; heapTotal: number; external: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const gauge = (name: string) => Number(new RegExp(`^palisade_${name} (\\S+)`, 'm').exec(text)?.[1] ?? 0);
  return {
    heapUsed: gauge('nodejs_heap_size_used_bytes'),
    heapTotal: gauge('nodejs_heap_size_total_bytes'),
    external: gauge('nodejs_external_memory_bytes'),
  };
}

/** API requests the operator made so far but its Lease's: unchanged for QUIET_MS means it is idle. */
async function requestsOf(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^palisade_api_requests_total\{[^}]*kind="(\w+)"[^}]*\} (\d+)/gm))
    if (m[1] !== 'Lease') n += Number(m[2]);
  return n;
}

async function quiet(port: number): Promise<void> {
  let last = -1;
  for (;;) {
    const now = await requestsOf(port);
    if (now === last) return;
    last = now;
    await new Promise((r) => setTimeout(r, QUIET_MS));
  }
}

async function snapshot(op: OperatorProcess, label: string): Promise<void> {
  if (!SNAPSHOTS) return;
  const before = new Set(readdirSync(SNAPSHOTS));
  op.child.kill('SIGWINCH');
  let file: string | undefined;
  let size = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 2000));
    file ??= readdirSync(SNAPSHOTS).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    if (!file) continue;
    const now = statSync(path.join(SNAPSHOTS, file)).size;
    if (now === size && now > 0) break;
    size = now;
  }
  console.log(`  heap snapshot (${label}): ${path.join(SNAPSHOTS, file)}`);
}

/** Two full garbage collections in the operator (hack/bench/gcsignal.mjs), a moment apart. */
async function collected(op: OperatorProcess): Promise<void> {
  for (let i = 0; i < 2; i++) {
    op.child.kill('SIGUSR2');
    await new Promise((r) => setTimeout(r, 3000));
  }
}

async function sample(op: OperatorProcess, label: string): Promise<Sample> {
  await quiet(op.probePort);
  const pid = op.child.pid ?? 0;
  await collected(op);
  const { rss, peak } = memoryOf(pid);
  const heap = await heapOf(op.probePort);
  const s = { rss, peak, ...heap, sockets: socketsOf(pid), load: load() };
  console.log(
    `${label.padEnd(34)} RSS ${MiB(s.rss).padStart(5)} MiB (peak ${MiB(s.peak)}), V8 heap used ${MiB(s.heapUsed)} MiB of ${MiB(s.heapTotal)} MiB, external ${MiB(s.external)} MiB, ${s.sockets} sockets; load ${s.load}`,
  );
  await snapshot(op, label);
  return s;
}

async function untilReady(admin: KubeClient, n: number): Promise<void> {
  const tenants = new Informer<Tenant & KubeObject>(admin, { kind: 'Tenant', clock: systemClock });
  const ready = new Set<string>();
  const see = (t: Tenant & KubeObject) => {
    if (t.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
      ready.add(t.metadata.name);
  };
  tenants.on('add', see);
  tenants.on('update', see);
  await tenants.start();
  while (ready.size < n) await new Promise((r) => setTimeout(r, 200));
  await tenants.stop();
}

const unrelatedSecret = (namespace: string, name: string, payload: string): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels: { app: 'unrelated' } },
    type: 'Opaque',
    data: { blob: payload },
  }) as KubeObject;

async function main() {
  if (SNAPSHOTS) mkdirSync(SNAPSHOTS, { recursive: true });
  const cp = await startControlPlane({ crdDirs: [path.resolve(import.meta.dirname, '../../crds')] });
  setTestEnv(cp);
  process.env.KUBECONFIG = cp.kubeconfig;
  try {
    const admin = new KubeClient(loadKubeConfig(cp.kubeconfig), 'palisade-bench');
    for (const name of [OPERATOR_NS, UNMANAGED_NS])
      await admin.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    const rbac = await installChartRbac(cp, OPERATOR_NS);
    const build = await useOperatorBuild(values.source, CHECKOUT);
    const gcOnSignal = `--expose-gc --import=${path.join(import.meta.dirname, 'gcsignal.mjs')}`;
    const snapshots = SNAPSHOTS ? ` --heapsnapshot-signal=SIGWINCH --diagnostic-dir=${SNAPSHOTS}` : '';
    // NB: the chart's V8 flags unless --node-options says otherwise ('' for V8's defaults).
    const v8Flags = values['node-options'] ?? rbac.nodeOptions;
    const extraEnv = { NODE_OPTIONS: `${gcOnSignal}${snapshots} ${v8Flags}`.trim() };
    const env = await startMessaging(OPERATOR_NS, 'memory', extraEnv, rbac.kubeconfig, CHECKOUT, rbac.args);
    const op = env.op;
    console.log(
      `operator memory: ${N} Tenants, then ${SECRETS} unrelated Secrets of ${SECRET_KIB} KiB${CHECKOUT ? ` (operator of ${CHECKOUT})` : ''}; operator NODE_OPTIONS: ${v8Flags || 'none'}, node args ${process.env[OPERATOR_NODE_ARGS_ENV] ?? 'none'}, MALLOC_ARENA_MAX ${process.env.MALLOC_ARENA_MAX ?? '(glibc default)'}; runs ${build}`,
    );
    const base = await sample(op, 'idle, before the first Tenant:');

    const names = Array.from({ length: N }, (_, i) => `mem-${i}`);
    const t0 = performance.now();
    await pool(names, 32, (name) =>
      admin.create({
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'Tenant',
        metadata: { name },
        spec: {},
      } as KubeObject),
    );
    await untilReady(admin, N);
    console.log(`  ${N} Tenants Ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const full = await sample(op, `idle, ${N} Tenants Ready:`);
    console.log(
      `  per tenant: ${((full.rss - base.rss) / N / 1024).toFixed(1)} KiB RSS, ${((full.heapUsed - base.heapUsed) / N / 1024).toFixed(1)} KiB V8 heap`,
    );

    // NB: random bytes, so neither etcd nor anything on the way compresses them away.
    const payload = randomBytes(SECRET_KIB * 1024).toString('base64');
    const spots = Array.from({ length: SECRETS }, (_, i) =>
      i % 2 === 0 && N > 0
        ? { ns: `tenant-${names[(i / 2) % N]}`, name: `unrelated-${i}` }
        : { ns: UNMANAGED_NS, name: `unrelated-${i}` },
    );
    await pool(spots, 16, (s) => admin.create(unrelatedSecret(s.ns, s.name, payload)));
    const after = await sample(op, `idle, ${SECRETS} unrelated Secrets:`);
    console.log(
      `  the unrelated Secrets add ${MiB(after.rss - full.rss)} MiB RSS (goal < 10), ${MiB(after.heapUsed - full.heapUsed)} MiB V8 heap`,
    );
    await op.stop();

    const watches = await measureNamespaceWatches({
      cp,
      kubeconfig: rbac.kubeconfig,
      namespaces: names.map((n) => `tenant-${n}`),
      idleSeconds: 5,
    });
    const each = (bytes: number) => (bytes / N / 1024).toFixed(1);
    console.log(
      `one Secret list+watch per tenant namespace (${N}, the runtime's Informer, in this process): ${each(watches.clientRss)} KiB RSS and ${each(watches.clientHeap)} KiB V8 heap each, on ${watches.connections} HTTP/2 connections (+${watches.sockets} sockets); load ${load()}`,
    );
  } finally {
    await cp.stop();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
