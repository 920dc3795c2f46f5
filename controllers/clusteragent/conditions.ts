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
  AgentLimitReached: 'AgentLimitReached',
  Suspended: 'Suspended',
  IssueFailed: 'IssueFailed',
  HeartbeatReceived: 'HeartbeatReceived',
  HeartbeatMissed: 'HeartbeatMissed',
  NeverConnected: 'NeverConnected',
} as const;

/** Revokes the agent's NATS user before the ClusterAgent goes away. */
export const AGENT_FINALIZER = 'palisade.dev/clusteragent-revocation';
/** On the credentials Secret: which ClusterAgent it belongs to. */
export const AGENT_LABEL = 'palisade.dev/cluster-agent';
export const Annotation = {
  User: 'palisade.dev/nats-user',
  PreviousUser: 'palisade.dev/previous-nats-user',
  Version: 'palisade.dev/credentials-version',
  IssuedAt: 'palisade.dev/credentials-issued-at',
  ExpiresAt: 'palisade.dev/credentials-expires-at',
  Trigger: 'palisade.dev/rotation-trigger',
} as const;
