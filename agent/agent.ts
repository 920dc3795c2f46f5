/**
 * Palisade's reference agent: what an agent in a tenant cluster does on the message bus, in under 200 lines.
 *
 * It reads the files of its credentials Secret (`agent.creds`, `ca.crt`, `tenant-uid`, `agent-name`,
 * optionally `nats-url`), connects over TLS ≥ 1.2 with the `.creds` (user JWT + nkey seed), and every
 * interval publishes a heartbeat, its health and its statistics on its own subjects. It subscribes to its
 * command subject. The server lets it do nothing else: see docs/messaging.md.
 *
 * Losing the network is retried forever. Losing the credentials is not: when the server refuses them
 * (the account revoked the user after a credential rotation, a suspension or a deletion; the JWT expired;
 * the user is unknown) they will never work again, so the agent logs
 * `credentials revoked or refused: <server's reason>`, stops publishing, closes its connection and ends
 * with a {@link CredentialsRefusedError}. It does not retry with the same credentials: that only adds
 * authorization violations to the server's log. Getting new credentials is the job of whatever runs
 * the agent; `main.ts` exits with status 3 so that Kubernetes restarts the pod under its crash-loop
 * back-off (10 s doubling to 5 min) and the new process reads the Secret's current credentials — a
 * rotated agent is back within a restart, a suspended or deleted one stays down without hammering the
 * server. Permission violations (a subject the account does not allow) are logged once each and are not
 * fatal: the connection and the other subjects keep working.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { agentCommandSubjects, agentReportSubject } from '../controllers/nats/protocol/subjects.ts';
import { CLIENT_TLS } from '../controllers/nats/protocol/serverconfig.ts';

export interface AgentOptions {
  /** A directory holding the credentials Secret's keys as files (how a Secret volume mounts). */
  secretDir: string;
  /** Overrides the Secret's `nats-url`. */
  server?: string;
  intervalMs?: number;
  health?: () => 'Healthy' | 'Degraded' | 'Unhealthy';
  statistics?: () => Record<string, string | number>;
  onCommand?: (verb: string, data: Uint8Array) => void;
  log?: (line: string) => void;
}

/** What the agent uses of a NATS connection. */
export type AgentConnection = Pick<
  NatsConnection,
  'publish' | 'subscribe' | 'status' | 'closed' | 'close' | 'drain' | 'isClosed'
>;

export interface RunningAgent<C extends AgentConnection = NatsConnection> {
  readonly tenantUID: string;
  readonly name: string;
  readonly connection: C;
  /**
   * Settles once the agent has stopped publishing for good, and never rejects: `undefined` after
   * `stop()`, a {@link CredentialsRefusedError} when the server refused the credentials, otherwise the
   * error the connection closed with.
   */
  readonly ended: Promise<Error | undefined>;
  stop(): Promise<void>;
}

/** The server refused this agent's credentials; they will not work again. */
export class CredentialsRefusedError extends Error {
  override name = 'CredentialsRefusedError';

  constructor(cause: Error) {
    super(`credentials revoked or refused: ${cause.message}`, { cause });
  }
}

// NB: matched on the server's text, not on nats.js classes: nats.js 3.4 reports
// "User Authentication Revoked" as a plain ProtocolError.
const REFUSAL =
  /authorization violation|user authentication (revoked|expired)|account authentication expired/i;

/** True for a server error that means "these credentials will not work again". */
export function isCredentialsRefusal(e: unknown): boolean {
  return e instanceof Error && REFUSAL.test(e.message);
}

async function file(dir: string, name: string): Promise<string | undefined> {
  return readFile(path.join(dir, name), 'utf8').then(
    (s) => s.trim(),
    () => undefined,
  );
}

/** Connects with the credentials in `o.secretDir` and runs; throws CredentialsRefusedError if refused. */
export async function startAgent(o: AgentOptions): Promise<RunningAgent> {
  const [creds, ca, tenantUID, name, url] = await Promise.all(
    ['agent.creds', 'ca.crt', 'tenant-uid', 'agent-name', 'nats-url'].map((f) => file(o.secretDir, f)),
  );
  const server = o.server ?? url;
  if (!creds || !ca || !tenantUID || !name || !server) {
    throw new Error(
      `${o.secretDir} must hold agent.creds, ca.crt, tenant-uid, agent-name (and nats-url or --server)`,
    );
  }
  // NB: the CA file is read again at every dial: a mounted Secret's bundle follows an internal CA rotation.
  return connectAgent({ creds, ca, caFile: path.join(o.secretDir, 'ca.crt'), tenantUID, name, server }, o);
}

/** What {@link connectAgent} needs: the `.creds` text, the CA to trust, who the agent is, where NATS is. */
export interface NatsCredentials {
  creds: string;
  ca: string;
  /** Where `ca` was read from: read again at each (re)connection instead of `ca`. */
  caFile?: string;
  tenantUID: string;
  name: string;
  server: string;
}

