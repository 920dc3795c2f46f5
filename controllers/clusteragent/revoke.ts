import type { ClusterAgent, Tenant } from '../../crds/v1alpha1/index.ts';
import { addRevocations, type RevocationEntry } from '../nats/revocations.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { Annotation } from './conditions.ts';
import type { AgentDeps } from './reconcile.ts';

/** Adds the agent's current user to the tenant's revocation list (the Tenant controller pushes it). */
export async function revoke(
  d: AgentDeps,
  agent: ClusterAgent,
  tenant: Tenant,
  secret: Secret | undefined,
): Promise<void> {
  const user = secret?.metadata.annotations?.[Annotation.User];
  if (!user) return;
  const exp = Date.parse(secret.metadata.annotations?.[Annotation.ExpiresAt] ?? '');
  const entry: RevocationEntry = {
    at: Math.floor(d.env.now().getTime() / 1000),
    ...(Number.isNaN(exp) ? {} : { exp: Math.floor(exp / 1000) }),
  };
  const added = await addRevocations(
    { client: d.client, now: () => d.env.now() },
    agent.metadata.namespace ?? '',
    tenant.metadata.name,
    { [user]: entry },
  );
  if (added) {
    const why = agent.metadata.deletionTimestamp ? 'deleted' : 'suspended';
    d.events.record(
      agent,
      'Normal',
      'CredentialsRevoked',
      'Revoke',
      `revoked NATS user ${user.slice(0, 8)}… (agent ${why})`,
    );
    d.audit.record({
      action: 'nats.credentials.revoke',
      outcome: 'Success',
      resource: {
        kind: 'ClusterAgent',
        name: agent.metadata.name,
        namespace: agent.metadata.namespace,
        uid: agent.metadata.uid,
      },
      tenantUID: tenant.status?.uid,
      reason: why,
    });
  }
}
