import type { ClusterAgent, ClusterAgentStatus, Tenant } from '../../crds/v1alpha1/index.ts';
import type { RandomSource } from '../crypto/index.ts';
import { agentRecordName, revocationsName } from '../keystore/entries.ts';
import type { Keystore } from '../keystore/store.ts';
import { tenantOfNamespace } from '../keystore/tenants.ts';
import { readRevocations } from '../nats/revocations.ts';
import type { NatsService } from '../nats/service.ts';
import { readySummary, setConditions, type ConditionInput } from '../runtime/conditions.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { isAlreadyExists } from '../runtime/errors.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { Informer } from '../runtime/informer.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import { splitKey, type Secret } from '../runtime/kube/types.ts';
import type { AuditLog } from '../runtime/log.ts';
import {
  addFinalizer,
  hasFinalizer,
  isControlledBy,
  removeFinalizer,
  writeStatus,
} from '../runtime/objects.ts';
import { accountEntry, unwrapAccountKey } from '../tenant/account.ts';
import { AGENT_FINALIZER, AgentCondition, AgentReason, Annotation } from './conditions.ts';
import { connectivity } from './connectivity.ts';
import { credentialsSecretName, issueCredentials, planCredentials, rotationDue } from './credentials.ts';
import { agentRecordSecret, readAgentRecord, type AgentRecord } from './record.ts';
import { revoke } from './revoke.ts';
import { tenancyProblem } from './tenancy.ts';
import type { NamespacedInformer } from '../runtime/namespaced.ts';

export interface AgentDeps {
  client: KubeClient;
  events: EventRecorder;
  audit: AuditLog;
  env: { now(): Date; rand: RandomSource };
  agents: Informer<ClusterAgent>;
  tenants: Informer<Tenant>;
  /** The labelled-Secret informer: where delivered credentials Secrets are seen. */
  secrets: NamespacedInformer<Secret>;
  keystore: Keystore;
  nats: NatsService;
  /** The URL written into credentials Secrets for agents (optional). */
  agentUrl?: string;
  statusRefreshMs?: number;
}

const TENANT_RECHECK_MS = 5_000;

interface Context {
  agent: ClusterAgent;
  tenant: Tenant;
  uid: string;
  /** Palisade's record of the agent's credentials (keystore) and the Secret holding it. */
  record: AgentRecord | undefined;
  recordSecret: Secret | undefined;
  /** The credentials Secret in the tenant namespace (delivery only; never read for decisions). */
  delivered: Secret | undefined;
  revoked: Set<string>;
}

const CACHE_WAIT_MS = 1_000;

/**
 * ClusterAgent: dedicated NATS credentials (issued, rotated, revoked on suspension, rotation and
 * deletion) and connectivity from heartbeats held in memory. Which user the agent holds and which users
 * are revoked is read from the keystore only. One status write per reconcile, skipped when nothing changed.
 */
