/**
 * Tenant: the cluster-scoped root of a tenant. Palisade gives it a random 48-bit UID, a namespace
 * (`tenant-<name>` unless set), a primary TenantKey and a NATS account with the given limits.
 */
import { arrayOf, dateTime, int, objectOf, oneOf, str } from '../schema/schema.ts';
import type { Typed } from '../schema/schema.ts';
import {
  AGE_COLUMN,
  CERT_DNS_NAME_PATTERN,
  DNS_LABEL_PATTERN,
  GROUP,
  READY_COLUMN,
  REASON_COLUMN,
  TENANT_UID_PATTERN,
  VERSION,
  conditionsSchema,
  customResourceDefinition,
  immutableRule,
  objectNameSchema,
  observedGenerationSchema,
} from './common.ts';
import type { Condition, ObjectMeta, ResourceInfo } from './common.ts';
import { keyAlgorithmSchema, retainedVersionsSchema, rotationPeriodSchema } from './tenantkey.ts';
import type { KeyAlgorithm } from './tenantkey.ts';

/** Retain (the default) keeps the namespace and its key material when the Tenant is deleted. */
export const DELETION_POLICIES = ['Retain', 'Delete'] as const;
export type DeletionPolicy = (typeof DELETION_POLICIES)[number];
export const DEFAULT_DELETION_POLICY: DeletionPolicy = 'Retain';

/** Tenant names are at most this long, so that `tenant-<name>` is a valid namespace name (63). */
export const MAX_TENANT_NAME_LENGTH = 56;
/** The namespace of a Tenant that does not set spec.namespace is this prefix + its name. */
export const TENANT_NAMESPACE_PREFIX = 'tenant-';

/** At most this many entries in spec.certificates.allowedDNSNames. */
export const MAX_ALLOWED_DNS_NAMES = 100;

/** NATS allows payloads of at most 64 MiB. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

export const TenantResource: ResourceInfo<'Tenant'> = {
  group: GROUP,
  version: VERSION,
  kind: 'Tenant',
  plural: 'tenants',
  scope: 'Cluster',
};

export interface Tenant {
  apiVersion: `${typeof GROUP}/${typeof VERSION}`;
  kind: 'Tenant';
  metadata: ObjectMeta;
  spec: TenantSpec;
  status?: TenantStatus;
}

/** Fields read from the API server are defaulted: non-optional fields here are always present. */
export interface TenantSpec {
  displayName?: string;
  namespace?: string;
  deletionPolicy: DeletionPolicy;
  keyPolicy: TenantKeyPolicy;
  messaging: TenantMessaging;
  certificates?: TenantCertificates;
}

/** What Palisade's internal CA may sign for the tenant beyond its own namespace's service names. */
export interface TenantCertificates {
  allowedDNSNames?: string[];
}

/** The policy of the tenant's primary TenantKey. */
export interface TenantKeyPolicy {
  algorithm: KeyAlgorithm;
  rotationPeriod?: string;
  retainedVersions: number;
}

/** Limits of the tenant's NATS account; -1 means unlimited. */
export interface TenantMessaging {
  maxConnections: number;
  maxSubscriptions: number;
  maxPayloadBytes: number;
  maxDataBytes: number;
  maxAgents: number;
}

