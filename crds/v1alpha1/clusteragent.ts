/**
 * ClusterAgent: the management agent of one tenant cluster. Palisade gives it its own NATS user, scoped
 * to the tenant's subjects, with credentials in a Secret; heartbeats and reports show up in status.
 */
import { bool, dateTime, int, mapOf, objectOf, oneOf, str } from '../schema/schema.ts';
import type { Typed } from '../schema/schema.ts';
import {
  AGE_COLUMN,
  DNS_LABEL_PATTERN,
  GROUP,
  READY_COLUMN,
  REASON_COLUMN,
  TENANT_LABEL,
  TENANT_UID_PATTERN,
  VERSION,
  celIsDuration,
  conditionsSchema,
  customResourceDefinition,
  durationSchema,
  objectNameSchema,
  observedGenerationSchema,
} from './common.ts';
import type { Condition, ObjectMeta, ResourceInfo } from './common.ts';

export const AGENT_HEALTH = ['Healthy', 'Degraded', 'Unhealthy', 'Unknown'] as const;
export type AgentHealth = (typeof AGENT_HEALTH)[number];
export const DEFAULT_HEARTBEAT_DEADLINE = '90s';
export const MIN_HEARTBEAT_DEADLINE = '10s';
export const MIN_CREDENTIAL_ROTATION_PERIOD = '1h';
export const DEFAULT_PAIRING_TTL = '15m';
export const MIN_PAIRING_TTL = '10s';
export const MAX_PAIRING_TTL = '24h';
export const MAX_PAIRING_USES = 10;
export const PAIRING_STATES = ['Pending', 'Paired', 'Expired'] as const;
export type PairingState = (typeof PAIRING_STATES)[number];

export const ClusterAgentResource: ResourceInfo<'ClusterAgent'> = {
  group: GROUP,
  version: VERSION,
  kind: 'ClusterAgent',
  plural: 'clusteragents',
  scope: 'Namespaced',
};

export interface ClusterAgent {
  apiVersion: `${typeof GROUP}/${typeof VERSION}`;
  kind: 'ClusterAgent';
  metadata: ObjectMeta;
  spec: ClusterAgentSpec;
  status?: ClusterAgentStatus;
}

/** Fields read from the API server are defaulted: non-optional fields here are always present. */
export interface ClusterAgentSpec {
  clusterName: string;
  heartbeatDeadline: string;
  credentialRotationPeriod?: string;
  credentialRotationTrigger?: string;
  suspended: boolean;
  /**
   * Pairing mode: the remote agent makes its own keys and redeems a one-time code for its credentials;
   * no seed-bearing credentials Secret is written in the management cluster.
   */
  pairing?: ClusterAgentPairing;
}

export interface ClusterAgentPairing {
  ttl: string;
  uses: number;
  /** An opaque token: a new value makes a new code (the old one stops working). */
  requestedAt?: string;
}

/** The code's public facts; never the code. */
export interface ClusterAgentPairingStatus {
  codeID?: string;
  state?: PairingState;
  expiresAt?: string;
  usesLeft?: number;
  /** The Secret in this namespace that shows the code once, while it can be used. */
  codeSecret?: string;
  pairedAt?: string;
  /** The agent's current mTLS client certificate: serial (hex) and expiry. */
  certificateSerial?: string;
  certificateNotAfter?: string;
}

export interface ClusterAgentStatus {
  tenantUID?: string;
  credentialsSecret?: string;
  userPublicKey?: string;
  credentialsIssuedAt?: string;
  credentialsVersion?: number;
  lastHeartbeat?: string;
  health?: AgentHealth;
  statistics?: Record<string, string>;
  pairing?: ClusterAgentPairingStatus;
  observedGeneration?: number;
  conditions?: Condition[];
}

const pairing = objectOf<ClusterAgentPairing>()({
  description:
    'Pair a remote agent with a one-time code instead of writing its NATS credentials into a Secret here: ' +
    'the agent makes its own NATS user key and TLS key, redeems the code with only their public keys, and ' +
    'receives a signed NATS user JWT and an mTLS client certificate for the cluster channel. The code is ' +
    `shown once, in the Secret <name>-pairing-code, until it is used up or expires.`,
  properties: {
    ttl: durationSchema({
      description: `How long a code can be redeemed (at least ${MIN_PAIRING_TTL}, at most ${MAX_PAIRING_TTL}).`,
      default: DEFAULT_PAIRING_TTL,
      min: MIN_PAIRING_TTL,
    }),
    uses: int({
      description: 'How many agents may redeem one code (each gets its own credentials; normally 1).',
      minimum: 1,
      maximum: MAX_PAIRING_USES,
      default: 1,
    }),
    requestedAt: str({
      description:
        'An opaque token (e.g. a timestamp): changing it to a new value makes a new code, and the old one stops working.',
      maxLength: 253,
    }),
  },
  rules: [
    {
      rule: `!${celIsDuration('self.ttl')} || duration(self.ttl) <= duration('${MAX_PAIRING_TTL}')`,
      message: `pairing.ttl must be at most ${MAX_PAIRING_TTL}`,
    },
  ],
});

