/**
 * ClusterChannel: Report, Commands, Renew — every call authorized from the verified peer certificate
 * alone. The server verifies the chain against the internal CA bundle (grpc-js exposes a peer
 * certificate only when the handshake authorized it); here its URI SAN names installation, tenant UID
 * and ClusterAgent UID, and Palisade's records must agree: the tenant record (keystore) owns a
 * namespace holding a live, unsuspended ClusterAgent of that UID, whose keystore record lists the
 * certificate's serial as current or previous. Nothing in metadata or a message body names anyone.
 *
 * Open Commands streams are re-authorized every {@link SWEEP_MS}: a deleted or suspended agent's stream
 * ends with PERMISSION_DENIED within that time (its next unary call is refused at once).
 */
import {
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { parseDuration, type ClusterAgent } from '../../crds/v1alpha1/index.ts';
import { refreshDue } from '../clusteragent/pairing.ts';
import { readAgentRecord, type AgentRecord } from '../clusteragent/record.ts';
import { agentRecordName, IndexKey } from '../keystore/entries.ts';
import { recordOf } from '../keystore/tenants.ts';
import type { ReportedHealth } from '../nats/heartbeats.ts';
import { isPublicKey } from '../nats/protocol/index.ts';
import { PkiError, verifyCertificateRequest } from '../pki/index.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { AGENT_UID_INDEX, freshRecord, type ChannelDeps } from './deps.ts';
import { identityFromSubjectAltName } from './identity.ts';
import { ChannelUnavailableError, issueAgentCredentials, nextRecord, normalizeSerial } from './issue.ts';
import { RpcError, saveRecord } from './pairing.ts';
import type {
  Command,
  CommandsRequest,
  RenewRequest,
  RenewResponse,
  ReportRequest,
  ReportResponse,
} from './proto.ts';

export const SWEEP_MS = 1_000;
const REFUSED = 'this client certificate is not a current credential of a live ClusterAgent';

/** Who a verified call comes from, by Palisade's records. */
export interface Caller {
  tenantUID: string;
  namespace: string;
  agent: ClusterAgent;
  record: AgentRecord;
  recordSecret: Secret;
  serial: string;
}

/** The caller a verified peer certificate stands for, or why not (one message: no oracle). */
export function authorize(d: ChannelDeps, cert: PeerCertificate | undefined): Caller | RpcError {
  if (!cert?.raw)
    return new RpcError(status.UNAUTHENTICATED, 'a client certificate of the internal CA is required');
  const installationID = d.installationID();
  // NB: not a refusal (which ends the agent): right after a start, the trust domain is not read yet.
  if (!installationID) return new RpcError(status.UNAVAILABLE, 'the cluster channel is starting; retry');
  const id = identityFromSubjectAltName(cert.subjectaltname);
  if (!id || id.installationID !== installationID) return new RpcError(status.PERMISSION_DENIED, REFUSED);
  if (Date.parse(cert.valid_to) <= d.now().getTime()) return new RpcError(status.PERMISSION_DENIED, REFUSED);
  const tenant = d.keystore.find(IndexKey.tenantByUID(id.tenantUID)).map(recordOf)[0];
  if (!tenant || tenant.retained) return new RpcError(status.PERMISSION_DENIED, REFUSED);
  const agent = d.agents
    .byIndex(AGENT_UID_INDEX, id.clusterAgentUID)
    .map((key) => d.agents.get(key.slice(key.indexOf('/') + 1), tenant.namespace))
    .find((a) => a?.metadata.namespace === tenant.namespace && a.metadata.uid === id.clusterAgentUID);
  if (!agent || agent.metadata.deletionTimestamp || agent.spec.suspended || !agent.spec.pairing)
    return new RpcError(status.PERMISSION_DENIED, REFUSED);
  const recordSecret = freshRecord(d, agentRecordName(id.tenantUID, agent.metadata.name));
  const record = readAgentRecord(recordSecret);
  const serial = normalizeSerial(cert.serialNumber);
  if (!recordSecret || !record || record.mode !== 'pairing' || record.agentUID !== id.clusterAgentUID)
    return new RpcError(status.PERMISSION_DENIED, REFUSED);
  if (!(record.certificates ?? []).some((c) => c.serial === serial))
    return new RpcError(status.PERMISSION_DENIED, REFUSED);
  return { tenantUID: id.tenantUID, namespace: tenant.namespace, agent, record, recordSecret, serial };
}

const HEALTH: Record<string, ReportedHealth | undefined> = {
  HEALTH_HEALTHY: 'Healthy',
  HEALTH_DEGRADED: 'Degraded',
  HEALTH_UNHEALTHY: 'Unhealthy',
};

/** At most 32 statistics; keys [A-Za-z0-9_.-]{1,63}; values cut at 256 (as over NATS). */
export function cleanStatistics(s: Record<string, string>): Record<string, string> | undefined {
  const entries = Object.entries(s ?? {});
  if (!entries.length) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of entries.slice(0, 32))
    if (/^[A-Za-z0-9_.-]{1,63}$/.test(k)) out[k] = String(v).slice(0, 256);
  return out;
}

