/**
 * The pairing-mode branch of a ClusterAgent's reconcile (pairing.ts has the pure parts): mint a code
 * when one is due, show it once, take the code Secret away when it cannot be used, revoke what must
 * not work. Order when minting: the keystore record (the hash) first, then the Secret (the code) — a
 * crash in between leaves a code nobody saw, which the next pass replaces.
 */
import type { ClusterAgent, Tenant } from '../../crds/v1alpha1/index.ts';
import type { ConditionInput } from '../runtime/conditions.ts';
import { isAlreadyExists, isNotFound } from '../runtime/errors.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { isControlledBy, secretString } from '../runtime/objects.ts';
import { AgentCondition, AgentReason } from './conditions.ts';
import type { AgentDeps } from './deps.ts';
import {
  CODE_ID_ANNOTATION,
  codeDue,
  codeSecret,
  codeSecretName,
  codeSecretStale,
  pairingCondition,
  pairingState,
  refreshDue,
  withNewCode,
} from './pairing.ts';
import { agentRecordSecret, type AgentRecord } from './record.ts';
import { revoke } from './revoke.ts';

/** What the branch reads and updates of the reconcile's context. */
export interface PairingContext {
  agent: ClusterAgent;
  tenant: Tenant;
  uid: string;
  record: AgentRecord | undefined;
  recordSecret: Secret | undefined;
  delivered: Secret | undefined;
  revoked: Set<string>;
}

const PEPPER_WAIT_MS = 2_000;
const REFRESH_RESEND_MS = 30_000;

/** CredentialsReady in pairing mode, and when to look again (the code's expiry). */
export async function convergePairing(
  d: AgentDeps,
  ctx: PairingContext,
): Promise<{ condition: ConditionInput; wakeInMs?: number }> {
  const { agent } = ctx;
  const now = d.env.now();
  // NB: credentials delivered in Secret mode carry a seed in the management cluster: they go.
  if (ctx.delivered && isControlledBy(ctx.delivered, agent)) {
    await deleteSecret(d, ctx.delivered);
    ctx.delivered = undefined;
  }
  if (agent.spec.suspended) {
    await revoke(d, agent, ctx.uid, ctx.record, true, ctx.revoked);
    await dropCodeSecret(d, agent);
    return {
      condition: notReady(AgentReason.Suspended, 'the agent is suspended: its credentials are refused'),
    };
  }
  const shownSecret = d.secrets.get(codeSecretName(agent), agent.metadata.namespace ?? '');
  if (shownSecret && !isControlledBy(shownSecret, agent)) {
    const message = `Secret ${codeSecretName(agent)} exists and is not this agent's; delete or rename it and a pairing code is shown there`;
    d.events.record(agent, 'Warning', AgentReason.SecretConflict, 'Pair', message);
    return { condition: notReady(AgentReason.SecretConflict, message), wakeInMs: 60_000 };
  }
  if (codeDue(agent, ctx.record, await wasShown(d, ctx, shownSecret), now.getTime())) {
    if (!d.pairing)
      return {
        condition: notReady(
          AgentReason.PairingUnavailable,
          'pairing is served on the cluster channel: run the operator with --keyservice-address',
        ),
      };
    const pepper = d.pairing.pepper();
    if (!pepper)
      return {
        condition: notReady(AgentReason.PairingUnavailable, 'the installation hash salt is not readable yet'),
        wakeInMs: PEPPER_WAIT_MS,
      };
    await mintCode(d, ctx, pepper, shownSecret);
  } else if (ctx.record?.pairing && codeSecretStale(shownSecret, agent, ctx.record.pairing, now.getTime())) {
    await deleteSecret(d, shownSecret as Secret);
  } else if (shownSecret && isControlledBy(shownSecret, agent)) {
    await followServer(d, agent, shownSecret);
  }
  await revoke(d, agent, ctx.uid, ctx.record, false, ctx.revoked);
  // NB: asked again on every pass until the agent renews (it may be offline now): a command is not stored.
  const refresh = refreshDue(agent, ctx.record);
  if (refresh) d.pairing?.command?.(ctx.uid, agent.metadata.name, 'refresh-credentials');
  const p = ctx.record?.pairing;
  const expiresIn =
    p && pairingState(p, now.getTime()) === 'Pending' ? Date.parse(p.expiresAt) - now.getTime() : undefined;
  const certExpiresIn = ctx.record?.certificates?.[0]
    ? Date.parse(ctx.record.certificates[0].notAfter) - now.getTime()
    : undefined;
  const waits = [expiresIn, certExpiresIn, refresh ? REFRESH_RESEND_MS : undefined].filter(
    (w): w is number => w !== undefined && w > 0,
  );
  return {
    condition: pairingCondition(agent, ctx.record, now.getTime()),
    ...(waits.length ? { wakeInMs: Math.min(...waits) + 500 } : {}),
  };
}

/**
 * A code shown before the server's certificate came from a new CA (an internal CA rotation) would pin
 * the CA the agent no longer meets: its Secret gets the pin (and address) the server presents now. The
 * code stays as shown.
 */
