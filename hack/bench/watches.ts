/**
 * What one Secret list+watch per tenant namespace costs (the operator holds one per managed namespace,
 * controllers/runtime/namespaced.ts), measured apart from everything else the operator does: N informers
 * of the runtime's own Informer class, under the operator's identity and label selector, in this process.
 * Then the same informers idle (nothing changes in those namespaces) for `idleSeconds`: the connections
 * they open meanwhile and the CPU they use.
 */
import { systemClock } from '../../controllers/runtime/clock.ts';
import { Informer } from '../../controllers/runtime/informer.ts';
import { KubeClient, loadKubeConfig } from '../../controllers/runtime/kube/client.ts';
import { watchStats } from '../../controllers/runtime/kube/watch.ts';
import type { Secret } from '../../controllers/runtime/kube/types.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../../controllers/runtime/objects.ts';
import type { ControlPlane } from '../controlplane/index.ts';
import { memoryOf, socketInodes, socketsOf } from './support.ts';

export interface WatchCost {
  syncSeconds: number;
  /** Bytes of resident memory this process gained holding them, and of V8 heap (after a GC, with --expose-gc). */
  clientRss: number;
  clientHeap: number;
  sockets: number;
  /** The HTTP/2 connections the watches share (kube/sessions.ts). */
  connections: number;
  apiserverRss: number;
  /** While idle: new connections per second (sampled each second: a lower bound) and CPU, % of a core. */
  idle: { seconds: number; connectionsPerSecond: number; cpuPercent: number; sockets: number };
}

const settle = async () => {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 500));
};

export async function measureNamespaceWatches(o: {
  cp: ControlPlane;
  kubeconfig: string;
  namespaces: readonly string[];
  idleSeconds?: number;
}): Promise<WatchCost> {
  const client = new KubeClient(loadKubeConfig(o.kubeconfig), 'palisade-bench-watches');
  const apiserver = o.cp.pids()['kube-apiserver'] ?? 0;
  await settle();
  const before = {
    me: memoryOf(process.pid).rss,
    heap: process.memoryUsage().heapUsed,
    connections: watchStats().connections,
    api: memoryOf(apiserver).rss,
    sockets: socketsOf(process.pid),
  };
  const informers = o.namespaces.map(
    (namespace) =>
      new Informer<Secret>(client, {
        kind: 'Secret',
        namespace,
        labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
        clock: systemClock,
      }),
  );
  const t0 = performance.now();
  await Promise.all(informers.map((i) => i.start()));
  await Promise.all(informers.map((i) => i.waitForSync()));
  const syncSeconds = (performance.now() - t0) / 1000;
  await settle();
  const cost = {
    syncSeconds,
    clientRss: memoryOf(process.pid).rss - before.me,
    clientHeap: process.memoryUsage().heapUsed - before.heap,
    sockets: socketsOf(process.pid) - before.sockets,
    connections: watchStats().connections - before.connections,
    apiserverRss: memoryOf(apiserver).rss - before.api,
  };
  const idle = await idleCost((o.idleSeconds ?? 65) * 1000);
  idle.sockets -= before.sockets;
  await Promise.all(informers.map((i) => i.stop()));
  return { ...cost, idle };
}

async function idleCost(ms: number): Promise<WatchCost['idle']> {
  const seen = new Set(socketInodes(process.pid));
  let opened = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    await new Promise((r) => setTimeout(r, 1000));
    for (const s of socketInodes(process.pid)) if (!seen.has(s) && seen.add(s)) opened++;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    seconds,
    connectionsPerSecond: opened / seconds,
    cpuPercent: (100 * (cpu.user + cpu.system)) / 1e6 / seconds,
    sockets: socketsOf(process.pid),
  };
}
