/**
 * The keystore's layout: what Palisade keeps in its own namespace, under which names and labels.
 *
 * Everything Palisade wraps with the root key (tenant key versions, tenant NATS account seeds) and every
 * record a security decision is read from (which tenant holds which UID and namespace, which NATS user
 * belongs to which agent, which users are revoked) is a Secret in the operator's namespace, labelled
 * `palisade.dev/component=keystore`. Nothing a tenant-side action reaches (editing or deleting objects in
 * a tenant namespace, deleting the namespace, deleting a Tenant with `deletionPolicy: Retain`) can change
 * or remove it; the chart gives tenants no access to the operator's namespace.
 *
 *   palisade-tenant-<namespace>                    tenant record: UID, name, namespace (create-only: one
 *                                                  tenant per namespace; the UID is never re-derived)
 *   palisade-key-<uid>-<tenantkey>-v<N>            version N of a TenantKey as generated (the name is the
 *                                                  create-only lock on version N)
 *   palisade-key-<uid>-<tenantkey>-v<N>-r<R>       the same version rewrapped under root version R
 *   palisade-account-<uid>[-r<R>]                  the tenant's NATS account seed (and its rewraps)
 *   palisade-revocations-<uid>                     the tenant's revoked NATS users (public keys, times)
 *   palisade-agent-<uid>-<clusteragent>            which NATS user each ClusterAgent holds, and until when
 *
 * Only Secrets in the operator's namespace count: a Secret elsewhere that merely carries these labels is
 * never read, indexed, touched, or counted as a reference to a root version.
 */
import { ROOT_KEY_VERSION_LABEL, wrappedByRootVersion } from '../installation/rootversion.ts';
import type { Secret } from '../runtime/kube/types.ts';
import {
  COMPONENT_LABEL,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  TENANT_LABEL,
  TENANT_UID_LABEL,
} from '../runtime/objects.ts';

export const KEYSTORE_COMPONENT = 'keystore';
export const ENTRY_KIND_LABEL = 'palisade.dev/keystore-kind';
export const TENANT_NAMESPACE_LABEL = 'palisade.dev/tenant-namespace';
export const TENANTKEY_LABEL = 'palisade.dev/tenantkey';
export const VERSION_LABEL = 'palisade.dev/version';
/** The key's lineage: the metadata.uid of the TenantKey that generated its first version. */
export const KEY_UID_LABEL = 'palisade.dev/key-uid';
export const AGENT_LABEL = 'palisade.dev/cluster-agent';
/** The slot an entry wraps: every wrap of one thing (all root versions) shares it. */
export const SLOT_LABEL = 'palisade.dev/keystore-slot';
/** Set on a tenant record whose Tenant was deleted with `deletionPolicy: Retain`. */
export const RETAINED_LABEL = 'palisade.dev/retained';

export const KEY_ID_ANNOTATION = 'palisade.dev/key-id';
export const FINGERPRINT_ANNOTATION = 'palisade.dev/fingerprint';
export const CREATED_ANNOTATION = 'palisade.dev/created';
export const TRIGGER_ANNOTATION = 'palisade.dev/rotation-trigger';
export const PUBLIC_KEY_ANNOTATION = 'palisade.dev/nats-public-key';

export const EntryKind = {
  Tenant: 'tenant',
  TenantKey: 'tenant-key',
  NatsAccount: 'nats-account',
  Revocations: 'nats-revocations',
  Agent: 'agent-credentials',
} as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

/** Kinds whose data is wrapped by the root key (rewrapped on rotation, references of a root version). */
export const WRAPPED_KINDS: ReadonlySet<string> = new Set([EntryKind.TenantKey, EntryKind.NatsAccount]);

export const tenantRecordName = (namespace: string) => `palisade-tenant-${namespace}`;
export const keyVersionSlot = (uid: string, keyName: string, version: number) =>
  `palisade-key-${uid}-${keyName}-v${version}`;
export const accountSeedSlot = (uid: string) => `palisade-account-${uid}`;
export const revocationsName = (uid: string) => `palisade-revocations-${uid}`;
export const agentRecordName = (uid: string, agent: string) => `palisade-agent-${uid}-${agent}`;
/** The name of a slot's wrap under root version `rootVersion`; the generated wrap has the bare slot name. */
export const rewrapName = (slot: string, rootVersion: number) => `${slot}-r${rootVersion}`;

/** The labels every keystore Secret carries. */
export function keystoreLabels(kind: EntryKind, uid: string, extra: Record<string, string> = {}) {
  return {
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [COMPONENT_LABEL]: KEYSTORE_COMPONENT,
    [ENTRY_KIND_LABEL]: kind,
    [TENANT_UID_LABEL]: uid,
    ...extra,
  };
}

