/**
 * The report phase of `make bench-pairing` (hack/bench/pairing.ts): the paired agents report over gRPC
 * (ClusterChannel.Report, each agent on its own mTLS connection), then over NATS (a real nats-server; the
 * reports read as MessagingBus reads them), into the same heartbeat store; the real ClusterAgent
 * reconcile turns them into status, driven as its controller drives it (a report enqueues a key only when
 * status may change). Per transport: heartbeats alone (reports/s, this process's CPU seconds per 1,000
 * reports, API writes/s), then `changes` health changes among 10× as many heartbeats (report-to-status lag:
 * a health change sent → status.health showing it; API writes per change).
 *
 * The agents run in a child process (this file, forked), so the CPU figures are the operator's side
 * alone. Driven over IPC:
 *
 *   → {op:'init', address, caPem, natsUrl, agents:[{certPem, keyPem, tenantUID, name}]}
 *       every agent dials the channel (200 handshakes at a time: more at once overflow the listen backlog)
 *       and sends one empty report; one NATS connection carries every agent's NATS reports.
 *                                                                              ← {op:'ready'}
 *   → {op:'flood', via:'grpc'|'nats', reports, changes, health}
 *       `reports` heartbeats spread over the agents (gRPC: one call in flight per agent), with agent i
 *       (i < changes) reporting `health` after every reports/changes heartbeats.
 *                        ← {op:'sent', changes:[Date.now() just before change i was sent]}
 */
import { fork, spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ClusterAgent } from '../../crds/v1alpha1/index.ts';
import { clusterChannelClient, type AgentClient } from '../../controllers/agentchannel/proto.ts';
import type { FakeNats } from '../../controllers/clusteragent/testdata/nats.ts';
import type { FakeInstallation } from '../../controllers/keystore/testing/installation.ts';
import { parseReportSubject } from '../../controllers/nats/protocol/index.ts';
import type { Reconcile } from '../../controllers/runtime/controller.ts';
import type { FakeCache } from '../../controllers/runtime/testing/cache.ts';
import { binaries } from '../controlplane/binaries.ts';

const NS = 'tenant-bench';

interface SimAgent {
  certPem: string;
  keyPem: string;
  tenantUID: string;
  name: string;
}
type ToAgents =
  | { op: 'init'; address: string; caPem: string; natsUrl: string; agents: SimAgent[] }
  | { op: 'flood'; via: 'grpc' | 'nats'; reports: number; changes: number; health: string };
type FromAgents = { op: 'ready' } | { op: 'sent'; changes: number[] } | { op: 'failed'; error: string };

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0;

/** The health each transport's changes set (different, so each transport's changes are transitions). */
const CHANGED_HEALTH = { grpc: 'Degraded', nats: 'Unhealthy' } as const;

/** Report → ClusterAgent status: the controller's path (heartbeats enqueue a key; a few reconcile at once). */
function driveStatus(
  w: FakeInstallation,
  nats: FakeNats,
  reconcile: Reconcile,
): { idle(): boolean; stop(): void } {
  const pending = new Set<string>();
  let running = 0;
  const pump = () => {
    for (const key of pending) {
      if (running >= 4) return;
      pending.delete(key);
      running++;
      void reconcile(key)
        .catch(() => pending.add(key))
        .finally(() => {
          running--;
          pump();
        });
    }
  };
  nats.heartbeats.onChange((_, name) => {
    pending.add(`${NS}/${name}`);
    pump();
  });
  // NB: the in-memory installation's clock starts in 2030; reports carry real time, so it follows it.
  const follow = setInterval(() => w.env.advance(Date.now() - w.env.now().getTime()), 50);
  w.env.advance(Date.now() - w.env.now().getTime());
  return { idle: () => !pending.size && !running, stop: () => clearInterval(follow) };
}

export interface ReportPhase {
  w: FakeInstallation;
  nats: FakeNats;
  agents: FakeCache<ClusterAgent>;
  /** The ClusterAgent reconcile. */
  reconcile: Reconcile;
  /** The cluster channel's `host:port`, and the CA its certificates chain to. */
  address: string;
  caPem: string;
  tenantUID: string;
  paired: { cert: string; keyPem: string; name: string }[];
  /** Heartbeats per transport, and health changes among them. */
  reports: number;
  changes: number;
}

