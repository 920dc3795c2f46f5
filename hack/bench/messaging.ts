/**
 * `make bench-messaging`: the operator (a separate process) with messaging on, against the local control
 * plane and a real nats-server in operator mode. Prints figures and the floor they compare to; asserts
 * nothing about speed.
 *
 *   node hack/bench/messaging.ts [--tenants 1000] [--agents 5000] [--interval 10] [--window 60]
 *                                [--changes 500] [--refresh <ms>] [--concurrency 32]
 *
 * 1. Provisioning: N Tenants with 2 ClusterAgents each, until every agent has credentials (seconds,
 *    operator API writes).
 * 2. Cold burst: agents are added until there are --agents in all; each tenant gets one simulated-agent
 *    connection (a user of the tenant's account allowed exactly its agents' report subjects: the server
 *    still enforces the tenant's subjects), and every agent starts at once, one heartbeat per --interval,
 *    spread evenly. Until all are Connected: writes per agent (floor: 1, the transition itself), the
 *    highest writes in any one second, first heartbeat → Connected=True lag.
 * 3. Steady state, over --window seconds: operator API writes per second (floor: 0 for transitions, plus
 *    liveness refreshes: agents / refresh interval, capped by the operator's refresh budget).
 * 4. Changes: --changes agents report Degraded, --rate per second (lag to status.health), then stop
 *    heartbeating (lag from their deadline passing to Connected=False; these fall silent as their
 *    heartbeats come round, all within one interval). Floor: the same number of writes to the same
 *    ClusterAgents by a bare client at the same rate, lag to the same informer seeing them.
 *
 * --refresh sets the operator's PALISADE_AGENT_STATUS_REFRESH_MS (its default: 5 minutes), so a window
 * shorter than the default still shows the budget holding liveness refreshes back.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { startControlPlane } from '../controlplane/index.ts';
import { setTestEnv } from '../testenv/env.ts';
import { KubeClient, loadKubeConfig } from '../../controllers/runtime/kube/client.ts';
import type { KubeObject } from '../../controllers/runtime/kube/types.ts';
import { Informer } from '../../controllers/runtime/informer.ts';
import { systemClock } from '../../controllers/runtime/clock.ts';
import { connectionOptions, createKeyPair, serviceUserJwt } from '../../controllers/nats/protocol/index.ts';
import { startMessaging, stopMessaging, tenantAccount } from '../../e2e/messaging.support.ts';
import { pool, scrapeWrites } from './support.ts';

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '1000' },
    agents: { type: 'string', default: '5000' },
    interval: { type: 'string', default: '10' },
    window: { type: 'string', default: '60' },
    concurrency: { type: 'string', default: '32' },
    changes: { type: 'string', default: '500' },
    rate: { type: 'string', default: '10' },
    refresh: { type: 'string' },
  },
});
const N = Number(values.tenants);
const H = Number(values.agents);
const INTERVAL_MS = Number(values.interval) * 1000;
const WINDOW_MS = Number(values.window) * 1000;
const CONCURRENCY = Number(values.concurrency);
const CHANGES = Number(values.changes);
const RATE = Number(values.rate);
const paced = async <T>(items: T[], fn: (item: T) => unknown) => {
  for (const x of items) {
    fn(x);
    await new Promise((r) => setTimeout(r, 1000 / RATE));
  }
};
const DEADLINE_S = 30;

type Agent = KubeObject & {
  status?: { health?: string; conditions?: { type: string; status: string }[] };
};
const cond = (a: Agent | undefined, type: string) =>
  a?.status?.conditions?.find((c) => c.type === type)?.status;

function quantiles(xs: number[]): string {
  const v = [...xs].sort((a, b) => a - b);
  const q = (p: number) => v[Math.min(v.length - 1, Math.floor(p * v.length))] ?? NaN;
  return `n=${v.length}, p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${v.at(-1) ?? NaN} ms`;
}

const loadavg = () =>
  `load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;

async function until(what: string, fn: () => boolean, timeoutMs = 3_600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const agentObj = (ns: string, name: string) =>
  ({
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'ClusterAgent',
    metadata: { name, namespace: ns },
    spec: { clusterName: name, heartbeatDeadline: `${DEADLINE_S}s` },
  }) as KubeObject;

async function main() {
  const cp = await startControlPlane({ crdDirs: [path.resolve(import.meta.dirname, '../../crds')] });
  setTestEnv(cp);
  process.env.KUBECONFIG = cp.kubeconfig;
  const client = new KubeClient(loadKubeConfig(cp.kubeconfig), 'palisade-bench');
  const env = await startMessaging(
    'palisade-system',
    'bench-messaging',
    values.refresh ? { PALISADE_AGENT_STATUS_REFRESH_MS: values.refresh } : {},
  );
  const agents = new Informer<Agent>(client, { kind: 'ClusterAgent', clock: systemClock });
  const firstBeat = new Map<string, number>();
  const lags: number[] = [];
  const seenConnected = new Set<string>();
  // Lag probes: key → [since when, what counts as arrived, where to put the lag].
  const probes = new Map<string, { t: number; done: (a: Agent) => boolean; out: number[] }>();
  const onAgent = (a: Agent) => {
    const key = `${a.metadata.namespace}/${a.metadata.name}`;
    const t = firstBeat.get(key);
    if (t !== undefined && !seenConnected.has(key) && cond(a, 'Connected') === 'True') {
      seenConnected.add(key);
      lags.push(Date.now() - t);
    }
    const p = probes.get(key);
    if (p && p.done(a)) {
      probes.delete(key);
      p.out.push(Date.now() - p.t);
    }
  };
  agents.on('add', onAgent);
  agents.on('update', onAgent);
  await agents.start();
  try {
    const port = env.op.probePort;
    const names = Array.from({ length: N }, (_, i) => `bm-${i}`);
    const w0 = await scrapeWrites(port);
    const t0 = performance.now();
    await pool(names, CONCURRENCY, (n) =>
      client.create({
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'Tenant',
        metadata: { name: n },
        spec: {},
      } as KubeObject),
    );
    await pool(names, CONCURRENCY, async (n) => {
      while (!(await client.get({ kind: 'Namespace', name: `tenant-${n}` })))
        await new Promise((r) => setTimeout(r, 200));
      for (const a of ['a', 'b']) await client.create(agentObj(`tenant-${n}`, a));
    });
    const ready = () => agents.list().filter((a) => cond(a, 'CredentialsReady') === 'True').length;
    await until('every agent to get credentials', () => ready() >= 2 * N);
    const provisionS = (performance.now() - t0) / 1000;
    const provisionWrites = (await scrapeWrites(port)) - w0;
    console.log(
      `provisioning: ${N} Tenants × 2 ClusterAgents until all have credentials: ${provisionS.toFixed(1)} s, ${provisionWrites} operator API writes (${(provisionWrites / N).toFixed(1)} per tenant)`,
    );

    const perTenant = Math.ceil(H / N);
    const extra = names.flatMap((n) =>
      Array.from({ length: Math.max(0, perTenant - 2) }, (_, i) => ({ ns: `tenant-${n}`, name: `x${i}` })),
    );
    await pool(extra, CONCURRENCY, (x) => client.create(agentObj(x.ns, x.name)));
    await until('every agent to get credentials', () => ready() >= N * perTenant);
    const all = agents.list().slice(0, H);
    console.log(
      `heartbeats: ${all.length} agents over ${N} tenants, one heartbeat per agent per ${INTERVAL_MS / 1000} s`,
    );

    const byNs = new Map<string, string[]>();
    for (const a of all)
      byNs.set(a.metadata.namespace ?? '', [
        ...(byNs.get(a.metadata.namespace ?? '') ?? []),
        a.metadata.name,
      ]);
    const conns = await Promise.all(
      [...byNs].map(async ([ns, list]) => {
        const t = await client.get<KubeObject & { status?: { uid?: string } }>({
          kind: 'Tenant',
          name: ns.replace(/^tenant-/, ''),
        });
        const uid = t?.status?.uid ?? '';
        const key = await tenantAccount(env, uid);
        const u = createKeyPair('U');
        const jwt = serviceUserJwt(key, u.publicKey, 'simulator', Math.floor(Date.now() / 1000), {
          pub: [`palisade.t.${uid}.agent.*.heartbeat`, `palisade.t.${uid}.agent.*.health`],
          sub: [],
        });
        const nc = await connect(
          connectionOptions([env.server], env.caPem, { jwt, seed: u.seed }, `sim-${uid}`),
        );
        return { nc, uid, ns, list };
      }),
    );
    const slots = conns.flatMap((c) => c.list.map((name) => ({ c, name, key: `${c.ns}/${name}` })));
    const silent = new Set<string>();
    let tick = 0;
    const stepMs = 100;
    const perStep = Math.max(1, Math.round((slots.length * stepMs) / INTERVAL_MS));
    const lastBeat = new Map<string, number>();
    const timer = setInterval(() => {
      for (let i = 0; i < perStep; i++) {
        const s = slots[tick++ % slots.length];
        if (!s || silent.has(s.key)) continue;
        if (!firstBeat.has(s.key)) firstBeat.set(s.key, Date.now());
        lastBeat.set(s.key, Date.now());
        s.c.nc.publish(`palisade.t.${s.c.uid}.agent.${s.name}.heartbeat`, '{}');
      }
    }, stepMs);
    // Cold burst: every agent's first heartbeat turns it Connected; writes sampled every second.
    const wb = await scrapeWrites(port);
    const burstStart = Date.now();
    let peak = 0;
    let prev = wb;
    const sampler = setInterval(() => {
      void scrapeWrites(port).then((w) => {
        peak = Math.max(peak, w - prev);
        prev = w;
      });
    }, 1000);
    await until(
      'every agent Connected',
      () => lags.length >= slots.length,
      Math.max(300_000, 3 * INTERVAL_MS),
    ).catch(() => undefined);
    clearInterval(sampler);
    const burstS = (Date.now() - burstStart) / 1000;
    const burstWrites = (await scrapeWrites(port)) - wb;
    console.log(
      `cold burst: ${lags.length}/${slots.length} agents Connected in ${burstS.toFixed(1)} s; ${burstWrites} operator API writes (${(burstWrites / slots.length).toFixed(2)} per agent; floor 1), at most ${peak} in one second; ${loadavg()}`,
    );
    console.log(`  first heartbeat → Connected=True: ${quantiles(lags)}`);

    const w1 = await scrapeWrites(port);
    const sent1 = tick;
    const start = Date.now();
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const seconds = (Date.now() - start) / 1000;
    const hbWrites = (await scrapeWrites(port)) - w1;
    const steadyBeats = tick - sent1;
    const refreshMs = Number(values.refresh ?? 300_000);
    console.log(
      `steady state: ${steadyBeats} heartbeats in ${seconds.toFixed(0)} s (${(steadyBeats / seconds).toFixed(0)}/s); operator API writes ${hbWrites} (${(hbWrites / seconds).toFixed(1)}/s); floor: 0/s for transitions + ${((slots.length * 1000) / refreshMs).toFixed(1)}/s liveness at a ${refreshMs / 1000} s refresh (the operator caps those at its budget, 10/s by default); ${loadavg()}`,
    );

    // Changes: health first (the agents keep heartbeating), then silence.
    const changed = slots.filter((_, i) => i % Math.max(1, Math.floor(slots.length / CHANGES)) === 0);
    const chosen = changed.slice(0, CHANGES);
    const healthLags: number[] = [];
    const wc = await scrapeWrites(port);
    await paced(chosen, (s) => {
      probes.set(s.key, { t: Date.now(), done: (a) => a.status?.health === 'Degraded', out: healthLags });
      // NB: any report is a heartbeat: the deadline runs from this one if it is the last.
      lastBeat.set(s.key, Date.now());
      s.c.nc.publish(`palisade.t.${s.c.uid}.agent.${s.name}.health`, '{"status":"Degraded"}');
    });
    await until('every health change in status', () => healthLags.length >= chosen.length, 120_000).catch(
      () => undefined,
    );
    const healthWrites = (await scrapeWrites(port)) - wc;
    console.log(
      `health change: ${chosen.length} agents report Degraded, ${RATE}/s → status.health: ${quantiles(healthLags)}; ${healthWrites} writes; ${loadavg()}`,
    );
    const missedLags: number[] = [];
    const wm = await scrapeWrites(port);
    for (const s of chosen) silent.add(s.key);
    for (const s of chosen) {
      // The verdict is due when the deadline passes after the last heartbeat sent.
      const due = (lastBeat.get(s.key) ?? Date.now()) + DEADLINE_S * 1000;
      probes.set(s.key, { t: due, done: (a) => cond(a, 'Connected') === 'False', out: missedLags });
    }
    await until(
      'every missed deadline in status',
      () => missedLags.length >= chosen.length,
      (DEADLINE_S + 120) * 1000,
    ).catch(() => undefined);
    const missedWrites = (await scrapeWrites(port)) - wm;
    console.log(
      `heartbeats stop: ${chosen.length} agents silent → Connected=False after the ${DEADLINE_S} s deadline: ${quantiles(missedLags)}; ${missedWrites} writes; ${loadavg()}`,
    );

    // Floor: a bare client writes the same number of ClusterAgents at once; lag to the informer seeing it.
    const floorLags: number[] = [];
    const marks = chosen;
    await paced(marks, (s) => {
      const t = String(Date.now());
      probes.set(s.key, {
        t: Number(t),
        done: (a) => a.metadata.annotations?.['bench.palisade.dev/floor'] === t,
        out: floorLags,
      });
      void client.jsonPatch({ kind: 'ClusterAgent', name: s.name, namespace: s.c.ns }, [
        { op: 'add', path: '/metadata/annotations', value: { 'bench.palisade.dev/floor': t } },
      ]);
    });
    await until('every floor write seen', () => floorLags.length >= marks.length, 120_000).catch(
      () => undefined,
    );
    console.log(
      `floor: ${marks.length} bare-client writes to the same ClusterAgents, ${RATE}/s → seen by the informer: ${quantiles(floorLags)}; ${loadavg()}`,
    );
    clearInterval(timer);
    for (const c of conns) await c.nc.close();
  } finally {
    await agents.stop();
    await stopMessaging(env).catch(() => undefined);
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
