import { parseDuration } from '../../crds/v1alpha1/index.ts';
import type { ClusterAgent } from '../../crds/v1alpha1/index.ts';
import { agentUserJwt, createKeyPair, formatCreds, type NKeyPair } from '../nats/protocol/index.ts';
import { AGENT_LABEL, PUBLIC_KEY_ANNOTATION } from '../keystore/entries.ts';
import { NatsComponent, natsSecret } from '../nats/secrets.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { controllerRef, TENANT_LABEL } from '../runtime/objects.ts';
import { Annotation } from './conditions.ts';
import { usersToRevoke, type AgentRecord } from './record.ts';

export type CredentialsPlan =
  | { kind: 'keep' }
  | { kind: 'suspend' }
  | { kind: 'issue'; why: 'initial' | 'period' | 'trigger' | 'revoked' | 'undelivered' };

/** The credentials Secret of a ClusterAgent: `<name>-nats-creds` in its namespace. */
export function credentialsSecretName(agent: ClusterAgent): string {
  return `${agent.metadata.name}-nats-creds`;
}

/** When the current credentials are due for rotation by period (ms), if a period is set. */
export function rotationDue(agent: ClusterAgent, record: AgentRecord | undefined): number | undefined {
  const issued = Date.parse(record?.issuedAt ?? '');
  if (!agent.spec.credentialRotationPeriod || Number.isNaN(issued)) return undefined;
  return issued + parseDuration(agent.spec.credentialRotationPeriod);
}

/**
 * What to do with the agent's credentials; pure. Decided from Palisade's record; `deliveredUser` is the
 * user of the credentials Secret in the tenant namespace (untrusted: it only tells whether the agent's
 * credentials are still delivered — if not, new ones are issued, since the old seed is nowhere else).
 */
export function planCredentials(
  agent: ClusterAgent,
  record: AgentRecord | undefined,
  deliveredUser: string | undefined,
  revoked: ReadonlySet<string>,
  now: Date,
): CredentialsPlan {
  if (agent.spec.suspended) return { kind: 'suspend' };
  if (!record) return { kind: 'issue', why: 'initial' };
  if (revoked.has(record.user)) return { kind: 'issue', why: 'revoked' };
  if (deliveredUser !== record.user) return { kind: 'issue', why: 'undelivered' };
  if (record.trigger !== (agent.spec.credentialRotationTrigger ?? ''))
    return { kind: 'issue', why: 'trigger' };
  const due = rotationDue(agent, record);
  if (due !== undefined && due <= now.getTime()) return { kind: 'issue', why: 'period' };
  return { kind: 'keep' };
}

export interface IssueInput {
  agent: ClusterAgent;
  tenantName: string;
  tenantUID: string;
  account: NKeyPair;
  version: number;
  now: Date;
  caPem: string;
  url?: string;
  /** The record being replaced: its users join the retired list, to be revoked. */
  previous?: AgentRecord;
}

export interface Issued {
  /** The credentials Secret for the tenant namespace (where they are delivered). */
  secret: Secret;
  /** Palisade's record of them, for the keystore. */
  record: AgentRecord;
}

/**
 * New credentials: a fresh user nkey and a JWT signed by the tenant account's key, scoped to the agent's
 * own subjects. With a rotation period, the JWT expires after two periods, so a revocation entry for it
 * can be dropped once that time has passed.
 */
export function issueCredentials(i: IssueInput): Issued {
  const user = createKeyPair('U');
  const iat = Math.floor(i.now.getTime() / 1000);
  const period = i.agent.spec.credentialRotationPeriod;
  const exp = period ? iat + Math.ceil((2 * parseDuration(period)) / 1000) : undefined;
  const jwt = agentUserJwt(i.account, {
    tenantUID: i.tenantUID,
    agent: i.agent.metadata.name,
    user: user.publicKey,
    issuedAt: iat,
    ...(exp !== undefined ? { expiresAt: exp } : {}),
  });
  const issuedAt = new Date(iat * 1000);
  const expiresAt = exp !== undefined ? new Date(exp * 1000) : undefined;
  const secret = natsSecret({
    name: credentialsSecretName(i.agent),
    namespace: i.agent.metadata.namespace ?? '',
    component: NatsComponent.AgentCredentials,
    immutable: false,
    labels: { [TENANT_LABEL]: i.tenantName, [AGENT_LABEL]: i.agent.metadata.name },
    annotations: {
      [Annotation.User]: user.publicKey,
      [PUBLIC_KEY_ANNOTATION]: user.publicKey,
      [Annotation.Version]: String(i.version),
      [Annotation.IssuedAt]: issuedAt.toISOString(),
      ...(expiresAt ? { [Annotation.ExpiresAt]: expiresAt.toISOString() } : {}),
    },
    data: {
      'agent.creds': formatCreds(jwt, user.seed),
      'ca.crt': i.caPem,
      'tenant-uid': i.tenantUID,
      'agent-name': i.agent.metadata.name,
      ...(i.url ? { 'nats-url': i.url } : {}),
    },
  });
  secret.metadata.ownerReferences = [controllerRef(i.agent)];
  const record: AgentRecord = {
    user: user.publicKey,
    version: i.version,
    issuedAt: issuedAt.toISOString(),
    ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
    trigger: i.agent.spec.credentialRotationTrigger ?? '',
    retired: usersToRevoke(i.previous, true),
  };
  return { secret, record };
}
