/**
 * `make bench`: N Tenants with what a real tenant has — its primary TenantKey, its NATS account (messaging
 * on: a real nats-server in operator mode) and, with --agents, that many ClusterAgents each — through the
 * operator (a separate process, under the chart's RBAC and admission guards), until every Tenant is Ready
 * and every agent has credentials. Then the floor (floor.ts): a bare client making the minimal writes of
 * the same path, in the same run, against the same apiserver and nats-server. Then what one Secret
 * list+watch per tenant namespace costs (the operator holds one per managed namespace). Prints figures;
 * asserts nothing about speed.
 *
 *   node --expose-gc hack/bench/tenants.ts [--tenants 1000] [--agents 0] [--shards 1] [--concurrency 32] [--profile <dir>] [--source]
 *
 * --shards K runs K operators side by side: the default shard and K-1 more (--shard=s1...), each leading
 * its own Lease; Tenant i is labelled palisade.dev/shard=s(i mod K) (none for the default shard). Writes
 * and reconciles are summed over the K processes, and each one's RSS is printed.
 *
 * --profile writes the operator's CPU profile (node --cpu-prof) to <dir>; `node hack/bench/profile.ts
 * <file>` sums it by function and by file.
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ClusterAgent, Tenant } from '../../crds/v1alpha1/index.ts';
import { startMessaging } from '../../e2e/messaging.support.ts';
import {
  OPERATOR_NODE_ARGS_ENV,
  startOperator,
  waitForControllers,
  type OperatorProcess,
} from '../../e2e/support/operator.ts';
import { SHARD_LABEL } from '../../controllers/runtime/shard.ts';
import { systemClock } from '../../controllers/runtime/clock.ts';
import { Informer } from '../../controllers/runtime/informer.ts';
import { KubeClient, loadKubeConfig } from '../../controllers/runtime/kube/client.ts';
import type { KubeObject, Namespace } from '../../controllers/runtime/kube/types.ts';
import { startControlPlane } from '../controlplane/index.ts';
import { setTestEnv } from '../testenv/env.ts';
import { runFloor } from './floor.ts';
import {
  delta,
  installChartRbac,
  isWrite,
  memoryOf,
  MiB,
  pool,
  byPrefix,
  cpuSecondsOf,
  scrapeMetrics,
  socketsOf,
  useOperatorBuild,
} from './support.ts';
import { measureNamespaceWatches } from './watches.ts';

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '1000' },
    agents: { type: 'string', default: '0' },
    concurrency: { type: 'string', default: '32' },
    profile: { type: 'string' },
    shards: { type: 'string', default: '1' },
    source: { type: 'boolean', default: false },
  },
});
const N = Number(values.tenants);
const AGENTS = Number(values.agents);
const CONCURRENCY = Number(values.concurrency);
const SHARDS = Math.max(1, Number(values.shards));
const OPERATOR_NS = 'palisade-system';

type Conditioned = { status?: { conditions?: { type: string; status: string }[] } };
const isTrue = (o: Conditioned, type: string) =>
  o.status?.conditions?.some((c) => c.type === type && c.status === 'True') ?? false;

const shardOf = (i: number) => (i % SHARDS === 0 ? undefined : `s${i % SHARDS}`);
const tenantObject = (name: string, shard?: string): KubeObject =>
  ({
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'Tenant',
    metadata: { name, ...(shard ? { labels: { [SHARD_LABEL]: shard } } : {}) },
    spec: {},
  }) as KubeObject;

/** The other shards' operators, beside the default one that startMessaging started. */
async function startShards(
  kubeconfig: string,
  args: string[],
  server: string,
  nodeOptions: string,
): Promise<OperatorProcess[]> {
  process.env.PALISADE_NATS_URL = server;
  if (nodeOptions) process.env.NODE_OPTIONS = nodeOptions;
  const ops = await Promise.all(
    Array.from({ length: SHARDS - 1 }, (_, k) =>
      startOperator({
        kubeconfig,
        namespace: OPERATOR_NS,
        identity: `bench-s${k + 1}`,
        args: [...args, `--shard=s${k + 1}`],
      }),
    ),
  );
  delete process.env.NODE_OPTIONS;
  await Promise.all(ops.map((o) => waitForControllers(o, 120_000)));
  return ops;
}

