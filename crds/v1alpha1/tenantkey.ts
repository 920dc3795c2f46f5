/**
 * TenantKey: a versioned 256-bit data key of one tenant, living in the tenant's namespace. Key bytes are
 * only ever stored wrapped by the installation's root key; status lists versions by ID and fingerprint.
 */
import { arrayOf, dateTime, int, objectOf, oneOf, str } from '../schema/schema.ts';
import type { Typed } from '../schema/schema.ts';
import {
  AGE_COLUMN,
  GROUP,
  READY_COLUMN,
  REASON_COLUMN,
  TENANT_UID_PATTERN,
  VERSION,
  conditionsSchema,
  customResourceDefinition,
  durationSchema,
  immutableRule,
  observedGenerationSchema,
} from './common.ts';
import type { Condition, ObjectMeta, ResourceInfo } from './common.ts';

/** AEADs a TenantKey can be used with. */
export const KEY_ALGORITHMS = ['XChaCha20-Poly1305'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];
export const DEFAULT_KEY_ALGORITHM: KeyAlgorithm = 'XChaCha20-Poly1305';
export const DEFAULT_RETAINED_VERSIONS = 3;
/** The shortest rotation period accepted. */
export const MIN_ROTATION_PERIOD = '1h';

/**
 * States of one key version: Active encrypts (exactly one), DecryptOnly only decrypts, Disabled is kept
 * (still wrapped, never used, not even to decrypt: outside retainedVersions or below
 * minDecryptionVersion; widening the policy enables it again), Destroyed is gone.
 */
export const KEY_VERSION_STATES = ['Active', 'DecryptOnly', 'Disabled', 'Destroyed'] as const;
export type KeyVersionState = (typeof KEY_VERSION_STATES)[number];

export const TenantKeyResource: ResourceInfo<'TenantKey'> = {
  group: GROUP,
  version: VERSION,
  kind: 'TenantKey',
  plural: 'tenantkeys',
  scope: 'Namespaced',
};

export interface TenantKey {
  apiVersion: `${typeof GROUP}/${typeof VERSION}`;
  kind: 'TenantKey';
  metadata: ObjectMeta;
  spec: TenantKeySpec;
  status?: TenantKeyStatus;
}

/** Fields read from the API server are defaulted: non-optional fields here are always present. */
export interface TenantKeySpec {
  algorithm: KeyAlgorithm;
  rotationPeriod?: string;
  rotationTrigger?: string;
  retainedVersions: number;
  minDecryptionVersion?: number;
  destroyBelowVersion?: number;
}

