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
    if (!this.reportedConnected.has(key) || prev?.health !== next.health)
      this.notify(who.tenantUID, who.agent);
  }

  get(tenantUID: string, agent: string): AgentReport | undefined {
    return this.reports.get(`${tenantUID}/${agent}`);
  }

  /** The reconcile says what status now shows, so the next heartbeat does not enqueue needlessly. */
  markReported(tenantUID: string, agent: string, connected: boolean): void {
    const key = `${tenantUID}/${agent}`;
    if (connected) this.reportedConnected.add(key);
    else this.reportedConnected.delete(key);
  }

  forget(tenantUID: string, agent: string): void {
    const key = `${tenantUID}/${agent}`;
    this.reports.delete(key);
    this.reportedConnected.delete(key);
    this.waiting.delete(key);
    this.granted.delete(key);
  }

  /**
   * A liveness-only refresh of this agent's status is due: true when the budget granted it one (used up
   * by this call), else the agent queues (once) and is notified when its turn comes.
   */
  claimRefresh(tenantUID: string, agent: string): boolean {
    const key = `${tenantUID}/${agent}`;
    if (this.granted.delete(key)) return true;
    if (!this.waiting.has(key)) {
      this.waiting.add(key);
      this.startPump();
    }
    return false;
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
    const slash = key.indexOf('/');
    this.notify(key.slice(0, slash), key.slice(slash + 1));
  }

  /** Refreshes waiting for the budget. */
  get refreshesWaiting(): number {
    return this.waiting.size;
  }

  /** Stops the budget's timer (the process is stopping). */
  close(): void {
    this.stopPump();
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