/** CPU seconds of every process of the run, by name: where the time of a phase went. */
function cpuByProcess(pids: Record<string, number>): Map<string, number> {
  const own = process.cpuUsage();
  const out = new Map<string, number>([['bench client', (own.user + own.system) / 1e6]]);
  for (const [name, pid] of Object.entries(pids)) out.set(name, cpuSecondsOf(pid) ?? 0);
  return out;
}

function cpuLine(before: Map<string, number>, after: Map<string, number>, seconds: number): string {
  return [...after]
    .map(([name, s]) => [name, s - (before.get(name) ?? 0)] as const)
    .filter(([, s]) => s > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, s]) => `${name} ${s.toFixed(1)} s (${((100 * s) / seconds).toFixed(0)}%)`)
    .join(', ');
}

/** Metrics summed over every operator process. */
async function scrapeAll(ops: OperatorProcess[]) {
  const all = await Promise.all(ops.map((o) => scrapeMetrics(o.probePort)));
  const sum = (pick: (m: (typeof all)[0]) => Map<string, number>) => {
    const out = new Map<string, number>();
    for (const m of all) for (const [k, v] of pick(m)) out.set(k, (out.get(k) ?? 0) + v);
    return out;
  };
  return { requests: sum((m) => m.requests), reconciles: sum((m) => m.reconciles) };
}
const agentObject = (namespace: string, name: string): KubeObject =>
  ({
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'ClusterAgent',
    metadata: { name, namespace },
    spec: { clusterName: name },
  }) as KubeObject;

/** Tenants Ready and agents with credentials, counted from watches (not lists: they would load the apiserver). */
async function readiness(admin: KubeClient, onNamespace: (ns: string) => void) {
  const tenants = new Informer<Tenant & KubeObject>(admin, { kind: 'Tenant', clock: systemClock });
  const agents = new Informer<ClusterAgent & KubeObject>(admin, { kind: 'ClusterAgent', clock: systemClock });
  const namespaces = new Informer<Namespace>(admin, {
    kind: 'Namespace',
    labelSelector: 'app.kubernetes.io/managed-by=palisade',
    clock: systemClock,
  });
  const ready = new Set<string>();
  const credentialed = new Set<string>();
  const onTenant = (t: Tenant & KubeObject) => void (isTrue(t, 'Ready') && ready.add(t.metadata.name));
  const onAgent = (a: ClusterAgent & KubeObject) =>
    void (isTrue(a, 'CredentialsReady') && credentialed.add(`${a.metadata.namespace}/${a.metadata.name}`));
  tenants.on('add', onTenant);
  tenants.on('update', onTenant);
  agents.on('add', onAgent);
  agents.on('update', onAgent);
  namespaces.on('add', (ns) => onNamespace(ns.metadata.name));
  await Promise.all([tenants.start(), agents.start(), namespaces.start()]);
  return {
    ready: (prefix: string) => [...ready].filter((n) => n.startsWith(prefix)).length,
    credentialed: () => credentialed.size,
    stop: () => Promise.all([tenants.stop(), agents.stop(), namespaces.stop()]),
  };
}