export function keystoreSecret(o: {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  data: Record<string, Uint8Array | string>;
  immutable: boolean;
}): Secret {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.data)) data[k] = Buffer.from(v).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: o.name,
      namespace: o.namespace,
      labels: o.labels,
      ...(o.annotations ? { annotations: o.annotations } : {}),
    },
    type: 'Opaque',
    ...(o.immutable ? { immutable: true } : {}),
    data,
  };
}

/** True for a keystore Secret in the keystore's namespace; anything else is never trusted. */
export function isKeystoreEntry(s: Secret, keystoreNamespace: string): boolean {
  return (
    s.metadata.namespace === keystoreNamespace &&
    s.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY &&
    s.metadata.labels[COMPONENT_LABEL] === KEYSTORE_COMPONENT
  );
}

export const entryKind = (s: Secret) => s.metadata.labels?.[ENTRY_KIND_LABEL] ?? '';
export const entryUID = (s: Secret) => s.metadata.labels?.[TENANT_UID_LABEL] ?? '';

/** The root key version that wraps an entry's content (wrapped entries only). */
export { ROOT_KEY_VERSION_LABEL, wrappedByRootVersion };

export const KEYSTORE_INDEX = 'keystore';
export const KEYSTORE_ROOT_INDEX = 'keystore-root-version';

/**
 * Lookup keys of the keystore index: `IndexKey.key(uid, name)` lists every wrap of every version.
 * NB: a slot's wraps are not indexed apart (they are among its key's or account's entries, `slotLookup`):
 * each index value costs about 100 bytes per entry held for good.
 */
export const IndexKey = {
  tenantByNamespace: (ns: string) => `tenant-ns/${ns}`,
  tenantByName: (name: string) => `tenant-name/${name}`,
  tenantByUID: (uid: string) => `tenant-uid/${uid}`,
  key: (uid: string, keyName: string) => `key/${uid}/${keyName}`,
  account: (uid: string) => `account/${uid}`,
  agent: (uid: string, agent: string) => `agent/${uid}/${agent}`,
  revocations: (uid: string) => `revocations/${uid}`,
} as const;

/** The keystore index: only entries in `keystoreNamespace` are indexed at all. */
export function keystoreIndex(keystoreNamespace: string) {
  return (s: Secret): string[] => {
    if (!isKeystoreEntry(s, keystoreNamespace)) return [];
    const l = s.metadata.labels ?? {};
    const uid = entryUID(s);
    const out: string[] = [];
    switch (entryKind(s)) {
      case EntryKind.Tenant:
        out.push(
          IndexKey.tenantByNamespace(l[TENANT_NAMESPACE_LABEL] ?? ''),
          IndexKey.tenantByName(l[TENANT_LABEL] ?? ''),
          IndexKey.tenantByUID(uid),
        );
        break;
      case EntryKind.TenantKey:
        out.push(IndexKey.key(uid, l[TENANTKEY_LABEL] ?? ''));
        break;
      case EntryKind.NatsAccount:
        out.push(IndexKey.account(uid));
        break;
      case EntryKind.Agent:
        out.push(IndexKey.agent(uid, l[AGENT_LABEL] ?? ''));
        break;
      case EntryKind.Revocations:
        out.push(IndexKey.revocations(uid));
        break;
    }
    return out;
  };
}

/**
 * The index key under which a wrapped entry's slot-mates are found (its TenantKey's entries, or its NATS
 * account's), or undefined for an entry without a slot.
 */
export function slotLookup(s: Secret): string | undefined {
  const l = s.metadata.labels ?? {};
  if (!l[SLOT_LABEL]) return undefined;
  switch (entryKind(s)) {
    case EntryKind.TenantKey:
      return IndexKey.key(entryUID(s), l[TENANTKEY_LABEL] ?? '');
    case EntryKind.NatsAccount:
      return IndexKey.account(entryUID(s));
    default:
      return undefined;
  }
}

/** The root-version index: wrapped keystore entries by the root version that wraps them. */
export function keystoreRootIndex(keystoreNamespace: string) {
  return (s: Secret): string[] => {
    if (!isKeystoreEntry(s, keystoreNamespace) || !WRAPPED_KINDS.has(entryKind(s))) return [];
    const v = wrappedByRootVersion(s);
    return v ? [String(v)] : [];
  };
}

export function secretBytes(secret: Secret, key: string): Uint8Array {
  const v = secret.data?.[key];
  if (v === undefined) throw new Error(`Secret ${secret.metadata.name} has no "${key}" entry`);
  return new Uint8Array(Buffer.from(v, 'base64'));
}

/** A label selector for keystore Secrets (add the namespace: only the keystore's own namespace counts). */
export const COMPONENT_LABEL_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY},${COMPONENT_LABEL}=${KEYSTORE_COMPONENT}`;
