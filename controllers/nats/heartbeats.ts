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

/**
 * Agent reports, in memory only: a heartbeat is never an API write by itself. The store calls `notify`
 * only when the status may have to change: an agent not (yet) reported connected, or a health change.
 */
export class HeartbeatStore {
  private readonly reports = new Map<string, AgentReport>();
  private readonly reportedConnected = new Set<string>();
  private notify: (tenantUID: string, agent: string) => void = () => undefined;

  onChange(fn: (tenantUID: string, agent: string) => void): void {
    this.notify = fn;
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
    this.reports.delete(`${tenantUID}/${agent}`);
    this.reportedConnected.delete(`${tenantUID}/${agent}`);
  }

  get size(): number {
    return this.reports.size;
  }
}