export async function reconcileAgent(d: AgentDeps, key: string): Promise<ReconcileResult | void> {
  const { namespace = '', name } = splitKey(key);
  const cached = d.agents.get(name, namespace);
  if (!cached) return;
  let agent = cached;
  const tenantRecord = tenantOfNamespace(d.keystore, namespace);
  const uid = tenantRecord?.uid;
  const recordSecret = uid ? d.keystore.get(agentRecordName(uid, name)) : undefined;
  const record = readAgentRecord(recordSecret);
  const revoked = new Set(
    Object.keys(readRevocations(uid ? d.keystore.get(revocationsName(uid)) : undefined)),
  );
  if (agent.metadata.deletionTimestamp) {
    if (!hasFinalizer(agent, AGENT_FINALIZER)) return;
    if (uid) {
      await revoke(d, agent, uid, record, true, revoked);
      if (recordSecret) await d.keystore.delete([recordSecret]);
      d.nats.heartbeats.forget(uid, name);
    }
    await removeFinalizer(d.client, agent, AGENT_FINALIZER);
    return;
  }
  agent = await addFinalizer(d.client, agent, AGENT_FINALIZER);
  const tenant = tenantRecord && !tenantRecord.retained ? d.tenants.get(tenantRecord.tenant) : undefined;
  const problem = tenancyProblem({
    namespace,
    record: tenantRecord,
    tenant,
    accountStored: !!uid && !!accountEntry(d.keystore, uid),
  });
  if (problem) {
    await report(d, agent, undefined, notReady(problem.reason, problem.message));
    // A Tenant (or its record) appearing re-queues the agent; the recheck is a safety net.
    const wrongPlace = problem.reason === AgentReason.TenantNotFound;
    return { requeueAfterMs: wrongPlace ? TENANT_RECHECK_MS * 12 : TENANT_RECHECK_MS };
  }
  if (!tenant || !uid) return; // NB: no problem means a live tenant record and its Tenant
  // NB: until the namespace's Secret cache is whole, "not delivered" may only mean "not seen yet": wait,
  // rather than issue new credentials (and revoke the ones the agent holds).
  if (!d.secrets.synced(namespace)) return { requeueAfterMs: CACHE_WAIT_MS };
  const ctx: Context = {
    agent,
    tenant,
    uid,
    record,
    recordSecret,
    delivered: d.secrets.get(credentialsSecretName(agent), namespace),
    revoked,
  };
  const limit = tenant.spec.messaging.maxAgents;
  if (agentIndex(d, agent) >= limit) {
    await report(
      d,
      agent,
      ctx,
      notReady(AgentReason.AgentLimitReached, `the tenant allows at most ${limit} agents`),
    );
    return;
  }
  if (ctx.delivered && !isControlledBy(ctx.delivered, agent)) return conflict(d, ctx);
  const credentials = await converge(d, ctx);
  if (!credentials) return conflict(d, ctx);
  const conn = connectivity(
    agent,
    d.nats.heartbeats.get(uid, name),
    d.env.now().getTime(),
    d.statusRefreshMs,
  );
  await report(d, agent, ctx, credentials, conn);
  d.nats.heartbeats.markReported(uid, name, conn.connected);
  const due = agent.spec.suspended ? undefined : rotationDue(agent, ctx.record);
  const waits = [
    conn.recheckInMs,
    due !== undefined ? Math.max(1000, due - d.env.now().getTime()) : undefined,
  ];
  const next = Math.min(...waits.filter((w): w is number => w !== undefined));
  return Number.isFinite(next) ? { requeueAfterMs: next } : undefined;
}

/** The credentials Secret's name is someone else's: say so, touch nothing, look again later. */
async function conflict(d: AgentDeps, ctx: Context): Promise<ReconcileResult> {
  const message = `Secret ${credentialsSecretName(ctx.agent)} exists and is not this agent's (no owner reference to it); delete or rename it and the credentials are delivered there`;
  d.events.record(ctx.agent, 'Warning', AgentReason.SecretConflict, 'Issue', message);
  await report(d, ctx.agent, undefined, notReady(AgentReason.SecretConflict, message));
  return { requeueAfterMs: TENANT_RECHECK_MS * 12 };
}

/**
 * Issues, rotates or revokes as planned; updates `ctx` to what now exists. Order: the keystore record
 * first, then the delivered Secret, then revocations — a crash between any two leaves a user nobody can
 * receive any more, and the next pass revokes it. Returns undefined when the Secret's name is taken.
 */
async function converge(d: AgentDeps, ctx: Context): Promise<ConditionInput | undefined> {
  const deliveredUser = ctx.delivered?.metadata.annotations?.[Annotation.User];
  const plan = planCredentials(ctx.agent, ctx.record, deliveredUser, ctx.revoked, d.env.now());
  if (plan.kind === 'suspend') {
    await revoke(d, ctx.agent, ctx.uid, ctx.record, true, ctx.revoked);
    return notReady(AgentReason.Suspended, 'the agent is suspended: its credentials are revoked');
  }
  if (plan.kind === 'issue') {
    const version = Math.max(ctx.record?.version ?? 0, ctx.agent.status?.credentialsVersion ?? 0) + 1;
    const account = accountEntry(d.keystore, ctx.uid) as Secret;
    const issued = issueCredentials({
      agent: ctx.agent,
      tenantName: ctx.tenant.metadata.name,
      tenantUID: ctx.uid,
      account: unwrapAccountKey(d.keystore, account, ctx.uid),
      version,
      now: d.env.now(),
      caPem: d.nats.installation.tls.caPem,
      ...(d.agentUrl ? { url: d.agentUrl } : {}),
      // NB: users already on the revocation list leave the record, so it stays bounded.
      ...(ctx.record
        ? { previous: { ...ctx.record, retired: ctx.record.retired.filter((u) => !ctx.revoked.has(u.user)) } }
        : {}),
    });
    await writeRecord(d, ctx, issued.record);
    try {
      if (ctx.delivered) {
        issued.secret.metadata.resourceVersion = ctx.delivered.metadata.resourceVersion;
        ctx.delivered = await d.client.update(issued.secret);
      } else {
        ctx.delivered = await d.client.create(issued.secret);
      }
    } catch (e) {
      if (isAlreadyExists(e)) return undefined;
      throw e;
    }
    record(d, ctx, `issued NATS credentials v${version} (${plan.why})`, 'nats.credentials.issue', version);
  }
  await revoke(d, ctx.agent, ctx.uid, ctx.record, false, ctx.revoked);
  return {
    type: AgentCondition.CredentialsReady,
    status: 'True',
    reason: AgentReason.CredentialsIssued,
    message: `credentials v${ctx.record?.version ?? 0} in Secret ${credentialsSecretName(ctx.agent)}`,
  };
}