/** Connects with `c` and runs; throws CredentialsRefusedError if refused. */
export async function connectAgent(
  c: NatsCredentials,
  o: Omit<AgentOptions, 'secretDir' | 'server'> = {},
): Promise<RunningAgent> {
  const { creds, ca, caFile, tenantUID, name, server } = c;
  const log = o.log ?? (() => undefined);
  const nc = await connect({
    servers: server,
    name: `palisade-agent-${name}`,
    // Node's tls.connect options: CA pinning, TLS 1.2 minimum, AEAD ciphers only.
    tls: { ...(caFile ? { caFile } : { ca }), ...CLIENT_TLS } as { ca?: string; caFile?: string },
    authenticator: credsAuthenticator(new TextEncoder().encode(`${creds.trim()}\n`)),
    // Keep trying, also at start: the account may reach the server just after the credentials.
    // (nats.js still gives up after the same authorization error twice in a row.)
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    // Spread a fleet's reconnects after a server restart.
    reconnectJitter: 1000,
  }).catch((e: unknown) => {
    if (!(e instanceof Error && isCredentialsRefusal(e))) throw e;
    const refused = new CredentialsRefusedError(e);
    log(refused.message);
    throw refused;
  });
  log(`connected to ${server} as ${name} of tenant ${tenantUID}`);
  return runAgent(nc, { tenantUID, name }, o);
}

/** Publishes reports on `nc` every interval until stopped or until the connection ends for good. */
export function runAgent<C extends AgentConnection>(
  nc: C,
  who: { tenantUID: string; name: string },
  o: Omit<AgentOptions, 'secretDir' | 'server'> = {},
): RunningAgent<C> {
  const { tenantUID, name } = who;
  const log = o.log ?? (() => undefined);
  const logged = new Set<string>();
  const logOnce = (line: string) => {
    if (!logged.has(line)) log(line);
    logged.add(line);
  };
  let done = false;
  const started = Date.now();
  let sent = 0;
  const beat = () => {
    if (done || nc.isClosed()) return;
    sent++;
    const stats = {
      uptimeSeconds: Math.floor((Date.now() - started) / 1000),
      heartbeats: sent,
      ...o.statistics?.(),
    };
    try {
      nc.publish(agentReportSubject(tenantUID, name, 'heartbeat'), JSON.stringify({ seq: sent }));
      const health = JSON.stringify({ status: o.health?.() ?? 'Healthy' });
      nc.publish(agentReportSubject(tenantUID, name, 'health'), health);
      nc.publish(agentReportSubject(tenantUID, name, 'stats'), JSON.stringify(stats));
    } catch (e) {
      // publish throws only on a closed or draining connection; closed() says why and ends the agent.
      logOnce(`publish failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const timer = setInterval(beat, o.intervalMs ?? 10_000);

  let settle: (why: Error | undefined) => void = () => undefined;
  const ended = new Promise<Error | undefined>((resolve) => (settle = resolve));
  const end = (why: Error | undefined) => {
    if (done) return;
    done = true;
    clearInterval(timer);
    settle(why);
  };
  const refused = (e: Error) => {
    if (done) return;
    const why = new CredentialsRefusedError(e);
    log(`${why.message}; stopped publishing`);
    end(why);
    nc.close().catch(() => undefined);
  };
  void (async () => {
    for await (const s of nc.status()) {
      // Dial failures while reconnecting are not reported one by one, so the pair of lines is what
      // shows an agent that lost the server and has not got it back (say, a server certificate of a CA
      // its ca.crt does not hold yet).
      if (s.type === 'disconnect') log(`disconnected from ${s.server}; reconnecting`);
      else if (s.type === 'reconnect') log(`reconnected to ${s.server}`);
      if (s.type !== 'error') continue;
      if (isCredentialsRefusal(s.error)) refused(s.error);
      else logOnce(`server error: ${s.error.message}`);
    }
  })().catch(() => undefined);
  void nc.closed().then((e) => {
    const error = e instanceof Error ? e : undefined;
    if (error && isCredentialsRefusal(error)) return refused(error);
    if (!done) log(`connection closed${error ? `: ${error.message}` : ''}; stopped publishing`);
    end(error ?? new Error('connection closed'));
  });

  nc.subscribe(agentCommandSubjects(tenantUID, name), {
    callback: (err, msg) => {
      if (err) logOnce(`command subscription: ${err.message}`);
      else o.onCommand?.(msg.subject.split('.').pop() ?? '', msg.data);
    },
  });
  beat();
  return {
    tenantUID,
    name,
    connection: nc,
    ended,
    async stop() {
      end(undefined);
      await nc.drain().catch(() => nc.close().catch(() => undefined));
    },
  };
}
