/**
 * ReplicaRelay: every replica serves the cluster channel, but only the leader runs the ClusterAgent
 * controller that turns reports into status. A replica that does not lead (a standby, a key-API replica)
 * relays the reports its agents send to the leader, in batches, and receives the leader's commands for
 * the agents whose Commands streams it holds (proto/palisade/replicas/v1/relay.proto).
 *
 * The leader says where it is reached in its Lease (annotation {@link ADVERTISE_ANNOTATION}, with the
 * holder's identity, so an address an older leader left is not dialled). Both ends present the key
 * service's own certificate (Secret palisade-keyservice-tls), which only Palisade's replicas hold, and
 * each accepts only that certificate from the other: a certificate of the same CA with the same names is
 * not enough, since the internal CA also issues certificates for CertificateBindings.
 *
 * A relayed report that cannot be delivered (no leader, a leader change) is dropped and counted: agents
 * report at a third of their deadline, so the next one arrives before the deadline passes.
 */
import { X509Certificate } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { PeerCertificate } from 'node:tls';
import {
  credentials,
  loadPackageDefinition,
  status,
  type ChannelCredentials,
  type ClientReadableStream,
  type GrpcObject,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceClientConstructor,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { Counter, type Registry } from 'prom-client';
import type { ReportContent, ReportedHealth, ReportSender } from '../nats/heartbeats.ts';
import { describeError } from '../runtime/errors.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { KubeObject } from '../runtime/kube/types.ts';
import type { AuditLog, Logger } from '../runtime/log.ts';
import type { ServerTls } from '../keyservice/server.ts';
import { cleanStatistics } from './channel.ts';
import { LOADER_OPTIONS } from './proto.ts';

export const RELAY_PROTO_FILE = fileURLToPath(
  new URL('../../proto/palisade/replicas/v1/relay.proto', import.meta.url),
);

/** On the leader's Lease: `{"holder": <identity>, "address": "host:port"}`. */
export const ADVERTISE_ANNOTATION = 'palisade.dev/advertise-address';

/** The name the key service's certificate carries, asked for on a connection to a replica's IP. */
const SERVER_NAME = 'palisade-keyservice';
const MAX_BATCH = 1_000;
const MAX_PENDING = 100_000;
/** How long a leader's address read from its Lease is used before it is read again. */
const LEADER_TTL_MS = 10_000;
const FOLLOW_RETRY_MS = 2_000;
const CALL_DEADLINE_MS = 5_000;

const HEALTH_TO_WIRE: Record<ReportedHealth, RelayedHealth> = {
  Healthy: 'RELAYED_HEALTH_HEALTHY',
  Degraded: 'RELAYED_HEALTH_DEGRADED',
  Unhealthy: 'RELAYED_HEALTH_UNHEALTHY',
};
const HEALTH_FROM_WIRE: Record<string, ReportedHealth | undefined> = {
  RELAYED_HEALTH_HEALTHY: 'Healthy',
  RELAYED_HEALTH_DEGRADED: 'Degraded',
  RELAYED_HEALTH_UNHEALTHY: 'Unhealthy',
};

export type RelayedHealth =
  | 'RELAYED_HEALTH_UNSPECIFIED'
  | 'RELAYED_HEALTH_HEALTHY'
  | 'RELAYED_HEALTH_DEGRADED'
  | 'RELAYED_HEALTH_UNHEALTHY';

export interface RelayedReport {
  tenantUid: string;
  agent: string;
  health: RelayedHealth;
  statistics: Record<string, string>;
}
export interface RelayedReports {
  reports: RelayedReport[];
}
export interface RelayedReportsResponse {
  accepted: number;
}
export type RelayCommandsRequest = Record<string, never>;
export interface RelayedCommand {
  tenantUid: string;
  agent: string;
  verb: string;
}
/** Every RPC of the service: its request and response types. */
export interface ReplicaRelayMethods {
  Report: [RelayedReports, RelayedReportsResponse];
  Commands: [RelayCommandsRequest, RelayedCommand];
}

let ctor: ServiceClientConstructor | undefined;
function relayConstructor(): ServiceClientConstructor {
  if (!ctor) {
    const pkg = loadPackageDefinition(loadSync(RELAY_PROTO_FILE, LOADER_OPTIONS));
    const v1 = ((pkg.palisade as GrpcObject).replicas as GrpcObject).v1 as GrpcObject;
    ctor = v1.ReplicaRelay as ServiceClientConstructor;
  }
  return ctor;
}

/** The ReplicaRelay service definition for `server.addService`. */
export function replicaRelayService(): ServiceDefinition {
  return relayConstructor().service;
}

export type RelayClient = InstanceType<ServiceClientConstructor> & {
  Report(
    req: RelayedReports,
    opts: { deadline: number },
    cb: (err: Error | null, res?: RelayedReportsResponse) => void,
  ): void;
  Commands(req: RelayCommandsRequest): ClientReadableStream<RelayedCommand>;
};

/** A ReplicaRelay client for `address`, asking for the key service's name (replicas are dialled by IP). */
export function replicaRelayClient(address: string, creds: ChannelCredentials): RelayClient {
  const Ctor = relayConstructor();
  return new Ctor(address, creds, {
    'grpc.ssl_target_name_override': SERVER_NAME,
    'grpc.default_authority': SERVER_NAME,
  }) as RelayClient;
}

interface Lease extends KubeObject {
  spec?: { holderIdentity?: string };
}

/** The annotation value a leader writes on its Lease. */
export function advertisement(holder: string, address: string): string {
  return JSON.stringify({ holder, address });
}

/** The address the Lease's current holder advertised, if it did. */
export function advertisedAddress(lease: Lease | undefined): string | undefined {
  const holder = lease?.spec?.holderIdentity;
  const raw = lease?.metadata.annotations?.[ADVERTISE_ANNOTATION];
  if (!holder || !raw) return undefined;
  try {
    const v = JSON.parse(raw) as { holder?: unknown; address?: unknown };
    return v.holder === holder && typeof v.address === 'string' && v.address ? v.address : undefined;
  } catch {
    return undefined;
  }
}

/** The key service's certificate, key and CA bundle, as this replica serves them now. */
export type ReplicaTls = ServerTls;

export interface ReplicaRelayOptions {
  client: KubeApi;
  namespace: string;
  /** The Lease whose holder takes the reports (the default shard's). */
  leaseName: string;
  /** Whether this replica leads now: its reports go to its own store. */
  leading(): boolean;
  /** The leader's report store. */
  store: { report(who: ReportSender, content: ReportContent, now: number): void };
  tls(): ReplicaTls | undefined;
  /** Delivers a command from the leader to this replica's Commands streams of the agent. */
  deliver(tenantUID: string, agent: string, verb: string): void;
  now(): number;
  log: Logger;
  /** Refused calls are audited (someone not a replica probing the relay). */
  audit?: AuditLog;
  registry?: Registry;
  /** How long reports gather before a batch goes (default 100 ms). */
  flushMs?: number;
}

const AGENT_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const TENANT_UID = /^[A-Za-z0-9._-]{1,128}$/;

export class ReplicaRelay {
  private readonly o: ReplicaRelayOptions;
  private readonly pending = new Map<string, { who: ReportSender; content: ReportContent }>();
  private readonly followers = new Set<ServerWritableStream<RelayCommandsRequest, RelayedCommand>>();
  /** The DER of every key service certificate this replica has held (current and earlier, a few). */
  private readonly ownCertificates: string[] = [];
  private parsedPem: string | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private followTimer: NodeJS.Timeout | undefined;
  private leader: { address: string; readAt: number } | undefined;
  private dial: { address: string; cert: string; client: RelayClient } | undefined;
  private following: ClientReadableStream<RelayedCommand> | undefined;
  private lastFailureLog = 0;
  private stopped = false;
  private readonly relayed: Counter<'outcome'>;

  constructor(o: ReplicaRelayOptions) {
    this.o = o;
    this.relayed = new Counter({
      name: 'palisade_clusterchannel_relayed_reports_total',
      help: 'Agent reports this replica (not leading) relayed to the leader, by outcome: sent, failed (the call failed), no_leader (no leader advertised), overflow (too many waiting).',
      labelNames: ['outcome'] as const,
      registers: o.registry ? [o.registry] : [],
    });
  }

  /** A report an agent sent to this replica: into the store when leading, else to the leader. */
  report(who: ReportSender, content: ReportContent, now: number): void {
    if (this.o.leading()) return this.o.store.report(who, content, now);
    const key = `${who.tenantUID}/${who.agent}`;
    const prev = this.pending.get(key);
    if (!prev && this.pending.size >= MAX_PENDING) {
      this.relayed.inc({ outcome: 'overflow' });
      return;
    }
    // NB: reports merge as the store merges them: absent health or statistics keep the earlier ones.
    this.pending.set(key, { who, content: { ...prev?.content, ...content } });
    this.flushTimer ??= setTimeout(
      () => void this.flush().catch((e: unknown) => this.failed(e)),
      this.o.flushMs ?? 100,
    );
    this.flushTimer.unref();
  }

  /** Sends `verb` to the agent's streams held by other replicas (the leader calls this). */
  broadcast(tenantUID: string, agent: string, verb: string): void {
    for (const f of this.followers) f.write({ tenantUid: tenantUID, agent, verb });
  }

  /** Replicas that receive the leader's commands now (tests, metrics). */
  get followerCount(): number {
    return this.followers.size;
  }

  /** Keeps a Commands stream open to the leader while this replica does not lead. */
  start(): void {
    if (this.stopped || this.followTimer) return;
    const follow = () => void this.follow().catch((e: unknown) => this.failed(e));
    this.followTimer = setInterval(follow, FOLLOW_RETRY_MS);
    this.followTimer.unref();
    follow();
  }

  close(): void {
    this.stopped = true;
    clearInterval(this.followTimer);
    clearTimeout(this.flushTimer);
    this.following?.cancel();
    this.dial?.client.close();
    for (const f of this.followers) f.end();
    this.followers.clear();
  }

  /** The leader's side. */
  handlers(): UntypedServiceImplementation {
    return {
      Report: (
        call: ServerUnaryCall<RelayedReports, RelayedReportsResponse>,
        cb: sendUnaryData<RelayedReportsResponse>,
      ) => {
        const refusal = this.refusal(call.getAuthContext().sslPeerCertificate, call.getPeer(), 'Report');
        if (refusal) return cb(refusal);
        if (!this.o.leading())
          return cb({ code: status.FAILED_PRECONDITION, details: 'this replica does not lead' });
        const now = this.o.now();
        let accepted = 0;
        for (const r of (call.request.reports ?? []).slice(0, MAX_BATCH)) {
          if (!TENANT_UID.test(r.tenantUid) || !AGENT_NAME.test(r.agent)) continue;
          const health = HEALTH_FROM_WIRE[r.health];
          const statistics = cleanStatistics(r.statistics);
          this.o.store.report(
            { tenantUID: r.tenantUid, agent: r.agent },
            { ...(health ? { health } : {}), ...(statistics ? { statistics } : {}) },
            now,
          );
          accepted++;
        }
        cb(null, { accepted });
      },
      Commands: (call: ServerWritableStream<RelayCommandsRequest, RelayedCommand>) => {
        const refusal = this.refusal(call.getAuthContext().sslPeerCertificate, call.getPeer(), 'Commands');
        if (refusal) {
          call.emit('error', refusal);
          return;
        }
        this.followers.add(call);
        const drop = () => this.followers.delete(call);
        call.on('cancelled', drop);
        call.on('close', drop);
        call.on('finish', drop);
      },
    };
  }

  private refusal(
    cert: PeerCertificate | undefined,
    peer: string,
    method: string,
  ): { code: status; details: string } | undefined {
    const refused = !cert?.raw
      ? { code: status.UNAUTHENTICATED, details: "the replica relay needs the key service's certificate" }
      : !this.isReplicaCertificate(cert.raw)
        ? { code: status.PERMISSION_DENIED, details: "only Palisade's replicas may use the replica relay" }
        : undefined;
    if (refused)
      this.o.audit?.record({
        action: `replica-relay.${method}`,
        outcome: 'Failure',
        actor: `source ${peer}${cert?.fingerprint256 ? `, certificate ${cert.fingerprint256.slice(0, 23)}…` : ''}`,
        resource: { kind: 'Lease', name: this.o.leaseName, namespace: this.o.namespace },
        reason: refused.details,
      });
    return refused;
  }

  private isReplicaCertificate(raw: Buffer): boolean {
    this.currentTls();
    return this.ownCertificates.includes(raw.toString('base64'));
  }

  /** The key service's TLS now, remembering its certificate (a peer may still hold the one before). */
  private currentTls(): ReplicaTls | undefined {
    const tls = this.o.tls();
    if (!tls) return undefined;
    // NB: parsed once per certificate, not per call.
    if (tls.cert === this.parsedPem) return tls;
    let der: string;
    try {
      der = new X509Certificate(tls.cert).raw.toString('base64');
    } catch {
      return undefined;
    }
    this.parsedPem = tls.cert;
    if (!this.ownCertificates.includes(der)) {
      this.ownCertificates.push(der);
      if (this.ownCertificates.length > 3) this.ownCertificates.shift();
    }
    return tls;
  }

  private async flush(): Promise<void> {
    this.flushTimer = undefined;
    const batch = [...this.pending.values()];
    this.pending.clear();
    if (!batch.length) return;
    if (this.o.leading()) {
      // NB: it became leader while they waited.
      const now = this.o.now();
      for (const { who, content } of batch) this.o.store.report(who, content, now);
      return;
    }
    const client = await this.leaderClient();
    if (!client) {
      this.relayed.inc({ outcome: 'no_leader' }, batch.length);
      return;
    }
    for (let i = 0; i < batch.length; i += MAX_BATCH) {
      const part = batch.slice(i, i + MAX_BATCH);
      const reports = part.map(({ who, content }) => ({
        tenantUid: who.tenantUID,
        agent: who.agent,
        health: content.health ? HEALTH_TO_WIRE[content.health] : 'RELAYED_HEALTH_UNSPECIFIED',
        statistics: content.statistics ?? {},
      }));
      const err = await new Promise<Error | null>((resolve) =>
        client.Report({ reports }, { deadline: Date.now() + CALL_DEADLINE_MS }, (e) => resolve(e)),
      );
      this.relayed.inc({ outcome: err ? 'failed' : 'sent' }, part.length);
      if (err) {
        this.leader = undefined;
        this.logFailure('relaying agent reports to the leader failed; they are dropped', err);
      }
    }
  }

  private async follow(): Promise<void> {
    if (this.stopped || this.following) return;
    if (this.o.leading()) return;
    const client = await this.leaderClient();
    if (!client || this.stopped || this.following || this.o.leading()) return;
    const stream = client.Commands({});
    this.following = stream;
    stream.on('data', (c: RelayedCommand) => this.o.deliver(c.tenantUid, c.agent, c.verb));
    const ended = (e?: Error) => {
      if (this.following !== stream) return;
      this.following = undefined;
      this.leader = undefined;
      if (e && !this.stopped && (e as { code?: number }).code !== status.CANCELLED)
        this.logFailure("the leader's command stream ended; following again", e);
    };
    stream.on('error', ended);
    stream.on('end', () => ended());
  }

  private async leaderClient(): Promise<RelayClient | undefined> {
    const address = await this.leaderAddress();
    const tls = this.currentTls();
    if (!address || !tls) return undefined;
    if (this.dial?.address === address && this.dial.cert === tls.cert) return this.dial.client;
    this.dial?.client.close();
    const creds = credentials.createSsl(Buffer.from(tls.ca), Buffer.from(tls.key), Buffer.from(tls.cert), {
      checkServerIdentity: (_host, peer) =>
        this.isReplicaCertificate(peer.raw)
          ? undefined
          : new Error('the leader did not present the key service certificate'),
    });
    const client = replicaRelayClient(address, creds);
    this.dial = { address, cert: tls.cert, client };
    return client;
  }

  private async leaderAddress(): Promise<string | undefined> {
    const now = this.o.now();
    if (this.leader && now - this.leader.readAt < LEADER_TTL_MS) return this.leader.address;
    try {
      const lease = await this.o.client.get<Lease>({
        kind: 'Lease',
        name: this.o.leaseName,
        namespace: this.o.namespace,
      });
      const address = advertisedAddress(lease);
      this.leader = address ? { address, readAt: now } : undefined;
    } catch (e) {
      this.leader = undefined;
      this.logFailure('reading the leader Lease failed', e);
    }
    return this.leader?.address;
  }

  /** Whatever else went wrong (e.g. a key service Secret that does not parse): logged, and tried again. */
  private failed(e: unknown): void {
    this.leader = undefined;
    this.logFailure('the replica relay failed; trying again', e);
  }

  private logFailure(message: string, e: unknown): void {
    const now = this.o.now();
    if (now - this.lastFailureLog < 30_000) return;
    this.lastFailureLog = now;
    this.o.log.warn(message, { error: describeError(e) });
  }
}