interface OpenStream {
  call: ServerWritableStream<CommandsRequest, Command>;
  cert: PeerCertificate;
  tenantUID: string;
  agent: string;
}

/** The service, and `send` for commands to an agent's open streams. */
export class ClusterChannel {
  private readonly d: ChannelDeps;
  private readonly streams = new Set<OpenStream>();
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;

  constructor(d: ChannelDeps) {
    this.d = d;
  }

  handlers(): UntypedServiceImplementation {
    return {
      Report: (call: ServerUnaryCall<ReportRequest, ReportResponse>, cb: sendUnaryData<ReportResponse>) => {
        const who = authorize(this.d, call.getAuthContext().sslPeerCertificate);
        if (who instanceof RpcError) return cb({ code: who.code, details: who.message });
        const health = HEALTH[call.request.health];
        const statistics = cleanStatistics(call.request.statistics);
        this.d.heartbeats.report(
          { tenantUID: who.tenantUID, agent: who.agent.metadata.name },
          { ...(health ? { health } : {}), ...(statistics ? { statistics } : {}) },
          this.d.now().getTime(),
        );
        cb(null, { reportIntervalSeconds: reportInterval(who.agent) });
      },
      Commands: (call: ServerWritableStream<CommandsRequest, Command>) => this.open(call),
      Renew: (call: ServerUnaryCall<RenewRequest, RenewResponse>, cb: sendUnaryData<RenewResponse>) => {
        this.renew(call.getAuthContext().sslPeerCertificate, call.request).then(
          (res) => cb(null, res),
          (e: unknown) => {
            const err = e instanceof RpcError ? e : unavailable(this.d, e);
            cb({ code: err.code, details: err.message });
          },
        );
      },
    };
  }

  /** Sends `verb` to every open Commands stream of the agent; returns how many got it. */
  send(tenantUID: string, agent: string, verb: string): number {
    let n = 0;
    for (const s of this.streams) {
      if (s.tenantUID !== tenantUID || s.agent !== agent) continue;
      s.call.write({ id: `c-${Date.now().toString(36)}-${++this.seq}`, verb });
      n++;
    }
    return n;
  }