async function until(fn: () => boolean, what: string, timeoutMs = 2 * 3_600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Writes per tenant by "verb kind": the operator's beside the floor's. */
function table(rows: [string, number, number][], perTenant: number): string {
  const w = Math.max(24, ...rows.map(([k]) => k.length));
  const line = (k: string, a: string, b: string) => `  ${k.padEnd(w)}  ${a.padStart(8)}  ${b.padStart(8)}`;
  return [
    line('writes per tenant', 'operator', 'floor'),
    ...rows.map(([k, op, fl]) => line(k, (op / perTenant).toFixed(2), (fl / perTenant).toFixed(2))),
  ].join('\n');
}

async function main() {
  const cp = await startControlPlane({ crdDirs: [path.resolve(import.meta.dirname, '../../crds')] });
  setTestEnv(cp);
  process.env.KUBECONFIG = cp.kubeconfig;
  try {
    const admin = new KubeClient(loadKubeConfig(cp.kubeconfig), 'palisade-bench');
    await admin.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NS } });
    const rbac = await installChartRbac(cp, OPERATOR_NS);
    const build = await useOperatorBuild(values.source);
    // NB: the operator runs with the chart's NODE_OPTIONS (operator.nodeOptions), as it does in a cluster.
    const nodeOptions = [
      rbac.nodeOptions,
      ...(values.profile ? [`--cpu-prof --cpu-prof-dir=${path.resolve(values.profile)}`] : []),
    ].join(' ');
    const profile: Record<string, string> = nodeOptions.trim() ? { NODE_OPTIONS: nodeOptions.trim() } : {};
    const env = await startMessaging(OPERATOR_NS, 'bench', profile, rbac.kubeconfig, undefined, rbac.args);
    const op = env.op;
    const pid = op.child.pid ?? 0;
    const ops = [op, ...(await startShards(rbac.kubeconfig, rbac.args, env.server, rbac.nodeOptions))];

    const agentNames = Array.from({ length: AGENTS }, (_, i) => `agent-${i}`);
    const agentWork: Promise<void>[] = [];
    const watch = await readiness(admin, (ns) => {
      if (!ns.startsWith('tenant-bench-') || AGENTS === 0) return;
      agentWork.push(pool(agentNames, 1, (a) => admin.create(agentObject(ns, a))));
    });
    const idle = memoryOf(pid);
    const idles = ops.map((o) => memoryOf(o.child.pid ?? 0));
    const before = await scrapeAll(ops);
    const pids = () => ({
      ...cp.pids(),
      ...Object.fromEntries(
        ops.map((o, i) => [ops.length > 1 ? `operator ${i}` : 'operator', o.child.pid ?? 0]),
      ),
    });
    const cpuBefore = cpuByProcess(pids());
    const names = Array.from({ length: N }, (_, i) => `bench-${i}`);
    const t0 = performance.now();
    await pool(names, CONCURRENCY, (n) => admin.create(tenantObject(n, shardOf(Number(n.slice(6))))));
    const created = performance.now();
    await until(
      () => watch.ready('bench-') >= N && watch.credentialed() >= N * AGENTS,
      'every Tenant Ready and every agent credentialed',
    );
    const operatorS = (performance.now() - t0) / 1000;
    await Promise.all(agentWork);
    const after = await scrapeAll(ops);
    const cpuAfter = cpuByProcess(pids());
    const withCodes = delta(before.requests, after.requests);
    const requests = byPrefix(withCodes, 2);
    const reconciles = delta(before.reconciles, after.reconciles);
    const mem = memoryOf(pid);
    const mems = ops.map((o) => memoryOf(o.child.pid ?? 0));
    const sockets = socketsOf(pid);
    await Promise.all(ops.map((o) => o.stop()));

    const floorCpuBefore = cpuByProcess(cp.pids());
    const flag = (name: string) => rbac.args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? '';
    const floor = await runFloor({
      admin,
      kubeconfig: rbac.kubeconfig,
      operatorNamespace: OPERATOR_NS,
      role: { clusterRole: flag('namespace-role'), serviceAccount: flag('service-account') },
      nats: { server: env.server, caPem: env.caPem },
      template: names[0] ?? '',
      names: names.map((n) => `floor-${n}`),
      agents: agentNames,
      concurrency: CONCURRENCY,
    });
    const floorCpuAfter = cpuByProcess(cp.pids());
    const watches = await measureNamespaceWatches({
      cp,
      kubeconfig: rbac.kubeconfig,
      namespaces: names.map((n) => `tenant-${n}`),
    });
    await watch.stop();

    const writes = [...requests].filter(([k]) => isWrite(k));
    const kinds = [...new Set([...writes.map(([k]) => k), ...floor.writes.keys()])].sort();
    const opWrites = writes.reduce((s, [, v]) => s + v, 0);
    const floorWrites = [...floor.writes.values()].reduce((s, v) => s + v, 0);
    const reads = [...requests].filter(([k]) => !isWrite(k));
    console.log(
      `tenants: ${N} × (Tenant + primary TenantKey + NATS account + ${AGENTS} ClusterAgents), client concurrency ${CONCURRENCY}${SHARDS > 1 ? `, ${SHARDS} shards (operators side by side, tenants spread evenly)` : ''}; load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    console.log(
      `  operator under the chart's RBAC and admission guards, messaging on (nats-server in operator mode), NODE_OPTIONS ${rbac.nodeOptions || '(none)'}, node args ${process.env[OPERATOR_NODE_ARGS_ENV] ?? '(none)'}, MALLOC_ARENA_MAX ${process.env.MALLOC_ARENA_MAX ?? '(glibc default)'}, runs ${build}`,
    );
    console.log(`creating the objects:             ${((created - t0) / 1000).toFixed(1)} s`);
    console.log(
      `until all Ready (operator):       ${operatorS.toFixed(1)} s (${(N / operatorS).toFixed(1)} tenants/s)`,
    );
    console.log(
      `floor (bare client, same path):   ${floor.seconds.toFixed(1)} s (${(N / floor.seconds).toFixed(1)} tenants/s)`,
    );
    const f = floor.perTenantMs;
    console.log(
      `  one tenant's path in the floor: ${f.path.toFixed(0)} ms mean, of which ${f.rbac.toFixed(0)} ms until RBAC lets it read its new namespace, ${f.resolver.toFixed(0)} ms for the resolver's reply`,
    );
    console.log(`  CPU while the operator worked:  ${cpuLine(cpuBefore, cpuAfter, operatorS)}`);
    console.log(`  CPU while the floor worked:     ${cpuLine(floorCpuBefore, floorCpuAfter, floor.seconds)}`);
    console.log(`ratio operator / floor:           ${(operatorS / floor.seconds).toFixed(2)} (goal ≤ 1.5)`);
    console.log(
      `API writes per tenant:            operator ${(opWrites / N).toFixed(2)}, floor ${(floorWrites / N).toFixed(2)} (the Tenant${AGENTS ? ' and agent' : ''} creates by the user not counted)`,
    );
    console.log(
      table(
        kinds.map((k) => [k, requests.get(k) ?? 0, floor.writes.get(k) ?? 0]),
        N,
      ),
    );
    const refused = [...withCodes].filter(([k]) => / 403$/.test(k)).reduce((n, [, v]) => n + v, 0);
    console.log(
      `operator API reads per tenant:    ${(reads.reduce((s, [, v]) => s + v, 0) / N).toFixed(2)} (${reads.map(([k, v]) => `${k} ${(v / N).toFixed(2)}`).join(', ')}; refused with 403 while RBAC catches up: ${(refused / N).toFixed(2)})`,
    );
    const results = byPrefix(reconciles, 1);
    console.log(
      `operator reconciles per tenant:   ${[...results]
        .map(([c, n]) => {
          const odd = [...reconciles].filter(([k]) => k.startsWith(`${c} `) && !k.endsWith(' success'));
          const detail = odd.map(([k, v]) => `${k.split(' ')[1]} ${(v / N).toFixed(2)}`).join(', ');
          return `${c} ${(n / N).toFixed(2)}${detail ? ` (${detail})` : ''}`;
        })
        .join('; ')}`,
    );
    console.log(
      `operator RSS:                     peak ${MiB(mem.peak)} MiB (${((mem.peak - idle.rss) / N / 1024).toFixed(1)} KiB per tenant over the ${MiB(idle.rss)} MiB before), at the end ${MiB(mem.rss)} MiB; ${sockets} open sockets`,
    );
    if (SHARDS > 1)
      console.log(
        `  per shard: ${ops.map((o, i) => `${o.identity} peak ${MiB(mems[i]?.peak ?? 0)} MiB (from ${MiB(idles[i]?.rss ?? 0)})`).join('; ')}`,
      );
    console.log(
      `one Secret list+watch per tenant namespace (${N}, same Informer class, measured apart): synced in ${watches.syncSeconds.toFixed(1)} s; +${MiB(watches.clientRss)} MiB client RSS (${(watches.clientRss / N / 1024).toFixed(1)} KiB each), +${watches.sockets} sockets; apiserver ${watches.apiserverRss < 0 ? '' : '+'}${MiB(watches.apiserverRss)} MiB RSS`,
    );
    const idleW = watches.idle;
    console.log(
      `  the same watches idle for ${idleW.seconds.toFixed(0)} s (nothing changes): ${idleW.connectionsPerSecond.toFixed(1)} new TLS connections/s (at least), ${idleW.cpuPercent.toFixed(0)}% of a core, +${idleW.sockets} sockets at the end`,
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
