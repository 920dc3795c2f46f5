/** Condition types and reasons of a ClusterAgent: stable API, documented in docs/messaging.md. */
export const AgentCondition = {
  Ready: 'Ready',
  CredentialsReady: 'CredentialsReady',
  Connected: 'Connected',
} as const;

export const AgentReason = {
  Ready: 'AgentReady',
  CredentialsIssued: 'CredentialsIssued',
  TenantNotReady: 'TenantNotReady',
  /** The ClusterAgent is not in any tenant's namespace: it never will be ready there. */
  TenantNotFound: 'TenantNotFound',
  AgentLimitReached: 'AgentLimitReached',
  Suspended: 'Suspended',
  /** The credentials Secret's name is taken by a Secret this agent does not own. */
  SecretConflict: 'SecretConflict',
  HeartbeatReceived: 'HeartbeatReceived',
  HeartbeatMissed: 'HeartbeatMissed',
  NeverConnected: 'NeverConnected',
} as const;

/** Revokes the agent's NATS user before the ClusterAgent goes away. */
export const AGENT_FINALIZER = 'palisade.dev/clusteragent-revocation';
export const Annotation = {
  User: 'palisade.dev/nats-user',
  Version: 'palisade.dev/credentials-version',
  IssuedAt: 'palisade.dev/credentials-issued-at',
  ExpiresAt: 'palisade.dev/credentials-expires-at',
} as const;
