/**
 * Palisade's reference agent: what an agent in a tenant cluster does on the message bus, in ~100 lines.
 *
 * It reads the files of its credentials Secret (`agent.creds`, `ca.crt`, `tenant-uid`, `agent-name`,
 * optionally `nats-url`), connects over TLS ≥ 1.2 with the `.creds` (user JWT + nkey seed), and every
 * interval publishes a heartbeat, its health and its statistics on its own subjects. It subscribes to its
 * command subject. The server lets it do nothing else: see docs/messaging.md.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { agentCommandSubjects, agentReportSubject } from '../controllers/messaging/subjects.ts';
import { CLIENT_TLS } from '../controllers/messaging/serverconfig.ts';

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

export interface RunningAgent {
  readonly tenantUID: string;
  readonly name: string;
  readonly connection: NatsConnection;
  stop(): Promise<void>;
}

async function file(dir: string, name: string): Promise<string | undefined> {
  return readFile(path.join(dir, name), 'utf8').then(
    (s) => s.trim(),
    () => undefined,
  );
}

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
  const log = o.log ?? (() => undefined);
  const nc = await connect({
    servers: server,
    name: `palisade-agent-${name}`,
    // Node's tls.connect options: CA pinning, TLS 1.2 minimum, AEAD ciphers only.
    tls: { ca, ...CLIENT_TLS } as { ca: string },
    authenticator: credsAuthenticator(new TextEncoder().encode(`${creds}\n`)),
    // Keep trying, also at start: the account may reach the server just after the credentials.
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
  });
  log(`connected to ${server} as ${name} of tenant ${tenantUID}`);
  nc.subscribe(agentCommandSubjects(tenantUID, name), {
    callback: (err, msg) => {
      if (!err) o.onCommand?.(msg.subject.split('.').pop() ?? '', msg.data);
    },
  });
  const started = Date.now();
  let sent = 0;
  const beat = () => {
    sent++;
    nc.publish(agentReportSubject(tenantUID, name, 'heartbeat'), JSON.stringify({ seq: sent }));
    nc.publish(
      agentReportSubject(tenantUID, name, 'health'),
      JSON.stringify({ status: o.health?.() ?? 'Healthy' }),
    );
    const stats = {
      uptimeSeconds: Math.floor((Date.now() - started) / 1000),
      heartbeats: sent,
      ...o.statistics?.(),
    };
    nc.publish(agentReportSubject(tenantUID, name, 'stats'), JSON.stringify(stats));
  };
  beat();
  const timer = setInterval(beat, o.intervalMs ?? 10_000);
  return {
    tenantUID,
    name,
    connection: nc,
    async stop() {
      clearInterval(timer);
      await nc.drain().catch(() => nc.close());
    },
  };
}
