/**
 * `make bench-messaging`: the operator (a separate process) with messaging on, against the local control
 * plane and a real nats-server in operator mode. Prints figures; asserts nothing about speed.
 *
 *   node hack/bench/messaging.ts [--tenants 1000] [--agents 5000] [--interval 10] [--window 60] [--concurrency 32]
 *
 * 1. Provisioning: N Tenants with 2 ClusterAgents each, until every agent has credentials (seconds,
 *    operator API writes).
 * 2. Heartbeats: agents are added until there are --agents in all; each tenant gets one simulated-agent
 *    connection (a user of the tenant's account allowed exactly its agents' report subjects: the server
 *    still enforces the tenant's subjects) that publishes one heartbeat per agent per --interval seconds,
 *    spread evenly. Measured over --window seconds: operator API writes per second, and the lag from an
 *    agent's first heartbeat to Connected=True in its status.
 */
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
  },
});
const N = Number(values.tenants);
const H = Number(values.agents);
const INTERVAL_MS = Number(values.interval) * 1000;
const WINDOW_MS = Number(values.window) * 1000;
const CONCURRENCY = Number(values.concurrency);

type Agent = KubeObject & { status?: { conditions?: { type: string; status: string }[] } };
const cond = (a: Agent | undefined, type: string) =>
  a?.status?.conditions?.find((c) => c.type === type)?.status;

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
    spec: { clusterName: name, heartbeatDeadline: '60s' },
  }) as KubeObject;

async function main() {
  const cp = await startControlPlane({ crdDirs: [path.resolve(import.meta.dirname, '../../crds')] });
  setTestEnv(cp);
  process.env.KUBECONFIG = cp.kubeconfig;
  const client = new KubeClient(loadKubeConfig(cp.kubeconfig), 'palisade-bench');
  const env = await startMessaging('palisade-system', 'bench-messaging');
  const agents = new Informer<Agent>(client, { kind: 'ClusterAgent', clock: systemClock });
  const firstBeat = new Map<string, number>();
  const lags: number[] = [];
  const seenConnected = new Set<string>();
  const onAgent = (a: Agent) => {
    const key = `${a.metadata.namespace}/${a.metadata.name}`;
    const t = firstBeat.get(key);
    if (t !== undefined && !seenConnected.has(key) && cond(a, 'Connected') === 'True') {
      seenConnected.add(key);
      lags.push(Date.now() - t);
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
          pub: [`palisade.t.${uid}.agent.*.heartbeat`],
          sub: [],
        });
        const nc = await connect(
          connectionOptions([env.server], env.caPem, { jwt, seed: u.seed }, `sim-${uid}`),
        );
        return { nc, uid, ns, list };
      }),
    );
    const slots = conns.flatMap((c) => c.list.map((name) => ({ c, name })));
    let tick = 0;
    const stepMs = 100;
    const perStep = Math.max(1, Math.round((slots.length * stepMs) / INTERVAL_MS));
    const timer = setInterval(() => {
      for (let i = 0; i < perStep; i++) {
        const s = slots[tick++ % slots.length];
        if (!s) continue;
        const key = `${s.c.ns}/${s.name}`;
        if (!firstBeat.has(key)) firstBeat.set(key, Date.now());
        s.c.nc.publish(`palisade.t.${s.c.uid}.agent.${s.name}.heartbeat`, '{}');
      }
    }, stepMs);
    // Warm-up: every agent's first heartbeat turns it Connected (one write each); then the steady state.
    await until(
      'every agent Connected',
      () => lags.length >= slots.length,
      Math.max(120_000, 3 * INTERVAL_MS),
    ).catch(() => undefined);
    const w1 = await scrapeWrites(port);
    const sent1 = tick;
    const start = Date.now();
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    clearInterval(timer);
    const seconds = (Date.now() - start) / 1000;
    const hbWrites = (await scrapeWrites(port)) - w1;
    const steadyBeats = tick - sent1;
    lags.sort((a, b) => a - b);
    const q = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))] ?? NaN;
    console.log(
      `steady state: ${steadyBeats} heartbeats in ${seconds.toFixed(0)} s (${(steadyBeats / seconds).toFixed(0)}/s)`,
    );
    console.log(
      `operator API writes in steady state: ${hbWrites} (${(hbWrites / seconds).toFixed(1)}/s; status refresh ${process.env.PALISADE_AGENT_STATUS_REFRESH_MS ?? 60000} ms)`,
    );
    console.log(
      `heartbeat → Connected=True lag: ${lags.length} agents, p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, p99 ${q(0.99)} ms, max ${lags[lags.length - 1]} ms`,
    );
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
