import type { Tenant, TenantKey } from '../../crds/v1alpha1/index.ts';
import type { ConditionInput } from '../runtime/conditions.ts';
import { findCondition } from '../runtime/conditions.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { KubeObject } from '../runtime/kube/types.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, TENANT_LABEL } from '../runtime/objects.ts';
import { namespaceFor } from './namespace.ts';

/** Every Tenant gets a TenantKey of this name in its namespace, kept in line with `spec.keyPolicy`. */
export const PRIMARY_KEY_NAME = 'primary';
export const PrimaryKeyCondition = 'PrimaryKeyReady';
export const PrimaryKeyPending = 'PrimaryKeyPending';

/**
 * The primary TenantKey as the Tenant's key policy wants it. Only the policy's fields are set, so a
 * rotationTrigger (or destroy settings) someone adds with their own field manager are left alone.
 * No ownerReference: with `deletionPolicy: Retain` the key must outlive its Tenant.
 */
export function desiredPrimaryKey(tenant: Tenant): KubeObject & { spec: Record<string, unknown> } {
  const p = tenant.spec.keyPolicy;
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'TenantKey',
    metadata: {
      name: PRIMARY_KEY_NAME,
      namespace: namespaceFor(tenant),
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [TENANT_LABEL]: tenant.metadata.name },
    },
    spec: {
      algorithm: p.algorithm,
      retainedVersions: p.retainedVersions,
      ...(p.rotationPeriod ? { rotationPeriod: p.rotationPeriod } : {}),
    },
  };
}

function upToDate(existing: TenantKey | undefined, desired: ReturnType<typeof desiredPrimaryKey>): boolean {
  if (!existing) return false;
  const s = existing.spec;
  const labels = existing.metadata.labels ?? {};
  return (
    s.algorithm === desired.spec.algorithm &&
    s.retainedVersions === desired.spec.retainedVersions &&
    s.rotationPeriod === desired.spec.rotationPeriod &&
    Object.entries(desired.metadata.labels ?? {}).every(([k, v]) => labels[k] === v)
  );
}

/**
 * Applies the primary TenantKey (server-side, only when it differs) and returns the `PrimaryKeyReady`
 * concern, which mirrors the TenantKey's own `Ready`.
 */
export async function ensurePrimaryKey(
  d: { client: KubeApi; tenantKeys?: ObjectCache<TenantKey> },
  tenant: Tenant,
): Promise<{ name: string; concern: ConditionInput }> {
  const desired = desiredPrimaryKey(tenant);
  const existing = d.tenantKeys?.get(PRIMARY_KEY_NAME, namespaceFor(tenant));
  if (!upToDate(existing, desired)) await d.client.apply(desired);
  const ready = findCondition(existing?.status?.conditions, 'Ready');
  const concern: ConditionInput = ready
    ? {
        type: PrimaryKeyCondition,
        status: ready.status,
        reason: ready.reason,
        message: `TenantKey ${PRIMARY_KEY_NAME}: ${ready.message}`,
      }
    : {
        type: PrimaryKeyCondition,
        status: 'Unknown',
        reason: PrimaryKeyPending,
        message: `TenantKey ${PRIMARY_KEY_NAME} has no status yet`,
      };
  return { name: PRIMARY_KEY_NAME, concern };
}
