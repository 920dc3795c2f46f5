import type { ReportOrigin } from './protocol/index.ts';

export type ReportedHealth = 'Healthy' | 'Degraded' | 'Unhealthy';

/** What Palisade last heard from one agent. Identity comes from the subject; only content from the body. */
export interface AgentReport {
  /** When the last report of any kind arrived (ms since the epoch, Palisade's clock). */
  lastSeen: number;
  health?: ReportedHealth;
  statistics?: Record<string, string>;
}

/** Which agent sent a report: the tenant's UID and the ClusterAgent's name. */
export interface ReportSender {
  tenantUID: string;
  agent: string;
}

export interface ReportContent {
  health?: ReportedHealth;
  statistics?: Record<string, string>;
}

const HEALTH = new Set(['Healthy', 'Degraded', 'Unhealthy']);
const MAX_STATS = 32;
const MAX_VALUE = 256;

/** The health a `.health` report carries: `{"status":"Healthy"}` or the bare word. */
export function parseHealth(data: Uint8Array): ReportedHealth | undefined {
  const text = new TextDecoder().decode(data).trim();
  let value: unknown = text;
  try {
    value = (JSON.parse(text) as { status?: unknown }).status ?? JSON.parse(text);
  } catch {
    // a bare word
  }
  return typeof value === 'string' && HEALTH.has(value) ? (value as ReportedHealth) : undefined;
}

/** A `.stats` report: a flat JSON object; at most 32 entries, values stringified and capped. */
export function parseStatistics(data: Uint8Array): Record<string, string> | undefined {
  let obj: unknown;
  try {
    obj = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj).slice(0, MAX_STATS)) {
    if (!/^[A-Za-z0-9_.-]{1,63}$/.test(k) || (typeof v !== 'string' && typeof v !== 'number')) continue;
    out[k] = String(v).slice(0, MAX_VALUE);
  }
  return out;
}

/** The resolution of deadline watching: an agent that falls silent is noticed within this of its deadline. */
const SLOT_MS = 250;

/** Liveness-only status refreshes granted per second, across all agents (transitions are not held back). */
export const DEFAULT_REFRESH_BUDGET_PER_SECOND = 10;

/**
 * Agent reports, in memory only: a heartbeat is never an API write by itself. The store calls `notify`
 * only when the status may have to change: an agent not (yet) reported connected, or a health change.
 *
 * Liveness is kept here, as Kubernetes keeps a node's in its Lease rather than in Node status; status
 * shows transitions at once and `lastHeartbeat` only at a coarse interval. Those liveness-only refreshes
 * wait for a global budget ({@link claimRefresh}, {@link grantNext}): a queue, one entry per agent, drained
 * at a fixed rate, with every transition written meanwhile taking a slot first ({@link chargeTransition}).
 * So the writes heartbeats cause stay near the budget however many agents there are, and a burst of
 * agents that all connected together does not come back as a burst of refreshes.
 */
export class HeartbeatStore {
  private readonly reports = new Map<string, AgentReport>();
  private readonly reportedConnected = new Set<string>();
  private notify: (tenantUID: string, agent: string) => void = () => undefined;
  /** Agents whose liveness refresh waits for the budget, oldest first (a Set keeps insertion order). */
  private readonly waiting = new Set<string>();
  /** Agents granted one refresh, until their reconcile claims it. */
  private readonly granted = new Set<string>();
  /** Transitions written since the last grant: each takes a refresh slot. */
  private debt = 0;
  private since: number | undefined;
  private pump: NodeJS.Timeout | undefined;
  private perSecond = DEFAULT_REFRESH_BUDGET_PER_SECOND;
  /**
   * The heartbeat deadlines of agents shown connected, as a timing wheel: each agent sits in the slot
   * of the moment its deadline passes, moved by each report (O(1)), and the slots are swept in order.
   * So a silent agent is noticed within a slot of its deadline, with no reconcile per agent meanwhile.
   */
  private readonly deadlines = new Map<string, { lengthMs: number; slot: number }>();
  private readonly slots = new Map<number, Set<string>>();
  /** When each connected agent's shown lastHeartbeat is due for a refresh; its next report queues it. */
  private readonly refreshAt = new Map<string, number>();
  private swept: number | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly clock: () => number;

