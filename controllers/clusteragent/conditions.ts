/** Condition types and reasons of a ClusterAgent: stable API, documented in docs/messaging.md. */
export const AgentCondition = {
  Ready: 'Ready',
  CredentialsReady: 'CredentialsReady',
  Connected: 'Connected',
} as const;

export const AgentReason = {
  Ready: 'AgentReady',
  CredentialsIssued: 'CredentialsIssued',
  /** Event: the delivered credentials Secret's CA bundle now follows a rotated internal CA. */
  TrustUpdated: 'TrustUpdated',
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
  /** Pairing mode: an agent redeemed the code and holds a current client certificate. */
  Paired: 'Paired',
  /** Pairing mode: a code is waiting to be redeemed. */
  AwaitingPairing: 'AwaitingPairing',
  /** Pairing mode: the code expired before anyone redeemed it. */
  PairingExpired: 'PairingExpired',
  /** Pairing mode: the paired agent let its client certificate expire. */
  CertificateExpired: 'CertificateExpired',
  /** Pairing mode: this operator cannot make codes yet (no cluster channel, or the hash salt unread). */
  PairingUnavailable: 'PairingUnavailable',
  /** Messaging is off: a Secret-mode agent (NATS credentials) cannot be served; pairing mode can. */
  MessagingDisabled: 'MessagingDisabled',
} as const;

/** Revokes the agent's NATS user before the ClusterAgent goes away. */
export const AGENT_FINALIZER = 'palisade.dev/clusteragent-revocation';
export const Annotation = {
  User: 'palisade.dev/nats-user',
  Version: 'palisade.dev/credentials-version',
  IssuedAt: 'palisade.dev/credentials-issued-at',
  ExpiresAt: 'palisade.dev/credentials-expires-at',
} as const;
