import type { ClusterAgent } from '../../crds/v1alpha1/index.ts';
import { addRevocations, type RevocationEntry } from '../nats/revocations.ts';
import type { AgentDeps } from './deps.ts';
import type { AgentRecord } from './record.ts';
import { usersToRevoke } from './record.ts';

/**
 * Adds users of the agent's record to the tenant's revocation list in the keystore (the Tenant controller
 * pushes it): the retired ones always, the current one too when the agent is suspended or deleted.
 * Returns how many were added.
 */
export async function revoke(
  d: AgentDeps,
  agent: ClusterAgent,
  uid: string,
  record: AgentRecord | undefined,
  withCurrent: boolean,
  revoked: ReadonlySet<string>,
): Promise<number> {
  const users = usersToRevoke(record, withCurrent).filter((u) => !revoked.has(u.user));
  if (users.length === 0) return 0;
  const at = Math.floor(d.env.now().getTime() / 1000);
  const add: Record<string, RevocationEntry> = {};
  for (const u of users) add[u.user] = { at, ...(u.exp !== undefined ? { exp: u.exp } : {}) };
  const namespace = agent.metadata.namespace ?? '';
  const added = await addRevocations(
    { client: d.client, now: () => d.env.now(), keystore: d.keystore },
    uid,
    namespace,
    add,
  );
  if (!added) return 0;
  const why = agent.metadata.deletionTimestamp ? 'deleted' : agent.spec.suspended ? 'suspended' : 'rotated';
  const names = users.map((u) => `${u.user.slice(0, 8)}…`).join(', ');
  d.events.record(
    agent,
    'Normal',
    'CredentialsRevoked',
    'Revoke',
    `revoked NATS user(s) ${names} (agent ${why})`,
  );
  d.audit.record({
    action: 'nats.credentials.revoke',
    outcome: 'Success',
    resource: { kind: 'ClusterAgent', name: agent.metadata.name, namespace, uid: agent.metadata.uid },
    tenantUID: uid,
    reason: why,
  });
  return users.length;
}
