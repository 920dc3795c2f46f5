import type { ClusterAgent, ClusterAgentStatus, Tenant } from '../../crds/v1alpha1/index.ts';
import { agentRecordName, revocationsName } from '../keystore/entries.ts';
import { tenantOfNamespace } from '../keystore/tenants.ts';
import { readRevocations } from '../nats/revocations.ts';
import type { ConditionInput } from '../runtime/conditions.ts';
import { isAlreadyExists } from '../runtime/errors.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { sameCertificates } from '../pki/index.ts';
import { isControlledBy, secretString } from '../runtime/objects.ts';
import type { Kind, Outcome } from '../runtime/reconciler.ts';
import { heartbeatsOf, type AgentDeps } from './deps.ts';
import { accountEntry, unwrapAccountKey } from '../tenant/account.ts';
import { AGENT_FINALIZER, AgentCondition, AgentReason, Annotation } from './conditions.ts';
import { connectivity } from './connectivity.ts';
import { credentialsSecretName, issueCredentials, planCredentials, rotationDue } from './credentials.ts';
import { agentRecordSecret, readAgentRecord, type AgentRecord } from './record.ts';
import { revoke } from './revoke.ts';
import { tenancyProblem } from './tenancy.ts';
import { convergePairing, dropCodeSecret } from './pairingreconcile.ts';
import { report } from './status.ts';

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
export function clusterAgentKind(d: AgentDeps): Kind<ClusterAgent, ClusterAgentStatus> {
  return {
    finalizer: AGENT_FINALIZER,
    finalize: (agent) => finalizeAgent(d, agent),
    reconcile: (agent) => reconcileAgent(d, agent),
  };
}

/** Palisade's records of the agent's tenant and credentials, from the keystore only. */
function recordsOf(d: AgentDeps, agent: ClusterAgent) {
  const tenantRecord = tenantOfNamespace(d.keystore, agent.metadata.namespace ?? '');
  const uid = tenantRecord?.uid;
  const recordSecret = uid ? d.keystore.get(agentRecordName(uid, agent.metadata.name)) : undefined;
  const revoked = new Set(
    Object.keys(readRevocations(uid ? d.keystore.get(revocationsName(uid)) : undefined)),
  );
  return { tenantRecord, uid, recordSecret, record: readAgentRecord(recordSecret), revoked };
}

/** Deletion: the agent's users are revoked and its record goes; the driver then removes the finalizer. */
async function finalizeAgent(d: AgentDeps, agent: ClusterAgent): Promise<void> {
  const { uid, record, recordSecret, revoked } = recordsOf(d, agent);
  if (!uid) return;
  await revoke(d, agent, uid, record, true, revoked);
  if (recordSecret) await d.keystore.delete([recordSecret]);
  heartbeatsOf(d).forget(uid, agent.metadata.name);
}

async function reconcileAgent(d: AgentDeps, agent: ClusterAgent): Promise<Outcome<ClusterAgentStatus>> {
  const place = observe(d, agent);
  if ('outcome' in place) return place.outcome;
  const { ctx } = place;
  const limit = ctx.tenant.spec.messaging.maxAgents;
  if (agentIndex(d, agent) >= limit) {
    const limited = notReady(AgentReason.AgentLimitReached, `the tenant allows at most ${limit} agents`);
    return { status: report(agent, ctx, limited, d) };
  }
  if (agent.spec.pairing) {
    const p = await convergePairing(d, ctx);
    return withConnectivity(d, ctx, p.condition, p.wakeInMs);
  }
  if (ctx.delivered && !isControlledBy(ctx.delivered, agent)) return conflict(d, ctx);
  await dropCodeSecret(d, agent);
  if (!d.nats) {
    const off = notReady(
      AgentReason.MessagingDisabled,
      'messaging is off in this installation: only pairing-mode agents (spec.pairing) get credentials',
    );
    return withConnectivity(d, ctx, off);
  }
  const credentials = await converge({ ...d, nats: d.nats }, ctx);
  if (!credentials) return conflict(d, ctx);
  return withConnectivity(d, ctx, credentials);
}

/**
 * Where the agent stands, from Palisade's records: its tenant, its credentials record, the revocations and
 * what was delivered — or why it cannot go on (no tenant here, tenant not ready, cache not whole yet).
 */
function observe(
  d: AgentDeps,
  agent: ClusterAgent,
): { ctx: Context } | { outcome: Outcome<ClusterAgentStatus> } {
  const namespace = agent.metadata.namespace ?? '';
  const { tenantRecord, uid, recordSecret, record, revoked } = recordsOf(d, agent);
  const tenant = tenantRecord && !tenantRecord.retained ? d.tenants.get(tenantRecord.tenant) : undefined;
  const problem = tenancyProblem({
    namespace,
    record: tenantRecord,
    tenant,
    accountStored: !!uid && !!accountEntry(d.keystore, uid),
    messaging: !!d.nats,
  });
  if (problem || !tenant || !uid) {
    // NB: no problem means a live tenant record and its Tenant.
    const p = problem ?? {
      reason: AgentReason.TenantNotFound,
      message: `namespace ${namespace} belongs to no Tenant`,
    };
    // A Tenant (or its record) appearing re-queues the agent; the recheck is a safety net.
    const wrongPlace = p.reason === AgentReason.TenantNotFound;
    const status = report(agent, undefined, notReady(p.reason, p.message), d);
    return { outcome: { status, requeueAfterMs: wrongPlace ? TENANT_RECHECK_MS * 12 : TENANT_RECHECK_MS } };
  }
  // NB: until the namespace's Secret cache is whole, "not delivered" may only mean "not seen yet": wait,
  // rather than issue new credentials (and revoke the ones the agent holds).
  if (!d.secrets.synced(namespace)) return { outcome: { requeueAfterMs: CACHE_WAIT_MS } };
  const delivered = d.secrets.get(credentialsSecretName(agent), namespace);
  return { ctx: { agent, tenant, uid, record, recordSecret, delivered, revoked } };
}