export interface TenantStatus {
  uid?: string;
  namespace?: string;
  primaryKey?: string;
  natsAccount?: TenantNatsAccount;
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface TenantNatsAccount {
  publicKey?: string;
  lastPushed?: string;
  jwtIssuedAt?: string;
}

const keyPolicy = objectOf<TenantKeyPolicy>()({
  description:
    "The policy of the tenant's primary TenantKey, which Palisade creates and keeps in line with it.",
  default: {},
  properties: {
    algorithm: keyAlgorithmSchema(),
    rotationPeriod: rotationPeriodSchema(),
    retainedVersions: retainedVersionsSchema(),
  },
});

const limit = (description: string, dflt: number, maximum?: number) =>
  int({ description, minimum: -1, default: dflt, ...(maximum === undefined ? {} : { maximum }) });

const messaging = objectOf<TenantMessaging>()({
  description: "Limits of the tenant's NATS account. -1 means unlimited.",
  default: {},
  properties: {
    maxConnections: limit('Most concurrent client connections to the account.', -1),
    maxSubscriptions: limit('Most subscriptions across the account.', -1),
    maxPayloadBytes: limit('Largest message payload, in bytes (at most 64 MiB).', 1048576, MAX_PAYLOAD_BYTES),
    maxDataBytes: limit('Most bytes of message data for the account (the NATS "data" limit).', -1),
    maxAgents: int({
      description: 'Most ClusterAgents (NATS users) the tenant may have.',
      format: 'int32',
      minimum: 0,
      default: 100,
    }),
  },
});

const ALLOWED = 'spec.certificates.allowedDNSNames';

const allowedDNSName = str({
  description: 'A DNS name, or "*.<domain>" for every name below <domain> (at any depth).',
  maxLength: 253,
  pattern: CERT_DNS_NAME_PATTERN,
  rules: [
    {
      rule: "self.contains('.')",
      messageExpression: `'${ALLOWED}: ' + self + ' is a single-label name, which means a different service in every namespace; give a fully qualified name'`,
    },
    {
      rule: "!self.startsWith('*.') || self.substring(2).contains('.')",
      messageExpression: `'${ALLOWED}: ' + self + ' is too wide: a wildcard must sit below a domain of at least two labels, such as *.acme.example.com'`,
    },
    {
      rule: "!self.endsWith('.svc') && !self.endsWith('.cluster.local') && self != 'cluster.local'",
      messageExpression: `'${ALLOWED}: ' + self + ' is an in-cluster name: a tenant gets the service names of its own namespace without listing them, and never those of another namespace'`,
    },
    {
      rule: "!(self == 'kubernetes.default' || self.startsWith('kubernetes.default.'))",
      messageExpression: `'${ALLOWED}: ' + self + ' is a name of the Kubernetes API server, which Palisade issues to no tenant'`,
    },
  ],
});

const certificates = objectOf<TenantCertificates>()({
  description:
    "What Palisade's internal CA may sign for this tenant's CertificateBindings. Without it, a binding in " +
    "the tenant's namespace gets only that namespace's service names (<svc>.<ns>, <svc>.<ns>.svc, " +
    '<svc>.<ns>.svc.cluster.local).',
  properties: {
    allowedDNSNames: arrayOf(allowedDNSName, {
      description:
        'More names the tenant may have certified: exact names, or "*.<domain>" for every name below ' +
        "<domain>. Never honoured for Palisade's own service names, the Kubernetes API server's, or " +
        "another Tenant's namespace's.",
      maxItems: MAX_ALLOWED_DNS_NAMES,
      'x-kubernetes-list-type': 'set',
    }),
  },
});

const spec = objectOf<TenantSpec>()({
  description: 'The desired tenant.',
  default: {},
  properties: {
    displayName: str({ description: 'A human-friendly name, for display only.', maxLength: 128 }),
    namespace: str({
      description:
        `The tenant's namespace. Defaults to ${TENANT_NAMESPACE_PREFIX}<name>. ` +
        'Set only at creation: it cannot be added, changed or removed afterwards.',
      minLength: 1,
      maxLength: 63,
      pattern: DNS_LABEL_PATTERN,
      rules: [
        immutableRule('namespace'),
        {
          rule: "self != 'default' && !self.startsWith('kube-')",
          messageExpression: "'namespace ' + self + ' is reserved for the system; choose another namespace'",
        },
      ],
    }),
    deletionPolicy: oneOf(DELETION_POLICIES, {
      description:
        'What deleting the Tenant does: Retain (default) keeps its namespace, keys and account; ' +
        'Delete removes them.',
      default: DEFAULT_DELETION_POLICY,
    }),
    keyPolicy,
    messaging,
    certificates,
  },
  rules: [
    {
      rule: 'has(self.namespace) == has(oldSelf.namespace)',
      message: 'namespace cannot be added or removed after creation',
      fieldPath: '.namespace',
      reason: 'FieldValueForbidden',
    },
  ],
});

const natsAccount = objectOf<TenantNatsAccount>()({
  description: "The tenant's NATS account.",
  properties: {
    publicKey: str({ description: 'The account public nkey (starts with A).' }),
    lastPushed: dateTime('When the account JWT was last accepted by the NATS resolver.'),
    jwtIssuedAt: dateTime('The issued-at time of the current account JWT.'),
  },
});

const status: Typed<TenantStatus> = objectOf<TenantStatus>()({
  description: 'The observed state of the tenant, written by Palisade.',
  properties: {
    uid: str({
      description: 'The tenant UID: 12 lowercase hex characters (48 random bits). Immutable once assigned.',
      pattern: TENANT_UID_PATTERN,
    }),
    namespace: str({ description: "The tenant's namespace." }),
    primaryKey: objectNameSchema("Name of the tenant's primary TenantKey, in its namespace."),
    natsAccount,
    observedGeneration: observedGenerationSchema(),
    conditions: conditionsSchema(),
  },
  rules: [
    {
      rule: '!has(oldSelf.uid) || (has(self.uid) && self.uid == oldSelf.uid)',
      message: 'uid is immutable once assigned',
      fieldPath: '.uid',
      reason: 'FieldValueForbidden',
    },
  ],
});

export const tenantCRD = customResourceDefinition<Tenant>({
  resource: TenantResource,
  shortNames: ['tn'],
  description:
    'A tenant of the platform: its UID, namespace, key policy, messaging limits and deletion policy. ' +
    `The name must be a DNS label of at most ${MAX_TENANT_NAME_LENGTH} characters.`,
  spec,
  status,
  rules: [
    {
      rule: `self.metadata.name.size() <= ${MAX_TENANT_NAME_LENGTH}`,
      message: `Tenant name must be at most ${MAX_TENANT_NAME_LENGTH} characters so that ${TENANT_NAMESPACE_PREFIX}<name> is a valid namespace name`,
    },
    {
      rule: `self.metadata.name.matches('${DNS_LABEL_PATTERN}')`,
      message: 'Tenant name must be a DNS label: lowercase letters, digits and "-", no dots',
    },
  ],
  printerColumns: [
    { name: 'UID', type: 'string', jsonPath: '.status.uid', description: 'The tenant UID.' },
    {
      name: 'Namespace',
      type: 'string',
      jsonPath: '.status.namespace',
      description: "The tenant's namespace.",
    },
    { name: 'Policy', type: 'string', jsonPath: '.spec.deletionPolicy', description: 'The deletion policy.' },
    READY_COLUMN,
    REASON_COLUMN,
    AGE_COLUMN,
    { name: 'Display Name', type: 'string', jsonPath: '.spec.displayName', priority: 1 },
    { name: 'Primary Key', type: 'string', jsonPath: '.status.primaryKey', priority: 1 },
  ],
});
