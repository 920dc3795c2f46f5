/**
 * What the objects Palisade caches by the thousand have in common, by kind: the dictionaries its caches
 * compact them against (runtime/store.ts CompactStore). Only what repeats from object to object belongs
 * here (field names, label and annotation keys, condition types, reasons and messages, constant values),
 * in the order the API server sends them; names, UIDs, times and data are placeholders. Nothing here
 * decides anything: a field missing from a dictionary costs a few bytes per object, not correctness.
 * Objects of other kinds are cached as they are.
 */
import {
  ENTRY_KIND_LABEL,
  KEY_UID_LABEL,
  SLOT_LABEL,
  TENANT_NAMESPACE_LABEL,
  TENANTKEY_LABEL,
  VERSION_LABEL,
} from './keystore/entries.ts';
import { ROOT_KEY_VERSION_LABEL } from './nats/secrets.ts';
import {
  COMPONENT_LABEL,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  TENANT_LABEL,
  TENANT_UID_LABEL,
} from './runtime/objects.ts';

const TIME = '2000-01-01T00:00:00Z';
const UID = '00000000-0000-0000-0000-000000000000';
const SHORT_UID = '000000000000';

const condition = (type: string, reason: string, message: string) => ({
  lastTransitionTime: TIME,
  message,
  observedGeneration: 1,
  reason,
  status: 'True',
  type,
});

const secret = (name: string, labels: Record<string, string>, annotations: Record<string, string>) => ({
  kind: 'Secret',
  apiVersion: 'v1',
  metadata: {
    name,
    namespace: 'palisade-system',
    uid: UID,
    resourceVersion: '1',
    creationTimestamp: TIME,
    labels: {
      [MANAGED_BY_LABEL]: MANAGED_BY,
      [COMPONENT_LABEL]: 'keystore',
      ...labels,
      [TENANT_NAMESPACE_LABEL]: 'tenant-',
      [TENANT_UID_LABEL]: SHORT_UID,
    },
    annotations,
  },
  immutable: true,
  data: { wrapped: 'UEFMSwEAAAAB' },
  type: 'Opaque',
});

const samples: Record<string, object[]> = {
  Secret: [
    secret(
      'palisade-tenant-tenant-',
      { [ENTRY_KIND_LABEL]: 'tenant', [TENANT_LABEL]: 'tenant' },
      { 'palisade.dev/created': TIME },
    ),
    secret(
      `palisade-account-${SHORT_UID}`,
      {
        [ENTRY_KIND_LABEL]: 'nats-account',
        [SLOT_LABEL]: `palisade-account-${SHORT_UID}`,
        [ROOT_KEY_VERSION_LABEL]: '1',
      },
      { 'palisade.dev/nats-public-key': 'A' },
    ),
    secret(
      `palisade-key-${SHORT_UID}-primary-v1`,
      {
        [KEY_UID_LABEL]: UID,
        [ENTRY_KIND_LABEL]: 'tenant-key',
        [SLOT_LABEL]: `palisade-key-${SHORT_UID}-primary-v1`,
        [ROOT_KEY_VERSION_LABEL]: '1',
        [TENANTKEY_LABEL]: 'primary',
        [VERSION_LABEL]: '1',
      },
      {
        'palisade.dev/created': TIME,
        'palisade.dev/fingerprint': 'sha256:',
        'palisade.dev/key-id': '',
        'palisade.dev/rotation-trigger': '',
      },
    ),
  ],
  Namespace: [
    {
      kind: 'Namespace',
      apiVersion: 'v1',
      metadata: {
        name: 'tenant-',
        uid: UID,
        resourceVersion: '1',
        creationTimestamp: TIME,
        labels: {
          [MANAGED_BY_LABEL]: MANAGED_BY,
          'kubernetes.io/metadata.name': 'tenant-',
          [TENANT_LABEL]: 'tenant',
          [TENANT_UID_LABEL]: SHORT_UID,
        },
      },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    },
  ],
  TenantKey: [
    {
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'TenantKey',
      metadata: {
        creationTimestamp: TIME,
        finalizers: ['palisade.dev/tenantkey-deletion'],
        generation: 1,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [TENANT_LABEL]: 'tenant' },
        name: 'primary',
        namespace: 'tenant-',
        resourceVersion: '1',
        uid: UID,
      },
      spec: { algorithm: 'XChaCha20-Poly1305', retainedVersions: 3 },
      status: {
        conditions: [
          condition('KeyReady', 'VersionsAvailable', 'version 1 is active; 0 older version(s) decrypt'),
          condition('RootKeyCurrent', 'Rewrapped', 'every version is wrapped by root key version 1'),
          condition('Ready', 'KeyReady', 'All checks passed'),
        ],
        currentVersion: 1,
        lastRotationTrigger: '',
        observedGeneration: 1,
        tenantUID: SHORT_UID,
        versions: [
          {
            created: '2000-01-01T00:00:00.000Z',
            fingerprint: 'sha256:',
            keyId: '',
            rootKeyVersion: 1,
            state: 'Active',
            version: 1,
          },
        ],
      },
    },
  ],
  Tenant: [
    {
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'Tenant',
      metadata: {
        creationTimestamp: TIME,
        finalizers: ['palisade.dev/tenant-deletion'],
        generation: 1,
        name: 'tenant',
        resourceVersion: '1',
        uid: UID,
      },
      spec: {
        deletionPolicy: 'Retain',
        keyPolicy: { algorithm: 'XChaCha20-Poly1305', retainedVersions: 3 },
        messaging: {
          maxAgents: 100,
          maxConnections: -1,
          maxDataBytes: -1,
          maxPayloadBytes: 1048576,
          maxSubscriptions: -1,
        },
      },
      status: {
        conditions: [
          condition('NamespaceReady', 'NamespaceCreated', 'namespace tenant- is ready'),
          condition('PrimaryKeyReady', 'KeyReady', 'TenantKey primary: All checks passed'),
          condition('MessagingReady', 'AccountPushed', 'NATS account A… is current on the resolver'),
          condition('Ready', 'TenantReady', 'All checks passed'),
        ],
        namespace: 'tenant-',
        natsAccount: { jwtIssuedAt: TIME, lastPushed: TIME, publicKey: 'A' },
        observedGeneration: 1,
        primaryKey: 'primary',
        uid: SHORT_UID,
      },
    },
  ],
};

export const CACHE_DICTIONARIES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(samples).map(([kind, objects]) => [kind, objects.map((o) => JSON.stringify(o)).join('')]),
);