export interface TenantKeyStatus {
  currentVersion?: number;
  versions?: TenantKeyVersion[];
  tenantUID?: string;
  lastRotationTrigger?: string;
  lastRotationTime?: string;
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface TenantKeyVersion {
  version: number;
  keyId: string;
  fingerprint: string;
  created: string;
  state: KeyVersionState;
  rootKeyVersion: number;
}

/** `algorithm`, shared with Tenant's key policy. */
export function keyAlgorithmSchema() {
  return oneOf(KEY_ALGORITHMS, {
    description: 'The AEAD the key is used with. Immutable.',
    default: DEFAULT_KEY_ALGORITHM,
    rules: [immutableRule('algorithm')],
  });
}

/** `rotationPeriod`, shared with Tenant's key policy. */
export function rotationPeriodSchema() {
  return durationSchema({
    description:
      'Rotate the key when the active version is this old (a Go duration, e.g. 720h). ' +
      `At least ${MIN_ROTATION_PERIOD}. Unset: rotate only on a rotationTrigger change.`,
    min: MIN_ROTATION_PERIOD,
  });
}

/** `retainedVersions`, shared with Tenant's key policy. */
export function retainedVersionsSchema() {
  return int({
    description:
      'How many versions before the active one stay decrypt-only; older ones are Disabled (kept, not used), ' +
      'and destroyed only by destroyBelowVersion.',
    format: 'int32',
    minimum: 1,
    maximum: 100,
    default: DEFAULT_RETAINED_VERSIONS,
  });
}

const keyVersion = (description: string) =>
  int({ description, format: 'int32', minimum: 1, maximum: 2147483647 });

const spec = objectOf<TenantKeySpec>()({
  description: 'The desired key: algorithm, rotation and retention of old versions.',
  default: {},
  properties: {
    algorithm: keyAlgorithmSchema(),
    rotationPeriod: rotationPeriodSchema(),
    rotationTrigger: str({
      description:
        'An opaque token: changing it to a new value rotates the key once (GitOps-friendly manual rotation).',
      maxLength: 253,
    }),
    retainedVersions: retainedVersionsSchema(),
    minDecryptionVersion: keyVersion('Versions below this one are no longer used, not even to decrypt.'),
    destroyBelowVersion: int({
      description:
        'Versions below this one are destroyed for good. Requires minDecryptionVersion and must not exceed it; ' +
        'cannot be lowered.',
      format: 'int32',
      minimum: 1,
      maximum: 2147483647,
      rules: [
        {
          rule: 'self >= oldSelf',
          message: 'destroyBelowVersion cannot be lowered: destroyed versions cannot be restored',
          reason: 'FieldValueForbidden',
        },
      ],
    }),
  },
  rules: [
    {
      rule: '!has(self.destroyBelowVersion) || has(self.minDecryptionVersion)',
      message:
        'destroyBelowVersion requires minDecryptionVersion: a version must stop decrypting before it is destroyed',
      fieldPath: '.destroyBelowVersion',
      reason: 'FieldValueRequired',
    },
    {
      rule:
        '!has(self.destroyBelowVersion) || !has(self.minDecryptionVersion) || ' +
        'self.destroyBelowVersion <= self.minDecryptionVersion',
      // NB: a static message: string(int) in a messageExpression has an unbounded estimated cost.
      message: 'destroyBelowVersion must not exceed minDecryptionVersion',
      fieldPath: '.destroyBelowVersion',
    },
  ],
});

const version = objectOf<TenantKeyVersion>()({
  description: 'One version of the key. Never carries key material.',
  properties: {
    version: keyVersion('The version number, from 1 upwards.'),
    keyId: str({ description: 'The key ID written into every ciphertext made with this version.' }),
    fingerprint: str({ description: 'A SHA-256 fingerprint identifying the key (not the key itself).' }),
    created: dateTime('When the version was generated.'),
    state: oneOf(KEY_VERSION_STATES, {
      description: 'Active (encrypts and decrypts), DecryptOnly, Disabled (kept, not used), or Destroyed.',
    }),
    rootKeyVersion: int({
      description: 'The version of the root key that currently wraps this version.',
      format: 'int32',
      minimum: 1,
    }),
  },
  required: ['version', 'keyId', 'fingerprint', 'created', 'state', 'rootKeyVersion'],
});

const status: Typed<TenantKeyStatus> = objectOf<TenantKeyStatus>()({
  description: 'The observed state of the key, written by Palisade.',
  properties: {
    currentVersion: int({ description: 'The Active version.', format: 'int32', minimum: 1 }),
    versions: arrayOf(version, {
      description: 'Every version that was generated, newest last.',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['version'],
    }),
    tenantUID: str({ description: 'UID of the Tenant owning this key.', pattern: TENANT_UID_PATTERN }),
    lastRotationTrigger: str({ description: 'The rotationTrigger that was last acted upon.' }),
    lastRotationTime: dateTime('When the key was last rotated.'),
    observedGeneration: observedGenerationSchema(),
    conditions: conditionsSchema(),
  },
});

export const tenantKeyCRD = customResourceDefinition<TenantKey>({
  resource: TenantKeyResource,
  shortNames: ['tk'],
  description:
    "A versioned data key of one tenant, in the tenant's namespace (a Tenant's spec.namespace). Key " +
    "versions are stored wrapped by the root key in Palisade's keystore (the operator's namespace), never " +
    "in status. The name is at most 30 characters: its versions' keystore entries are labelled " +
    '`palisade-key-<tenant UID>-<name>-v<version>`, and a label value holds at most 63.',
  spec,
  status,
  rules: [
    {
      // NB: 28 characters of prefix and UID, the name, "-v" and the version's digits: 30 leaves room for
      // 99,999 versions.
      rule: 'self.metadata.name.size() <= 30',
      message:
        'TenantKey name must be at most 30 characters (palisade-key-<tenant UID>-<name>-v<version> labels the keystore entries of its versions, and a label value holds at most 63)',
    },
  ],
  printerColumns: [
    {
      name: 'Tenant UID',
      type: 'string',
      jsonPath: '.status.tenantUID',
      description: 'UID of the owning Tenant.',
    },
    {
      name: 'Current',
      type: 'integer',
      jsonPath: '.status.currentVersion',
      description: 'The Active version.',
    },
    { name: 'Algorithm', type: 'string', jsonPath: '.spec.algorithm' },
    READY_COLUMN,
    REASON_COLUMN,
    AGE_COLUMN,
    { name: 'Rotation Period', type: 'string', jsonPath: '.spec.rotationPeriod', priority: 1 },
    { name: 'Last Rotation', type: 'date', jsonPath: '.status.lastRotationTime', priority: 1 },
  ],
});
