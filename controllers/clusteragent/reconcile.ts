import type { ClusterAgent, ClusterAgentStatus, Tenant } from '../../crds/v1alpha1/index.ts';
import type { RandomSource } from '../crypto/index.ts';
import type { RootKeyring } from '../installation/keyring.ts';
import { addRevocations, readRevocations } from '../nats/revocations.ts';
import { revoke } from './revoke.ts';
import { NATS_SECRETS } from '../nats/secrets.ts';
import type { NatsService } from '../nats/service.ts';
import { readySummary, setConditions, type ConditionInput } from '../runtime/conditions.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { Informer } from '../runtime/informer.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import { splitKey, type Namespace, type Secret } from '../runtime/kube/types.ts';
import type { AuditLog } from '../runtime/log.ts';
import {
  addFinalizer,
  hasFinalizer,
  removeFinalizer,
  TENANT_LABEL,
  writeStatus,
} from '../runtime/objects.ts';
import { MessagingCondition, unwrapAccountKey } from '../tenant/account.ts';
import { AGENT_FINALIZER, AgentCondition, AgentReason, Annotation } from './conditions.ts';
import { connectivity } from './connectivity.ts';
import { credentialsSecretName, issueCredentials, planCredentials, rotationDue } from './credentials.ts';

export interface AgentDeps {
  client: KubeClient;
  events: EventRecorder;
  audit: AuditLog;
  env: { now(): Date; rand: RandomSource };
  agents: Informer<ClusterAgent>;
  tenants: Informer<Tenant>;
  namespaces: Informer<Namespace>;
  secrets: Informer<Secret>;
  rootKeys: RootKeyring;
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
  secret: Secret | undefined;
  revoked: Set<string>;
}

/**
 * ClusterAgent: dedicated NATS credentials (issued, rotated, revoked on suspension, rotation and
 * deletion) and connectivity from heartbeats held in memory. One status write per reconcile, skipped
 * when nothing changed.
 */