  constructor(clock: () => number = Date.now) {
    this.clock = clock;
  }

  onChange(fn: (tenantUID: string, agent: string) => void): void {
    this.notify = fn;
  }

  /** Liveness-only refreshes per second, across all agents. */
  setRefreshBudget(perSecond: number): void {
    this.perSecond = perSecond;
    this.stopPump();
    if (this.waiting.size) this.startPump();
  }

  /**
   * Reports can arrive from now on (the report channel connected). Until then no agent shown connected
   * is declared missing: silence only means something once Palisade is listening.
   */
  listening(now: number): void {
    this.since ??= now;
  }

  /** When Palisade began to listen for reports (undefined: not yet). */
  get listeningSince(): number | undefined {
    return this.since;
  }

  /** A report as NATS carries it: identity from the subject, content parsed from the body. */
  record(origin: ReportOrigin, data: Uint8Array, now: number): void {
    const who = { tenantUID: origin.tenantUID, agent: origin.agent };
    if (origin.kind === 'health') this.report(who, { health: parseHealth(data) }, now);
    else if (origin.kind === 'stats') this.report(who, { statistics: parseStatistics(data) }, now);
    else this.report(who, {}, now);
  }

  /**
   * A report from any channel (NATS or the gRPC cluster channel). `who` comes from what authenticated
   * the sender (the NATS subject its user may publish on, the client certificate), never from content.
   * Any report is a heartbeat; absent health or statistics keep the last ones.
   */
  report(who: ReportSender, content: ReportContent, now: number): void {
    const key = `${who.tenantUID}/${who.agent}`;
    const prev = this.reports.get(key);
    const next: AgentReport = { ...prev, lastSeen: now };
    if (content.health) next.health = content.health;
    if (content.statistics) next.statistics = content.statistics;
    this.reports.set(key, next);
    const d = this.deadlines.get(key);
    if (d) this.arm(key, d.lengthMs, now + d.lengthMs);
    const refreshAt = this.refreshAt.get(key);
    if (refreshAt !== undefined && now >= refreshAt) {
      // Its lastHeartbeat is due for a refresh: it queues for the budget, which wakes it in turn.
      this.refreshAt.delete(key);
      this.queueRefresh(key);
    }
    if (!this.reportedConnected.has(key) || prev?.health !== next.health)
      this.notify(who.tenantUID, who.agent);
  }

  get(tenantUID: string, agent: string): AgentReport | undefined {
    return this.reports.get(`${tenantUID}/${agent}`);
  }

  /**
   * The reconcile says what status now shows, so the next heartbeat does not enqueue needlessly; for an
   * agent shown connected, also when its deadline passes unless it reports again (`expiresAt`), and how
   * long the deadline is (each report moves it).
   */
  markReported(
    tenantUID: string,
    agent: string,
    connected: boolean,
    deadline?: { lengthMs: number; expiresAt: number; refreshAt?: number },
  ): void {
    const key = `${tenantUID}/${agent}`;
    if (connected) this.reportedConnected.add(key);
    else this.reportedConnected.delete(key);
    if (connected && deadline) this.arm(key, deadline.lengthMs, deadline.expiresAt);
    else this.disarm(key);
    if (connected && deadline?.refreshAt !== undefined) this.refreshAt.set(key, deadline.refreshAt);
    else this.refreshAt.delete(key);
  }

  /** Notifies every agent whose deadline passed by `now` (the sweeper's tick; tests call it directly). */
  sweep(now: number): void {
    const last = Math.floor(now / SLOT_MS);
    let slot = this.swept ?? last;
    for (; slot <= last; slot++) {
      const due = this.slots.get(slot);
      if (!due) continue;
      this.slots.delete(slot);
      for (const key of due) {
        this.deadlines.delete(key);
        this.wake(key);
      }
    }
    this.swept = last + 1;
    if (!this.deadlines.size) this.stopSweeper();
  }

