import type { Tenant } from '../../crds/v1alpha1/index.ts';
import type { Namespace } from '../runtime/kube/types.ts';
import { RETAINED_LABEL } from '../keystore/entries.ts';
import {
  controllerRef,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  TENANT_LABEL,
  TENANT_UID_LABEL,
} from '../runtime/objects.ts';

/** The tenant's namespace name: `spec.namespace`, or `tenant-<name>`. */
export function namespaceFor(tenant: Tenant): string {
  return tenant.spec.namespace ?? `tenant-${tenant.metadata.name}`;
}

/**
 * The namespace as Palisade wants it: labelled with the tenant's name and UID. Only with
 * `deletionPolicy: Delete` is it owned by the Tenant: with `Retain` no garbage collection (background
 * or foreground cascading) can ever reach the tenant's key material.
 * NB: the labels are for people and selectors only. The tenant's identity (UID, namespace) is Palisade's
 * record in the keystore (keystore/tenants.ts); nothing reads these labels to decide anything.
 */
export function desiredNamespace(tenant: Tenant, uid: string): Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespaceFor(tenant),
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY,
        [TENANT_LABEL]: tenant.metadata.name,
        [TENANT_UID_LABEL]: uid,
      },
      ...(tenant.spec.deletionPolicy === 'Delete' ? { ownerReferences: [controllerRef(tenant)] } : {}),
    },
  };
}

/** True when `existing` already carries every desired label and exactly the desired ownership. */
export function namespaceUpToDate(
  tenant: Tenant,
  existing: Namespace | undefined,
  desired: Namespace,
): boolean {
  if (!existing) return false;
  const labels = existing.metadata.labels ?? {};
  const labelsOk = Object.entries(desired.metadata.labels ?? {}).every(([k, v]) => labels[k] === v);
  const owned = (existing.metadata.ownerReferences ?? []).some((r) => r.uid === tenant.metadata.uid);
  return labelsOk && !labels[RETAINED_LABEL] && owned === (desired.metadata.ownerReferences ?? []).length > 0;
}