/** The report phase: gRPC, then NATS, from the same agents; prints one table. */
export async function reportPhase(o: ReportPhase): Promise<void> {
  const status = driveStatus(o.w, o.nats, o.reconcile);
  const natsd = await startNatsServer();
  const sub = await connect({ servers: natsd.url, name: 'palisade-reports' });
  let received = 0;
  const report = o.nats.heartbeats.report.bind(o.nats.heartbeats);
  o.nats.heartbeats.report = (who, content, now) => {
    received++;
    report(who, content, now);
  };
  // As MessagingBus does: identity from the subject, content parsed by the heartbeat store.
  sub.subscribe('palisade.t.*.agent.*.*', {
    callback: (err, msg) => {
      const origin = err ? undefined : parseReportSubject(msg.subject);
      if (origin) o.nats.heartbeats.record(origin, msg.data, Date.now());
    },
  });
  await sub.flush();
  const sim = fork(import.meta.filename, { execArgv: [] });
  const ask = (m: ToAgents) =>
    new Promise<FromAgents>((resolve, reject) => {
      sim.once('message', (r: FromAgents) => (r.op === 'failed' ? reject(new Error(r.error)) : resolve(r)));
      sim.send(m);
    });
  try {
    process.stdout.write(`${o.paired.length} agents connecting (gRPC: one mTLS connection each; NATS)…\n`);
    const agents = o.paired.map((p) => ({
      certPem: p.cert,
      keyPem: p.keyPem,
      tenantUID: o.tenantUID,
      name: p.name,
    }));
    await ask({ op: 'init', address: o.address, caPem: o.caPem, natsUrl: natsd.url, agents });
    await until(() => o.nats.heartbeats.size >= agents.length, 120_000);
    // NB: every agent's first report is a transition (Connected): written before anything is measured.
    await until(status.idle, 1_800_000);
    const rows: string[][] = [];
    for (const via of ['grpc', 'nats'] as const) {
      await until(status.idle, 600_000);
      rows.push(await flood(o, via, () => received, ask));
    }
    const head = [
      '',
      'agents',
      'reports/s',
      'CPU-s/1,000',
      'API writes/s',
      'lag p50 ms',
      'lag p99 ms',
      'changes seen',
      'writes/change',
    ];
    const table = [head, ...rows];
    const width = head.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
    for (const r of table) process.stdout.write(`${r.map((c, i) => c.padStart(width[i] ?? 0)).join('  ')}\n`);
    process.stdout.write(
      `(CPU: the operator process only — the agents are a child process, nats-server its own; ${loadavg()})\n`,
    );
  } finally {
    sim.disconnect();
    status.stop();
    await sub.close();
    natsd.stop();
  }
}

/** One transport: o.reports heartbeats with CHANGES health changes among them; a row of the table. */
async function flood(
  o: ReportPhase,
  via: 'grpc' | 'nats',
  received: () => number,
  ask: (m: ToAgents) => Promise<FromAgents>,
): Promise<string[]> {
  // Heartbeats alone: throughput, CPU, writes (the agents are connected already: no transitions due).
  const r0 = received();
  const v0 = Number(o.w.server.resourceVersion);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await ask({ op: 'flood', via, reports: o.reports, changes: 0, health: '' });
  await until(() => received() - r0 >= o.reports, 600_000);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const writes = Number(o.w.server.resourceVersion) - v0;
  // Then health changes among fewer heartbeats: report-to-status lag, writes per change. Apart, because
  // each status write costs the in-memory API server O(objects) (its lifecycle scan): harness, not operator.
  const changes = Math.min(o.changes, o.paired.length);
  const want = CHANGED_HEALTH[via];
  const seen = new Map<string, number>();
  o.agents.on('update', (a) => {
    if (a.status?.health === want && !seen.has(a.metadata.name)) seen.set(a.metadata.name, Date.now());
  });
  const v1 = Number(o.w.server.resourceVersion);
  const sent = (await ask({ op: 'flood', via, reports: 10 * changes, changes, health: want })) as {
    changes: number[];
  };
  await until(() => seen.size >= changes, 120_000).catch(() => undefined);
  const changeWrites = Number(o.w.server.resourceVersion) - v1;
  const lags = sent.changes.flatMap((t, i) => {
    const s = seen.get(o.paired[i]?.name ?? '');
    return s === undefined ? [] : [s - t];
  });
  return [
    via === 'grpc' ? 'gRPC' : 'NATS',
    String(o.paired.length),
    (o.reports / seconds).toFixed(0),
    ((cpu.user + cpu.system) / 1e6 / (o.reports / 1000)).toFixed(3),
    (writes / seconds).toFixed(1),
    pct(lags, 0.5).toFixed(0),
    pct(lags, 0.99).toFixed(0),
    `${lags.length}/${changes}`,
    (changeWrites / Math.max(1, changes)).toFixed(2),
  ];
}