  /** Open streams (metrics, tests). */
  get openStreams(): number {
    return this.streams.size;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const s of this.streams) s.call.end();
    this.streams.clear();
  }

  private open(call: ServerWritableStream<CommandsRequest, Command>): void {
    const cert = call.getAuthContext().sslPeerCertificate;
    const who = authorize(this.d, cert);
    if (who instanceof RpcError || !cert) {
      const err = who instanceof RpcError ? who : new RpcError(status.UNAUTHENTICATED, REFUSED);
      call.emit('error', { code: err.code, details: err.message });
      return;
    }
    const s: OpenStream = { call, cert, tenantUID: who.tenantUID, agent: who.agent.metadata.name };
    this.streams.add(s);
    const drop = () => this.streams.delete(s);
    call.on('cancelled', drop);
    call.on('close', drop);
    call.on('finish', drop);
    this.timer ??= setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
    // An agent that just (re)connected is asked for a report at once: status catches up without waiting.
    call.write({ id: `c-${Date.now().toString(36)}-${++this.seq}`, verb: 'report-now' });
    // A refresh asked for while it was away.
    if (refreshDue(who.agent, who.record))
      call.write({ id: `c-${Date.now().toString(36)}-${++this.seq}`, verb: 'refresh-credentials' });
  }

  /** Ends the streams whose certificate no longer authorizes (agent deleted, suspended, superseded). */
  sweep(): void {
    for (const s of this.streams) {
      const who = authorize(this.d, s.cert);
      if (!(who instanceof RpcError)) continue;
      this.streams.delete(s);
      s.call.emit('error', { code: status.PERMISSION_DENIED, details: who.message });
    }
    if (!this.streams.size && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private async renew(cert: PeerCertificate | undefined, req: RenewRequest): Promise<RenewResponse> {
    const who = authorize(this.d, cert);
    if (who instanceof RpcError) throw who;
    if (!isPublicKey(req.natsUserPublicKey, 'U'))
      throw new RpcError(status.INVALID_ARGUMENT, 'nats_user_public_key: not a NATS user public key (U…)');
    let publicKey;
    try {
      publicKey = (await verifyCertificateRequest(req.certificateRequest)).publicKey;
    } catch (e) {
      if (e instanceof PkiError)
        throw new RpcError(status.INVALID_ARGUMENT, `certificate_request: ${e.message}`);
      throw e;
    }
    // NB: only the current certificate renews; the previous one may still report, not mint more.
    if (who.record.certificates?.[0]?.serial !== who.serial)
      throw new RpcError(status.PERMISSION_DENIED, 'only the current client certificate can renew');
    const name = who.agent.metadata.name;
    const issued = await issueAgentCredentials(this.d, {
      tenantUID: who.tenantUID,
      agent: name,
      agentUID: who.agent.metadata.uid ?? '',
      natsUserPublicKey: req.natsUserPublicKey,
      publicKey,
    });
    const now = this.d.now();
    const p = who.record.pairing;
    const next = nextRecord(
      {
        ...who.record,
        ...(p ? { pairing: { ...p, pairedAt: now.toISOString() } } : {}),
        // The trigger these credentials answer: a refresh asked for is done.
        trigger: who.agent.spec.credentialRotationTrigger ?? '',
      },
      issued,
      now,
    );
    try {
      await saveRecord(this.d, who.recordSecret, next, who.tenantUID, name, who.namespace);
    } catch (e) {
      if (e instanceof RpcError)
        throw new RpcError(status.ABORTED, 'the agent record changed meanwhile; renew again');
      throw e;
    }
    this.d.audit.record({
      action: 'agent.credentials.renew',
      outcome: 'Success',
      actor: `clusteragent ${who.namespace}/${name}`,
      resource: { kind: 'ClusterAgent', name, namespace: who.namespace, uid: who.agent.metadata.uid },
      tenantUID: who.tenantUID,
      reason: `certificate ${issued.certificate.serial.slice(0, 12)}… replaces ${who.serial.slice(0, 12)}…`,
    });
    return { credentials: issued.credentials };
  }
}

/** A third of the heartbeat deadline: two reports may be lost before the agent counts as missing. */
function reportInterval(agent: ClusterAgent): number {
  try {
    return Math.max(3, Math.floor(parseDuration(agent.spec.heartbeatDeadline) / 3000));
  } catch {
    return 30;
  }
}

function unavailable(d: ChannelDeps, e: unknown): RpcError {
  if (e instanceof ChannelUnavailableError) return new RpcError(status.UNAVAILABLE, e.message);
  d.log.error('cluster channel call failed', { error: e instanceof Error ? e.message : String(e) });
  return new RpcError(status.UNAVAILABLE, 'the call failed on the server; retry');
}