async function followServer(d: AgentDeps, agent: ClusterAgent, s: Secret): Promise<void> {
  const now: Record<string, string | undefined> = {
    'ca-pin': d.pairing?.caPin(),
    server: d.pairing?.address,
  };
  const ops = Object.entries(now).flatMap(([key, value]) =>
    value && secretString(s, key) !== value
      ? [{ op: 'add', path: `/data/${key}`, value: Buffer.from(value).toString('base64') }]
      : [],
  );
  if (ops.length === 0) return;
  await d.client.jsonPatch({ kind: 'Secret', name: s.metadata.name, namespace: s.metadata.namespace ?? '' }, [
    { op: 'test', path: '/metadata/uid', value: s.metadata.uid },
    ...ops,
  ]);
  const what = ops.map((o) => o.path.slice('/data/'.length)).join(' and ');
  d.events.record(
    agent,
    'Normal',
    'PairingCodeServerChanged',
    'Pair',
    `the ${what} shown beside pairing code ${s.metadata.annotations?.[CODE_ID_ANNOTATION] ?? ''} now name${ops.length === 1 ? 's' : ''} the server as it is (its certificate changed CA, or its address); the code is unchanged`,
  );
}

/** Whether the record's current code reached its Secret (or status): then it must not be replaced. */
async function wasShown(d: AgentDeps, ctx: PairingContext, cached: Secret | undefined): Promise<boolean> {
  const id = ctx.record?.pairing?.codeID;
  if (!id) return false;
  if (ctx.agent.status?.pairing?.codeID === id) return true;
  if (cached?.metadata.annotations?.[CODE_ID_ANNOTATION] === id) return true;
  // NB: the cache may lag a Secret written a moment ago: ask before minting a second code.
  try {
    const live = await d.client.get<Secret>({
      kind: 'Secret',
      name: codeSecretName(ctx.agent),
      namespace: ctx.agent.metadata.namespace ?? '',
    });
    return live?.metadata.annotations?.[CODE_ID_ANNOTATION] === id;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

async function mintCode(d: AgentDeps, ctx: PairingContext, pepper: Uint8Array, shown: Secret | undefined) {
  const { agent } = ctx;
  const { record, code } = withNewCode({
    agent,
    record: ctx.record,
    pepper,
    now: d.env.now(),
    rand: d.env.rand,
  });
  const secret = agentRecordSecret({
    keystoreNamespace: d.keystore.namespace,
    uid: ctx.uid,
    agent: agent.metadata.name,
    tenantNamespace: agent.metadata.namespace ?? '',
    record,
    ...(ctx.recordSecret?.metadata.resourceVersion
      ? { resourceVersion: ctx.recordSecret.metadata.resourceVersion }
      : {}),
  });
  ctx.recordSecret = ctx.recordSecret ? await d.client.update(secret) : await d.client.create(secret);
  ctx.record = record;
  const pairing = record.pairing as NonNullable<AgentRecord['pairing']>;
  if (shown) await deleteSecret(d, shown);
  const show = codeSecret({
    agent,
    tenantName: ctx.tenant.metadata.name,
    code,
    pairing,
    ...(d.pairing?.caPin() ? { caPin: d.pairing.caPin() as string } : {}),
    ...(d.pairing?.address ? { address: d.pairing.address } : {}),
  });
  try {
    await d.client.create(show);
  } catch (e) {
    // NB: a Secret of that name appeared meanwhile: the next pass sees whose it is.
    if (!isAlreadyExists(e)) throw e;
  }
  d.events.record(
    agent,
    'Normal',
    'PairingCodeIssued',
    'Pair',
    `pairing code ${pairing.codeID} issued, valid until ${pairing.expiresAt.replace(/\.\d+Z$/, 'Z')} for ${pairing.usesLeft} use(s); shown once in Secret ${codeSecretName(agent)}`,
  );
  d.audit.record({
    action: 'agent.pairing.code.issue',
    outcome: 'Success',
    resource: {
      kind: 'ClusterAgent',
      name: agent.metadata.name,
      namespace: agent.metadata.namespace,
      uid: agent.metadata.uid,
    },
    tenantUID: ctx.uid,
    reason: `code ${pairing.codeID}`,
  });
}

/** Removes this agent's code Secret, if it has one (Secret mode, suspension). */
export async function dropCodeSecret(d: AgentDeps, agent: ClusterAgent): Promise<void> {
  const s = d.secrets.get(codeSecretName(agent), agent.metadata.namespace ?? '');
  if (s && isControlledBy(s, agent)) await deleteSecret(d, s);
}

async function deleteSecret(d: AgentDeps, s: Secret): Promise<void> {
  try {
    await d.client.delete({ kind: 'Secret', name: s.metadata.name, namespace: s.metadata.namespace ?? '' });
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

function notReady(reason: string, message: string): ConditionInput {
  return { type: AgentCondition.CredentialsReady, status: 'False', reason, message };
}