async function until(fn: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const loadavg = () =>
  `load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;

/** A plain nats-server on a free loopback port (the reports' subjects are what is measured, not auth). */
async function startNatsServer(): Promise<{ url: string; stop(): void }> {
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const proc = spawn((await binaries()).natsServer, ['-a', '127.0.0.1', '-p', String(port)], {
    stdio: 'ignore',
  });
  const url = `nats://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      await (await connect({ servers: url })).close();
      break;
    } catch (e) {
      if (i > 50) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const stop = () => void proc.kill();
  // NB: an interrupted bench must not leave nats-server behind.
  process.once('exit', stop);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  return { url, stop };
}

// ——— the agents' side (the forked child) ———

function report(c: AgentClient, req: unknown): Promise<void> {
  return new Promise((resolve, reject) =>
    (c.Report as (r: unknown, cb: (e: ServiceError | null) => void) => void)(req, (e) =>
      e ? reject(e) : resolve(),
    ),
  );
}

let agents: SimAgent[] = [];
let clients: AgentClient[] = [];
let nc: NatsConnection | undefined;

async function init(m: Extract<ToAgents, { op: 'init' }>): Promise<void> {
  agents = m.agents;
  clients = agents.map((a) =>
    clusterChannelClient(
      m.address,
      credentials.createSsl(Buffer.from(m.caPem), Buffer.from(a.keyPem), Buffer.from(a.certPem)),
    ),
  );
  for (let i = 0; i < clients.length; i += 200)
    await Promise.all(clients.slice(i, i + 200).map((c) => report(c, {})));
  nc = await connect({ servers: m.natsUrl, name: 'bench-agents' });
}

async function floodGrpc(reports: number, changes: number, health: string): Promise<number[]> {
  const at: number[] = [];
  const every = Math.max(1, Math.floor(reports / Math.max(1, changes)));
  let sent = 0;
  await Promise.all(
    clients.map(async (c) => {
      while (sent < reports) {
        const n = ++sent;
        if (n % every === 0 && at.length < changes) {
          const i = at.length;
          at.push(Date.now());
          void report(clients[i] as AgentClient, { health: `HEALTH_${health.toUpperCase()}` });
        }
        await report(c, { statistics: { nodes: '3' } });
      }
    }),
  );
  return at;
}

async function floodNats(reports: number, changes: number, health: string): Promise<number[]> {
  const conn = nc as NatsConnection;
  const at: number[] = [];
  const every = Math.max(1, Math.floor(reports / Math.max(1, changes)));
  const subject = (a: SimAgent, kind: string) => `palisade.t.${a.tenantUID}.agent.${a.name}.${kind}`;
  for (let n = 1; n <= reports; n++) {
    conn.publish(subject(agents[n % agents.length] as SimAgent, 'heartbeat'), '{}');
    if (n % every === 0 && at.length < changes) {
      at.push(Date.now());
      conn.publish(subject(agents[at.length - 1] as SimAgent, 'health'), JSON.stringify({ status: health }));
    }
    // NB: a flush per 500 keeps the client's buffer (and the server's slow-consumer limit) bounded.
    if (n % 500 === 0) await conn.flush();
  }
  await conn.flush();
  return at;
}

function runAgents(): void {
  process.on('message', (m: ToAgents) => {
    const done = (msg: FromAgents) => process.send?.(msg);
    const fail = (e: unknown) => done({ op: 'failed', error: e instanceof Error ? e.message : String(e) });
    if (m.op === 'init') init(m).then(() => done({ op: 'ready' }), fail);
    else
      (m.via === 'grpc' ? floodGrpc : floodNats)(m.reports, m.changes, m.health).then(
        (changes) => done({ op: 'sent', changes }),
        fail,
      );
  });
  process.on('disconnect', () => {
    for (const c of clients) c.close();
    void nc?.close();
    process.exit(0);
  });
}

if (process.send && process.argv[1] === import.meta.filename) runAgents();