const pairingStatus = objectOf<ClusterAgentPairingStatus>()({
  description: 'The pairing code and the paired certificate, by their public facts only (never the code).',
  properties: {
    codeID: str({ description: 'The public ID of the current code (for audit; not the code).' }),
    state: oneOf(PAIRING_STATES, { description: 'Pending (redeemable), Paired, or Expired.' }),
    expiresAt: dateTime('When the current code stops working.'),
    usesLeft: int({ description: 'How many more times the code can be redeemed.', minimum: 0 }),
    codeSecret: objectNameSchema('The Secret in this namespace that shows the code while it is Pending.'),
    pairedAt: dateTime('When an agent last redeemed a code or renewed its credentials.'),
    certificateSerial: str({
      description:
        "The serial of the agent's current client certificate, in hex as openssl shows it (upper case, whole bytes).",
    }),
    certificateNotAfter: dateTime("When the agent's current client certificate expires."),
  },
});

const spec = objectOf<ClusterAgentSpec>()({
  description: 'The desired agent.',
  properties: {
    clusterName: str({
      description: 'The name of the tenant cluster this agent runs in, as the platform knows it.',
      minLength: 1,
      maxLength: 253,
    }),
    heartbeatDeadline: durationSchema({
      description:
        'The agent is Unhealthy when no heartbeat arrived for this long (a Go duration, ' +
        `at least ${MIN_HEARTBEAT_DEADLINE}).`,
      default: DEFAULT_HEARTBEAT_DEADLINE,
      min: MIN_HEARTBEAT_DEADLINE,
    }),
    credentialRotationPeriod: durationSchema({
      description:
        `Reissue the agent's credentials when they are this old (at least ${MIN_CREDENTIAL_ROTATION_PERIOD}). ` +
        'Unset: only on a credentialRotationTrigger change.',
      min: MIN_CREDENTIAL_ROTATION_PERIOD,
    }),
    credentialRotationTrigger: str({
      description: "An opaque token: changing it to a new value reissues the agent's credentials once.",
      maxLength: 253,
    }),
    suspended: bool({
      description:
        "While true, the agent's credentials are revoked and it is disconnected; setting it back to false issues new ones.",
      default: false,
    }),
    pairing,
  },
  required: ['clusterName'],
});

const status: Typed<ClusterAgentStatus> = objectOf<ClusterAgentStatus>()({
  description: 'The observed state of the agent, written by Palisade.',
  properties: {
    tenantUID: str({ description: 'UID of the Tenant the agent belongs to.', pattern: TENANT_UID_PATTERN }),
    credentialsSecret: objectNameSchema(
      'Name of the Secret holding the NATS credentials, in this namespace.',
    ),
    userPublicKey: str({ description: "The agent's NATS user public nkey (starts with U)." }),
    credentialsIssuedAt: dateTime('When the current credentials were issued.'),
    credentialsVersion: int({
      description: 'Counts credential issues, from 1 upwards.',
      minimum: 0,
    }),
    lastHeartbeat: dateTime('When the agent was last heard from (written at a coarse interval).'),
    health: oneOf(AGENT_HEALTH, { description: 'Healthy, Degraded, Unhealthy or Unknown.' }),
    statistics: mapOf(
      str({ description: 'A statistic as reported.' }),
      'Statistics last reported by the agent (name to value).',
    ),
    pairing: pairingStatus,
    observedGeneration: observedGenerationSchema(),
    conditions: conditionsSchema(),
  },
});

export const clusterAgentCRD = customResourceDefinition<ClusterAgent>({
  resource: ClusterAgentResource,
  shortNames: ['cagent'],
  description:
    `The management agent of one tenant cluster, in the tenant's namespace (labelled ${TENANT_LABEL}). ` +
    'It gets dedicated NATS credentials; its heartbeats and reports show in status. ' +
    'The name must be a DNS label: it becomes part of NATS subjects.',
  spec,
  status,
  rules: [
    {
      rule: `self.metadata.name.size() <= 63 && self.metadata.name.matches('${DNS_LABEL_PATTERN}')`,
      message:
        'ClusterAgent name must be a DNS label (at most 63 lowercase letters, digits and "-", no dots)',
    },
  ],
  printerColumns: [
    { name: 'Cluster', type: 'string', jsonPath: '.spec.clusterName', description: 'The tenant cluster.' },
    {
      name: 'Connected',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Connected")].status',
      description: 'Status of the Connected condition.',
    },
    { name: 'Health', type: 'string', jsonPath: '.status.health', description: 'Health as last reported.' },
    {
      name: 'Last Heartbeat',
      type: 'date',
      jsonPath: '.status.lastHeartbeat',
      description: 'When the agent was last heard from.',
    },
    READY_COLUMN,
    REASON_COLUMN,
    AGE_COLUMN,
    { name: 'Suspended', type: 'boolean', jsonPath: '.spec.suspended', priority: 1 },
    { name: 'Credentials', type: 'integer', jsonPath: '.status.credentialsVersion', priority: 1 },
    { name: 'Pairing', type: 'string', jsonPath: '.status.pairing.state', priority: 1 },
  ],
});
