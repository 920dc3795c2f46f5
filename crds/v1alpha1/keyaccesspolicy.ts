/**
 * KeyAccessPolicy: who may use the key service, for what, on which tenants' keys. Cluster-scoped, so only
 * the platform engineer (never a tenant, through anything in its namespace) grants access to a tenant's
 * data. The key service denies every call no policy allows.
 */
import { arrayOf, objectOf, oneOf, str } from '../schema/schema.ts';
import type { Typed } from '../schema/schema.ts';
import {
  AGE_COLUMN,
  CERT_DNS_NAME_PATTERN,
  DNS_LABEL_PATTERN,
  DNS_SUBDOMAIN_PATTERN,
  GROUP,
  READY_COLUMN,
  REASON_COLUMN,
  VERSION,
  conditionsSchema,
  customResourceDefinition,
  objectNameSchema,
  observedGenerationSchema,
} from './common.ts';
import type { Condition, ObjectMeta, ResourceInfo } from './common.ts';

/**
 * The key service's operations a policy can allow (a batch form needs its single form's operation). The
 * first four use a TenantKey (and obey `keys`); the others use the installation's hash salt and JWT
 * signing key for the tenant (`keys` does not limit them).
 */
export const KEY_OPERATIONS = [
  'Encrypt',
  'Decrypt',
  'GenerateDataKey',
  'Rewrap',
  'BlindIndex',
  'HashPassword',
  'VerifyPassword',
  'IssueToken',
] as const;
export type KeyOperation = (typeof KEY_OPERATIONS)[number];

/** At most this many subjects, tenants or keys in one policy. */
export const MAX_POLICY_ENTRIES = 100;

export const KeyAccessPolicyResource: ResourceInfo<'KeyAccessPolicy'> = {
  group: GROUP,
  version: VERSION,
  kind: 'KeyAccessPolicy',
  plural: 'keyaccesspolicies',
  scope: 'Cluster',
};

export interface KeyAccessPolicy {
  apiVersion: `${typeof GROUP}/${typeof VERSION}`;
  kind: 'KeyAccessPolicy';
  metadata: ObjectMeta;
  spec: KeyAccessPolicySpec;
  status?: KeyAccessPolicyStatus;
}

export interface KeyAccessPolicySpec {
  subjects: KeySubject[];
  tenants: string[];
  keys?: string[];
  operations: KeyOperation[];
}

/** Exactly one of its fields. */
export interface KeySubject {
  serviceAccount?: ServiceAccountSubject;
  certificate?: CertificateSubject;
}

export interface ServiceAccountSubject {
  namespace: string;
  name: string;
}

export interface CertificateSubject {
  dnsName: string;
}

export interface KeyAccessPolicyStatus {
  observedGeneration?: number;
  conditions?: Condition[];
}

const serviceAccount = objectOf<ServiceAccountSubject>()({
  description:
    'A Kubernetes ServiceAccount, proven by a token (TokenReview) with the audience the key service expects.',
  properties: {
    namespace: str({
      description: "The ServiceAccount's namespace.",
      minLength: 1,
      maxLength: 63,
      pattern: DNS_LABEL_PATTERN,
    }),
    name: objectNameSchema("The ServiceAccount's name."),
  },
  required: ['namespace', 'name'],
});

const certificate = objectOf<CertificateSubject>()({
  description:
    'A client certificate of the internal CA carrying this DNS name (e.g. from an internal CertificateBinding ' +
    'in the caller\u2019s namespace: the CA signs a namespace\u2019s service names only for that namespace).',
  properties: {
    dnsName: str({
      description: 'A DNS name the certificate carries (exactly; a wildcard matches only itself).',
      minLength: 1,
      maxLength: 253,
      pattern: CERT_DNS_NAME_PATTERN,
    }),
  },
  required: ['dnsName'],
});

const subject = objectOf<KeySubject>()({
  description: 'One caller identity: exactly one of serviceAccount and certificate.',
  properties: { serviceAccount, certificate },
  rules: [
    {
      rule: '[has(self.serviceAccount), has(self.certificate)].filter(x, x).size() == 1',
      message: 'a subject names exactly one of serviceAccount and certificate',
    },
  ],
});

const spec = objectOf<KeyAccessPolicySpec>()({
  description: 'Which identities may do which operations with which tenants\u2019 keys.',
  properties: {
    subjects: arrayOf(subject, {
      description: 'The identities this policy applies to.',
      minItems: 1,
      maxItems: MAX_POLICY_ENTRIES,
    }),
    tenants: arrayOf(
      str({
        description: 'A Tenant name.',
        minLength: 1,
        maxLength: 253,
        pattern: DNS_SUBDOMAIN_PATTERN,
      }),
      {
        description: 'The Tenants (by name) whose keys the subjects may use. No wildcard: list each tenant.',
        minItems: 1,
        maxItems: MAX_POLICY_ENTRIES,
        'x-kubernetes-list-type': 'set',
      },
    ),
    keys: arrayOf(objectNameSchema('A TenantKey name.'), {
      description:
        'Only these TenantKeys of those tenants (by name). Absent: every TenantKey of theirs. Limits ' +
        'Encrypt, Decrypt, GenerateDataKey and Rewrap only.',
      maxItems: MAX_POLICY_ENTRIES,
      'x-kubernetes-list-type': 'set',
    }),
    operations: arrayOf(oneOf(KEY_OPERATIONS, { description: 'A key service operation.' }), {
      description:
        'What the subjects may do: Encrypt, Decrypt, GenerateDataKey, Rewrap (tenant data); BlindIndex, ' +
        'HashPassword, VerifyPassword (the hash salt); IssueToken (access and refresh tokens). A batch ' +
        'call needs the operation of its single form.',
      minItems: 1,
      maxItems: KEY_OPERATIONS.length,
      'x-kubernetes-list-type': 'set',
    }),
  },
  required: ['subjects', 'tenants', 'operations'],
});

const status: Typed<KeyAccessPolicyStatus> = objectOf<KeyAccessPolicyStatus>()({
  description: 'The observed state of the policy, written by Palisade.',
  properties: {
    observedGeneration: observedGenerationSchema(),
    conditions: conditionsSchema(),
  },
});

export const keyAccessPolicyCRD = customResourceDefinition<KeyAccessPolicy>({
  resource: KeyAccessPolicyResource,
  shortNames: ['kap'],
  description:
    'Grants identities (ServiceAccounts, internal-CA client certificates) operations of the key service on ' +
    'the keys of the named Tenants. The key service denies every call no policy allows; a change takes ' +
    'effect within seconds on every replica.',
  spec,
  status,
  printerColumns: [
    {
      name: 'Tenants',
      type: 'string',
      jsonPath: '.spec.tenants',
      description: 'The Tenants whose keys it grants.',
    },
    {
      name: 'Operations',
      type: 'string',
      jsonPath: '.spec.operations',
      description: 'The operations it grants.',
    },
    READY_COLUMN,
    REASON_COLUMN,
    AGE_COLUMN,
  ],
});