  /** Agents whose deadline is watched. */
  get deadlinesWatched(): number {
    return this.deadlines.size;
  }

  private arm(key: string, lengthMs: number, expiresAt: number): void {
    // NB: the slot after the deadline, so the reconcile it causes finds the deadline passed.
    const slot = Math.ceil(expiresAt / SLOT_MS);
    const d = this.deadlines.get(key);
    if (d?.slot === slot && d.lengthMs === lengthMs) return;
    if (d) this.slots.get(d.slot)?.delete(key);
    this.deadlines.set(key, { lengthMs, slot });
    let set = this.slots.get(slot);
    if (!set) this.slots.set(slot, (set = new Set()));
    set.add(key);
    if (this.swept !== undefined && slot < this.swept) this.swept = slot;
    this.startSweeper();
  }

  private disarm(key: string): void {
    const d = this.deadlines.get(key);
    if (!d) return;
    this.slots.get(d.slot)?.delete(key);
    this.deadlines.delete(key);
  }

  private startSweeper(): void {
    if (this.sweeper) return;
    this.swept ??= Math.floor(this.clock() / SLOT_MS);
    this.sweeper = setInterval(() => this.sweep(this.clock()), SLOT_MS);
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  forget(tenantUID: string, agent: string): void {
    const key = `${tenantUID}/${agent}`;
    this.reports.delete(key);
    this.reportedConnected.delete(key);
    this.waiting.delete(key);
    this.granted.delete(key);
    this.refreshAt.delete(key);
    this.disarm(key);
  }

  /**
   * A liveness-only refresh of this agent's status is due: true when the budget granted it one (used up
   * by this call), else the agent queues (once) and is notified when its turn comes.
   */
  claimRefresh(tenantUID: string, agent: string): boolean {
    const key = `${tenantUID}/${agent}`;
    if (this.granted.delete(key)) return true;
    this.queueRefresh(key);
    return false;
  }

  private queueRefresh(key: string): void {
    if (this.waiting.has(key)) return;
    if (this.granted.has(key)) {
      // NB: a grant its reconcile had no use for (a transition wrote a fresh lastHeartbeat meanwhile) is
      // still its own: wake the agent to use it, or no reconcile ever would and status would stay stale.
      return this.wake(key);
    }
    this.waiting.add(key);
    this.startPump();
  }

  /** A transition (connected, missed, health) is being written: it goes first and takes a refresh slot. */
  chargeTransition(): void {
    // NB: bounded, so a long storm of transitions delays refreshes by at most a few seconds' worth.
    this.debt = Math.min(this.debt + 1, 5 * this.perSecond);
  }

  /** One slot of the budget: repays a transition, or grants the longest-waiting agent its refresh. */
  grantNext(): void {
    if (this.debt > 0) {
      this.debt--;
      return;
    }
    const key = this.waiting.values().next().value;
    if (key === undefined) return this.stopPump();
    this.waiting.delete(key);
    this.granted.add(key);
    this.wake(key);
  }

  /** Notifies the agent a `<tenant UID>/<agent>` key names. */
  private wake(key: string): void {
    const slash = key.indexOf('/');
    this.notify(key.slice(0, slash), key.slice(slash + 1));
  }

  /** Refreshes waiting for the budget. */
  get refreshesWaiting(): number {
    return this.waiting.size;
  }

  /** Stops the timers (the process is stopping). */
  close(): void {
    this.stopPump();
    this.stopSweeper();
  }

  private startPump(): void {
    if (this.pump) return;
    this.pump = setInterval(() => this.grantNext(), 1000 / this.perSecond);
    this.pump.unref();
  }

  private stopPump(): void {
    clearInterval(this.pump);
    this.pump = undefined;
  }

  get size(): number {
    return this.reports.size;
  }
}