export async function reconcileAgent(d: AgentDeps, key: string): Promise<ReconcileResult | void> {
  const { namespace = '', name } = splitKey(key);
  const agent = d.agents.get(name, namespace);
  if (!agent) return;
  const tenant = tenantOf(d, namespace);
  const uid = tenant?.status?.uid;
  if (agent.metadata.deletionTimestamp) {
    if (!hasFinalizer(agent, AGENT_FINALIZER)) return;
    if (tenant) await revoke(d, agent, tenant, d.secrets.get(credentialsSecretName(agent), namespace));
    if (uid) d.nats.heartbeats.forget(uid, name);
    await removeFinalizer(d.client, agent, AGENT_FINALIZER);
    return;
  }
  await addFinalizer(d.client, agent, AGENT_FINALIZER);
  // NB: credentials are issued only once the account is on the resolver, so they work when they appear.
  const accountReady = tenant?.status?.conditions?.some(
    (c) => c.type === MessagingCondition && c.status === 'True',
  );
  if (!tenant || !uid || !accountReady || !d.secrets.get(NATS_SECRETS.tenantAccount, namespace)) {
    await report(
      d,
      agent,
      undefined,
      notReady(AgentReason.TenantNotReady, 'the tenant or its NATS account is not ready yet'),
    );
    return { requeueAfterMs: TENANT_RECHECK_MS };
  }
  const revocations = readRevocations(d.secrets.get(NATS_SECRETS.revocations, namespace));
  const ctx: Context = {
    agent,
    tenant,
    uid,
    secret: d.secrets.get(credentialsSecretName(agent), namespace),
    revoked: new Set(Object.keys(revocations)),
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
  const credentials = await converge(d, ctx);
  const conn = connectivity(
    agent,
    d.nats.heartbeats.get(uid, name),
    d.env.now().getTime(),
    d.statusRefreshMs,
  );
  await report(d, agent, ctx, credentials, conn);
  d.nats.heartbeats.markReported(uid, name, conn.connected);
  const due = agent.spec.suspended ? undefined : rotationDue(agent, ctx.secret);
  const waits = [
    conn.recheckInMs,
    due !== undefined ? Math.max(1000, due - d.env.now().getTime()) : undefined,
  ];
  const next = Math.min(...waits.filter((w): w is number => w !== undefined));
  return Number.isFinite(next) ? { requeueAfterMs: next } : undefined;
}

/** Issues, rotates or revokes as planned; updates `ctx.secret` to what now exists. */
async function converge(d: AgentDeps, ctx: Context): Promise<ConditionInput> {
  const plan = planCredentials(ctx.agent, ctx.secret, ctx.revoked, d.env.now());
  if (plan.kind === 'suspend') {
    await revoke(d, ctx.agent, ctx.tenant, ctx.secret);
    return notReady(AgentReason.Suspended, 'the agent is suspended: its credentials are revoked');
  }
  if (plan.kind === 'issue') {
    const previous = ctx.secret?.metadata.annotations?.[Annotation.User];
    const version = Math.max(versionOf(ctx.secret), ctx.agent.status?.credentialsVersion ?? 0) + 1;
    const issued = issueCredentials({
      agent: ctx.agent,
      tenantName: ctx.tenant.metadata.name,
      tenantUID: ctx.uid,
      account: unwrapAccountKey(
        d,
        d.secrets.get(NATS_SECRETS.tenantAccount, ctx.agent.metadata.namespace) as Secret,
        ctx.uid,
      ),
      version,
      now: d.env.now(),
      caPem: d.nats.installation.tls.caPem,
      ...(d.agentUrl ? { url: d.agentUrl } : {}),
      ...(previous && !ctx.revoked.has(previous) ? { previousUser: previous } : {}),
    });
    if (ctx.secret) {
      issued.secret.metadata.resourceVersion = ctx.secret.metadata.resourceVersion;
      ctx.secret = await d.client.update(issued.secret);
    } else {
      ctx.secret = await d.client.create(issued.secret);
    }
    record(d, ctx, `issued NATS credentials v${version} (${plan.why})`, 'nats.credentials.issue', version);
  }
  // NB: after a rotation, and after a crash between the Secret write and this, the old user is revoked.
  await revokePrevious(d, ctx);
  return {
    type: AgentCondition.CredentialsReady,
    status: 'True',
    reason: AgentReason.CredentialsIssued,
    message: `credentials v${versionOf(ctx.secret)} in Secret ${credentialsSecretName(ctx.agent)}`,
  };
}

async function revokePrevious(d: AgentDeps, ctx: Context): Promise<void> {
  const prev = ctx.secret?.metadata.annotations?.[Annotation.PreviousUser];
  if (!prev || ctx.revoked.has(prev)) return;
  await addRevocations(
    { client: d.client, now: () => d.env.now() },
    ctx.agent.metadata.namespace ?? '',
    ctx.tenant.metadata.name,
    {
      [prev]: { at: Math.floor(d.env.now().getTime() / 1000) },
    },
  );
  ctx.revoked.add(prev);
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

function tenantOf(d: AgentDeps, namespace: string): Tenant | undefined {
  const owner = d.namespaces.get(namespace)?.metadata.labels?.[TENANT_LABEL];
  const t = owner ? d.tenants.get(owner) : undefined;
  return t && (t.status?.namespace ?? `tenant-${t.metadata.name}`) === namespace ? t : undefined;
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

function versionOf(secret: Secret | undefined): number {
  const v = Number(secret?.metadata.annotations?.[Annotation.Version]);
  return Number.isInteger(v) && v > 0 ? v : 0;
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
  const a = ctx?.secret?.metadata.annotations ?? {};
  const issued = credentials.status === 'True' && ctx?.secret;
  const { lastHeartbeat, health, statistics, conditions: _c, ...rest } = agent.status ?? {};
  void _c;
  const status: ClusterAgentStatus = {
    ...rest,
    ...(ctx ? { tenantUID: ctx.uid } : {}),
    ...(issued
      ? {
          credentialsSecret: credentialsSecretName(agent),
          userPublicKey: a[Annotation.User],
          credentialsIssuedAt: a[Annotation.IssuedAt]?.replace(/\.\d+Z$/, 'Z'),
          credentialsVersion: versionOf(ctx.secret),
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