/** Heartbeats decide Connected; the status, and when to look again (the heartbeat deadline, a rotation). */
function withConnectivity(
  d: AgentDeps,
  ctx: Context,
  credentials: ConditionInput,
  wakeInMs?: number,
): Outcome<ClusterAgentStatus> {
  const { agent, uid } = ctx;
  const name = agent.metadata.name;
  const beats = heartbeatsOf(d);
  const conn = connectivity(agent, beats.get(uid, name), d.env.now().getTime(), {
    ...(d.statusRefreshMs ? { refreshMs: d.statusRefreshMs } : {}),
    listeningSince: beats.listeningSince,
    mayRefresh: () => beats.claimRefresh(uid, name),
  });
  const status = report(agent, ctx, credentials, d, conn);
  // NB: the store wakes the agent when its deadline passes: no reconcile per agent per deadline meanwhile.
  const afterStatus = (wrote: boolean) => {
    const { expiresAt, deadlineMs: lengthMs, refreshAt } = conn;
    const watch = expiresAt ? { lengthMs, expiresAt, ...(refreshAt ? { refreshAt } : {}) } : undefined;
    beats.markReported(uid, name, conn.connected, watch);
    if (wrote && conn.transition) beats.chargeTransition();
  };
  const due = agent.spec.suspended ? undefined : rotationDue(agent, ctx.record);
  const waits = [
    due !== undefined && !agent.spec.pairing ? Math.max(1000, due - d.env.now().getTime()) : undefined,
    wakeInMs,
  ];
  const next = Math.min(...waits.filter((w): w is number => w !== undefined));
  return Number.isFinite(next) ? { status, afterStatus, requeueAfterMs: next } : { status, afterStatus };
}

/** The credentials Secret's name is someone else's: say so, touch nothing, look again later. */
function conflict(d: AgentDeps, ctx: Context): Outcome<ClusterAgentStatus> {
  const message = `Secret ${credentialsSecretName(ctx.agent)} exists and is not this agent's (no owner reference to it); delete or rename it and the credentials are delivered there`;
  d.events.record(ctx.agent, 'Warning', AgentReason.SecretConflict, 'Issue', message);
  return {
    status: report(ctx.agent, undefined, notReady(AgentReason.SecretConflict, message), d),
    requeueAfterMs: TENANT_RECHECK_MS * 12,
  };
}

/**
 * Issues, rotates or revokes as planned; updates `ctx` to what now exists. Order: the keystore record
 * first, then the delivered Secret, then revocations — a crash between any two leaves a user nobody can
 * receive any more, and the next pass revokes it. Returns undefined when the Secret's name is taken.
 */
async function converge(
  d: AgentDeps & { nats: NonNullable<AgentDeps['nats']> },
  ctx: Context,
): Promise<ConditionInput | undefined> {
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
      caPem: d.nats.trustBundle(),
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
  } else if (ctx.delivered) {
    await refreshTrust(d, ctx, ctx.delivered);
  }
  await revoke(d, ctx.agent, ctx.uid, ctx.record, false, ctx.revoked);
  return {
    type: AgentCondition.CredentialsReady,
    status: 'True',
    reason: AgentReason.CredentialsIssued,
    message: `credentials v${ctx.record?.version ?? 0} in Secret ${credentialsSecretName(ctx.agent)}`,
  };
}

/**
 * An internal CA rotation moves nats-server to the new CA once every agent could learn it: the delivered
 * Secret's `ca.crt` follows the published bundle, so an agent reading it trusts both CAs through the
 * overlap and the new one after. Only that entry changes; the credentials stay.
 */
async function refreshTrust(
  d: AgentDeps & { nats: NonNullable<AgentDeps['nats']> },
  ctx: Context,
  delivered: Secret,
): Promise<void> {
  const bundle = d.nats.trustBundle();
  if (sameCertificates(secretString(delivered, 'ca.crt') ?? '', bundle)) return;
  // NB: a listed object carries no kind: named here.
  ctx.delivered = await d.client.update({
    ...delivered,
    apiVersion: 'v1',
    kind: 'Secret',
    data: { ...delivered.data, 'ca.crt': Buffer.from(bundle).toString('base64') },
  });
  d.events.record(
    ctx.agent,
    'Normal',
    AgentReason.TrustUpdated,
    'Update',
    `the CA bundle in Secret ${credentialsSecretName(ctx.agent)} follows the internal CA`,
  );
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

/**
 * The agent's place among its namespace's agents, oldest first: the first `maxAgents` get credentials.
 * A count of the agents before it, not a sort: a burst of n agents costs O(n) each, not O(n log n).
 */
function agentIndex(d: AgentDeps, agent: ClusterAgent): number {
  const created = agent.metadata.creationTimestamp ?? '';
  const name = agent.metadata.name;
  let before = 0;
  for (const a of d.agents.list(agent.metadata.namespace)) {
    if (a.metadata.deletionTimestamp) continue;
    const order =
      (a.metadata.creationTimestamp ?? '').localeCompare(created) || a.metadata.name.localeCompare(name);
    if (order < 0) before++;
  }
  return before;
}

function notReady(reason: string, message: string): ConditionInput {
  return { type: AgentCondition.CredentialsReady, status: 'False', reason, message };
}