/** Writes the agent's record to the keystore, conditional on the version read (a racing writer retries). */
async function writeRecord(d: AgentDeps, ctx: Context, next: AgentRecord): Promise<void> {
  const secret = agentRecordSecret({
    keystoreNamespace: d.keystore.namespace,
    uid: ctx.uid,
    agent: ctx.agent.metadata.name,
    tenantNamespace: ctx.agent.metadata.namespace ?? '',
    record: next,
    ...(ctx.recordSecret?.metadata.resourceVersion
      ? { resourceVersion: ctx.recordSecret.metadata.resourceVersion }
      : {}),
  });
  ctx.recordSecret = ctx.recordSecret ? await d.client.update(secret) : await d.client.create(secret);
  ctx.record = next;
}

function record(d: AgentDeps, ctx: Context, message: string, action: string, version: number): void {
  d.events.record(ctx.agent, 'Normal', 'CredentialsIssued', 'Issue', message);
  const a = ctx.agent;
  d.audit.record({
    action,
    outcome: 'Success',
    resource: {
      kind: 'ClusterAgent',
      name: a.metadata.name,
      namespace: a.metadata.namespace,
      uid: a.metadata.uid,
    },
    tenantUID: ctx.uid,
    version,
  });
}

/** The agent's place among its namespace's agents, oldest first: the first `maxAgents` get credentials. */
function agentIndex(d: AgentDeps, agent: ClusterAgent): number {
  const all = d.agents
    .list(agent.metadata.namespace)
    .filter((a) => !a.metadata.deletionTimestamp)
    .sort(
      (a, b) =>
        (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
        a.metadata.name.localeCompare(b.metadata.name),
    );
  return all.findIndex((a) => a.metadata.name === agent.metadata.name);
}

function notReady(reason: string, message: string): ConditionInput {
  return { type: AgentCondition.CredentialsReady, status: 'False', reason, message };
}

async function report(
  d: AgentDeps,
  agent: ClusterAgent,
  ctx: Context | undefined,
  credentials: ConditionInput,
  conn?: ReturnType<typeof connectivity>,
): Promise<void> {
  const r = ctx?.record;
  const issued = credentials.status === 'True' && r;
  const { lastHeartbeat, health, statistics, conditions: _c, ...rest } = agent.status ?? {};
  void _c;
  const status: ClusterAgentStatus = {
    ...rest,
    ...(ctx ? { tenantUID: ctx.uid } : {}),
    ...(issued
      ? {
          credentialsSecret: credentialsSecretName(agent),
          userPublicKey: r.user,
          credentialsIssuedAt: r.issuedAt.replace(/\.\d+Z$/, 'Z'),
          credentialsVersion: r.version,
        }
      : {}),
    ...(conn
      ? { lastHeartbeat: conn.lastHeartbeat, health: conn.health, statistics: conn.statistics }
      : { lastHeartbeat, health, statistics }),
    observedGeneration: agent.metadata.generation,
    conditions: conditionsFor(d, agent, credentials, conn?.concern),
  };
  await writeStatus(d.client, agent, status);
}

/** Ready follows the credentials; Connected is reported beside it (an agent may be offline by design). */
function conditionsFor(
  d: AgentDeps,
  agent: ClusterAgent,
  credentials: ConditionInput,
  connected?: ConditionInput,
) {
  const list = [
    credentials,
    ...(connected ? [connected] : []),
    readySummary([credentials], AgentReason.Ready),
  ];
  return setConditions(agent.status?.conditions, list, agent.metadata.generation, d.env.now());
}
