/**
 * The one owner of Palisade's NATS connections: a system-account connection for the resolver
 * (`$SYS.REQ.CLAIMS.UPDATE`, `.DELETE`, `ACCOUNT.<id>.CLAIMS.LOOKUP`) and a connection in Palisade's
 * own account that receives every agent report. Both use TLS ≥ 1.2 with the hardened cipher list and
 * reconnect forever; a reconnect (nats-server restarted, perhaps with an empty JWT store) is reported
 * through `onReconnect`, so the caller can re-push what the server may have lost.
 */
import {
  connect,
  jwtAuthenticator,
  type Msg,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import {
  parseReportSubject,
  ALL_REPORTS_SUBJECT,
  agentCommandSubject,
  type ReportOrigin,
} from './subjects.ts';
import { CLIENT_TLS } from './serverconfig.ts';

export interface UserCredentials {
  jwt: string;
  seed: string;
}

/**
 * The CA bundle (PEM) to trust: fixed, or read again at every connection attempt — an internal CA
 * rotation moves nats-server to a CA this process did not know when it connected first.
 */
export type Trust = string | (() => string);

export interface BusOptions {
  servers: string[];
  trust: Trust;
  system: UserCredentials;
  palisade: UserCredentials;
  requestTimeoutMs?: number;
  onReport(origin: ReportOrigin, data: Uint8Array): void;
  onReconnect(): void;
  /** The connection was lost; the client reconnects by itself (dial failures meanwhile are silent). */
  onDisconnect?(connection: string): void;
  onError?(what: string, err: unknown): void;
}

/** The resolver refused a request; `message` is the server's description (never JWT content). */
export class ClaimsError extends Error {
  override name = 'ClaimsError';
}

interface ClaimsReply {
  data?: { code?: number; message?: string };
  error?: { code?: number; description?: string };
}

export function connectionOptions(
  servers: string[],
  trust: Trust,
  user: UserCredentials,
  name: string,
): NodeConnectionOptions {
  // NB: the TLS object is spread into tls.connect by the Node transport, so minVersion and ciphers apply.
  // The transport keeps this object and reads `ca` from it at every dial (reconnects included), so a
  // getter makes each reconnect trust the bundle of that moment.
  const tls = { ...CLIENT_TLS } as NonNullable<NodeConnectionOptions['tls']>;
  if (typeof trust === 'string') tls.ca = trust;
  else Object.defineProperty(tls, 'ca', { get: trust, enumerable: true });
  return {
    servers,
    name,
    tls,
    authenticator: jwtAuthenticator(user.jwt, new TextEncoder().encode(user.seed)),
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    pingInterval: 20_000,
  };
}

export class MessagingBus {
  private readonly o: BusOptions;
  private sys: NatsConnection | undefined;
  private app: NatsConnection | undefined;
  private closed = false;

  constructor(opts: BusOptions) {
    this.o = opts;
  }

  async start(): Promise<void> {
    const { servers, trust } = this.o;
    this.sys = await connect(connectionOptions(servers, trust, this.o.system, 'palisade-resolver'));
    this.app = await connect(connectionOptions(servers, trust, this.o.palisade, 'palisade-reports'));
    this.app.subscribe(ALL_REPORTS_SUBJECT, { callback: (err, msg) => this.report(err, msg) });
    void this.watch(this.sys, 'palisade-resolver');
    void this.watch(this.app, 'palisade-reports');
  }

  isConnected(): boolean {
    return !!this.sys && !this.sys.isClosed() && !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([this.sys?.close(), this.app?.close()]);
  }

  /** Pushes an account JWT; resolves once the resolver replied that it stored it. */
  async pushAccount(accountJwt: string): Promise<void> {
    await this.claimsRequest('$SYS.REQ.CLAIMS.UPDATE', accountJwt);
  }

  /** Deletes accounts from the resolver (needs `allow_delete`); `request` is an operator-signed JWT. */
  async deleteAccounts(request: string): Promise<void> {
    await this.claimsRequest('$SYS.REQ.CLAIMS.DELETE', request);
  }

  /** The account JWT the resolver holds, or undefined when it holds none. */
  async lookupAccount(account: string): Promise<string | undefined> {
    const reply = await this.conn(this.sys).request(`$SYS.REQ.ACCOUNT.${account}.CLAIMS.LOOKUP`, '', {
      timeout: this.o.requestTimeoutMs ?? 5000,
    });
    const text = reply.string();
    return text === '' ? undefined : text;
  }

  /** Publishes a command to one agent, in Palisade's account (the tenant imports only its own UID). */
  publishCommand(tenantUID: string, agent: string, verb: string, data: Uint8Array | string): void {
    this.conn(this.app).publish(agentCommandSubject(tenantUID, agent, verb), data);
  }

  private async claimsRequest(subject: string, body: string): Promise<void> {
    const reply = await this.conn(this.sys).request(subject, body, {
      timeout: this.o.requestTimeoutMs ?? 5000,
    });
    let parsed: ClaimsReply;
    try {
      parsed = reply.json<ClaimsReply>();
    } catch {
      throw new ClaimsError('the resolver sent an unreadable reply');
    }
    if (parsed.error || parsed.data?.code !== 200) {
      throw new ClaimsError(
        parsed.error?.description ?? parsed.data?.message ?? 'the resolver refused the request',
      );
    }
  }

  private conn(c: NatsConnection | undefined): NatsConnection {
    if (!c || this.closed) throw new Error('not connected to NATS');
    return c;
  }

  private report(err: Error | null, msg: Msg): void {
    if (err) return this.o.onError?.('report subscription', err);
    const origin = parseReportSubject(msg.subject);
    if (origin) this.o.onReport(origin, msg.data);
  }

  private async watch(nc: NatsConnection, name: string): Promise<void> {
    const resolver = nc === this.sys;
    for await (const s of nc.status()) {
      // NB: the accounts are re-pushed once per reconnect, on the resolver's connection.
      if (s.type === 'reconnect' && resolver) this.o.onReconnect();
      else if (s.type === 'disconnect') this.o.onDisconnect?.(name);
      else if (s.type === 'error') this.o.onError?.(name, s.error);
    }
  }
}
