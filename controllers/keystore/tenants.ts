import type { Secret } from '../runtime/kube/types.ts';
import { TENANT_LABEL } from '../runtime/objects.ts';
import {
  CREATED_ANNOTATION,
  EntryKind,
  entryUID,
  IndexKey,
  keystoreLabels,
  keystoreSecret,
  RETAINED_LABEL,
  TENANT_NAMESPACE_LABEL,
  tenantRecordName,
} from './entries.ts';
import type { Keystore } from './store.ts';

/**
 * A tenant's identity as Palisade recorded it: the UID its keys are bound to and the namespace it owns.
 * Made once, create-only, named after the namespace (so two Tenants can never hold one namespace) and
 * never derived again from anything else: not from namespace labels, not from a Tenant's status.
 */
export interface TenantRecord {
  uid: string;
  tenant: string;
  namespace: string;
  /** The Tenant was deleted with `deletionPolicy: Retain`; its keys wait for a Tenant of the same name. */
  retained: boolean;
  secret: Secret;
}

export function recordOf(s: Secret): TenantRecord {
  const l = s.metadata.labels ?? {};
  return {
    uid: entryUID(s),
    tenant: l[TENANT_LABEL] ?? '',
    namespace: l[TENANT_NAMESPACE_LABEL] ?? '',
    retained: l[RETAINED_LABEL] === 'true',
    secret: s,
  };
}

export function tenantRecordSecret(o: {
  namespace: string;
  keystoreNamespace: string;
  uid: string;
  tenant: string;
  created: string;
}): Secret {
  return keystoreSecret({
    name: tenantRecordName(o.namespace),
    namespace: o.keystoreNamespace,
    labels: keystoreLabels(EntryKind.Tenant, o.uid, {
      [TENANT_LABEL]: o.tenant,
      [TENANT_NAMESPACE_LABEL]: o.namespace,
    }),
    annotations: { [CREATED_ANNOTATION]: o.created },
    data: {},
    immutable: true,
  });
}

/** The tenant owning `namespace`, by Palisade's record (the cache). */
export function tenantOfNamespace(ks: Keystore, namespace: string): TenantRecord | undefined {
  const s = ks.find(IndexKey.tenantByNamespace(namespace))[0];
  return s ? recordOf(s) : undefined;
}

/** True when some tenant record holds `uid`. */
export function uidTaken(ks: Keystore, uid: string): boolean {
  return ks.find(IndexKey.tenantByUID(uid)).length > 0;
}
