import type { Tenant } from '../../crds/v1alpha1/index.ts';
import type { Namespace } from '../runtime/kube/types.ts';
import { RETAINED_LABEL } from './conditions.ts';
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
 * NB: the UID label makes the namespace the durable record of the tenant's identity, so a Tenant whose
 * status was lost (restore from a GitOps repository, say) gets the same UID back, and its wrapped keys,
 * which are bound to that UID, still unwrap.
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

export type NamespaceVerdict =
  | { kind: 'absent' }
  | { kind: 'ours'; uid: string | undefined }
  | { kind: 'terminating' }
  | { kind: 'foreign'; owner: string | undefined };

/** Whether an existing namespace may be used for `tenant` (ours, retained from an earlier Tenant of this name, or someone else's). */
export function judgeNamespace(tenant: Tenant, ns: Namespace | undefined): NamespaceVerdict {
  if (!ns) return { kind: 'absent' };
  const owner = ns.metadata.labels?.[TENANT_LABEL];
  if (owner !== tenant.metadata.name || ns.metadata.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY) {
    return { kind: 'foreign', owner };
  }
  if (ns.metadata.deletionTimestamp) return { kind: 'terminating' };
  return { kind: 'ours', uid: ns.metadata.labels?.[TENANT_UID_LABEL] };
}
