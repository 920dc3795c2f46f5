/**
 * The agent's side of ClusterChannel over gRPC: a Report every interval (health and statistics; any
 * report is a heartbeat) and the Commands stream, both on the current client certificate, both retried
 * with jittered exponential backoff while the network fails. A PERMISSION_DENIED or UNAUTHENTICATED
 * answer is final: the ClusterAgent was deleted or suspended, or the certificate refused; the channel
 * ends with a {@link CredentialsRefusedError} and sends nothing more.
 *
 * `switchTo` moves both onto renewed credentials: later reports use the new certificate, a report in
 * flight finishes on the old one, and the command stream is re-opened.
 */
import { CredentialsRefusedError } from './agent.ts';
import { Backoff } from './backoff.ts';
import { AgentClient, isRefusal, type CallError, type Command, type Health } from './grpc.ts';
import type { StoredCredentials } from './store.ts';

export type HealthName = 'Healthy' | 'Degraded' | 'Unhealthy';

const HEALTH: Record<HealthName, Health> = {
  Healthy: 'HEALTH_HEALTHY',
  Degraded: 'HEALTH_DEGRADED',
  Unhealthy: 'HEALTH_UNHEALTHY',
};

export interface ChannelOptions {
  /** Between reports; default: what Palisade asks for in its ReportResponse, else 10 s. */
  intervalMs?: number;
  /** Whether to send reports (false: the client is kept for Renew and commands only). */
  report?: boolean;
  health?: () => HealthName;
  statistics?: () => Record<string, string | number>;
  onCommand?: (c: Command) => void;
  log?: (line: string) => void;
  backoff?: { baseMs?: number; maxMs?: number; random?: () => number };
}

export function clientFor(c: StoredCredentials): AgentClient {
  return new AgentClient({
    address: c.server,
    caPem: c.caPem,
    ...(c.serverName ? { serverName: c.serverName } : {}),
    client: { certPem: c.certPem, keyPem: c.keyPem },
  });
}

// How long an old client stays open after a switch, for calls still in flight on it.
const OLD_CLIENT_GRACE_MS = 15_000;

export class GrpcChannel {
  /** Settles once the channel stops for good: undefined after stop(), else why. Never rejects. */
  readonly ended: Promise<Error | undefined>;
  /** Reports Palisade accepted (for statistics and tests). */
  reportsSent = 0;
  private client: AgentClient;
  private readonly o: ChannelOptions;
  private readonly log: (line: string) => void;
  private readonly started = Date.now();
  private serverIntervalMs: number | undefined;
  private done = false;
  private settle: (why: Error | undefined) => void = () => undefined;
  private wake: () => void = () => undefined;
  private cancelStream: () => void = () => undefined;
  private readonly lastLogged = new Map<string, string>();

  constructor(creds: StoredCredentials, o: ChannelOptions = {}) {
    this.o = o;
    this.log = o.log ?? (() => undefined);
    this.client = clientFor(creds);
    this.ended = new Promise((resolve) => (this.settle = resolve));
    if (o.report !== false) void this.reportLoop();
    this.openCommands(new Backoff(o.backoff));
  }

  /** The client of the current credentials (Renew is called on it). */
  get current(): AgentClient {
    return this.client;
  }

  /** Moves onto renewed credentials. */
  switchTo(creds: StoredCredentials): void {
    if (this.done) return;
    const old = this.client;
    this.client = clientFor(creds);
    setTimeout(() => old.close(), OLD_CLIENT_GRACE_MS).unref();
    this.cancelStream();
    this.openCommands(new Backoff(this.o.backoff));
  }

  /** Sends the next report now instead of at the end of the interval. */
  reportNow(): void {
    this.wake();
  }

  /** Ends the channel because its credentials were refused elsewhere (Renew, NATS). */
  refuse(why: CredentialsRefusedError): void {
    this.end(why);
  }

  stop(): void {
    this.end(undefined);
  }

  private end(why: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    this.cancelStream();
    this.wake();
    this.client.close();
    this.settle(why);
  }

  /** Logs a failure once per kind until it changes (a flapping network does not flood the log). */
  private logChange(kind: string, line: string): void {
    if (this.lastLogged.get(kind) === line) return;
    this.lastLogged.set(kind, line);
    this.log(line);
  }

  private refused(e: CallError, what: string): void {
    if (this.done) return;
    const why = new CredentialsRefusedError(e);
    this.log(`${why.message} (${what}); stopped reporting`);
    this.end(why);
  }

  private async reportLoop(): Promise<void> {
    const backoff = new Backoff(this.o.backoff);
    while (!this.done) {
      let waitMs: number;
      try {
        const res = await this.client.report({
          health: HEALTH[this.o.health?.() ?? 'Healthy'],
          statistics: this.statistics(),
        });
        this.reportsSent++;
        if (res.reportIntervalSeconds > 0) this.serverIntervalMs = res.reportIntervalSeconds * 1000;
        backoff.reset();
        if (this.lastLogged.get('report')) this.log('reporting over gRPC again');
        this.lastLogged.delete('report');
        waitMs = this.o.intervalMs ?? this.serverIntervalMs ?? 10_000;
      } catch (e) {
        if (isRefusal(e)) return this.refused(e as CallError, 'Report');
        waitMs = backoff.next();
        this.logChange('report', `report over gRPC failed: ${(e as Error).message}; retrying`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  private statistics(): Record<string, string> {
    const stats = {
      uptimeSeconds: Math.floor((Date.now() - this.started) / 1000),
      reports: this.reportsSent + 1,
      ...this.o.statistics?.(),
    };
    return Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, String(v)]));
  }

  private openCommands(backoff: Backoff): void {
    if (this.done) return;
    const opened = Date.now();
    this.cancelStream = this.client.commands(
      (c) => {
        backoff.reset();
        this.o.onCommand?.(c);
      },
      (e) => {
        if (this.done) return;
        if (e && isRefusal(e)) return this.refused(e, 'Commands');
        // A stream that lived a while was healthy: start the backoff over.
        if (Date.now() - opened > 60_000) backoff.reset();
        const delay = backoff.next();
        this.logChange('commands', `command stream ended${e ? `: ${e.message}` : ''}; re-opening`);
        const timer = setTimeout(() => this.openCommands(backoff), delay);
        this.cancelStream = () => clearTimeout(timer);
      },
    );
  }
}
