import { parseDuration } from '../../crds/v1alpha1/index.ts';
import type { ClusterAgent } from '../../crds/v1alpha1/index.ts';
import { agentUserJwt, createKeyPair, formatCreds, type NKeyPair } from '../messaging/index.ts';
import { NatsComponent, natsSecret, PUBLIC_KEY_ANNOTATION } from '../nats/secrets.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { controllerRef, TENANT_LABEL } from '../runtime/objects.ts';
import { AGENT_LABEL, Annotation } from './conditions.ts';

export type CredentialsPlan =
  | { kind: 'keep' }
  | { kind: 'suspend' }
  | { kind: 'issue'; why: 'initial' | 'period' | 'trigger' | 'revoked' };

/** The credentials Secret of a ClusterAgent: `<name>-nats-creds` in its namespace. */
export function credentialsSecretName(agent: ClusterAgent): string {
  return `${agent.metadata.name}-nats-creds`;
}

export function issuedAtOf(secret: Secret | undefined): number | undefined {
  const v = Date.parse(secret?.metadata.annotations?.[Annotation.IssuedAt] ?? '');
  return Number.isNaN(v) ? undefined : v;
}

/** When the current credentials are due for rotation by period (ms), if a period is set. */
export function rotationDue(agent: ClusterAgent, secret: Secret | undefined): number | undefined {
  const issued = issuedAtOf(secret);
  if (!agent.spec.credentialRotationPeriod || issued === undefined) return undefined;
  return issued + parseDuration(agent.spec.credentialRotationPeriod);
}

/** What to do with the agent's credentials; pure. `revoked` holds the tenant's revoked users. */
export function planCredentials(
  agent: ClusterAgent,
  secret: Secret | undefined,
  revoked: ReadonlySet<string>,
  now: Date,
): CredentialsPlan {
  const user = secret?.metadata.annotations?.[Annotation.User];
  if (agent.spec.suspended) return { kind: 'suspend' };
  if (!secret || !user) return { kind: 'issue', why: 'initial' };
  if (revoked.has(user)) return { kind: 'issue', why: 'revoked' };
  const trigger = agent.spec.credentialRotationTrigger ?? '';
  if ((secret.metadata.annotations?.[Annotation.Trigger] ?? '') !== trigger)
    return { kind: 'issue', why: 'trigger' };
  const due = rotationDue(agent, secret);
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
  previousUser?: string;
}

export interface Issued {
  secret: Secret;
  user: string;
  issuedAt: Date;
  expiresAt?: Date;
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
      [Annotation.Trigger]: i.agent.spec.credentialRotationTrigger ?? '',
      ...(i.previousUser ? { [Annotation.PreviousUser]: i.previousUser } : {}),
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
  return { secret, user: user.publicKey, issuedAt, ...(expiresAt ? { expiresAt } : {}) };
}
