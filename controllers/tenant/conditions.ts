/** Condition types and reasons of a Tenant: stable API, documented in the README's catalogue. */
export const TenantCondition = {
  Ready: 'Ready',
  NamespaceReady: 'NamespaceReady',
} as const;

export const TenantReason = {
  Ready: 'TenantReady',
  NamespaceCreated: 'NamespaceCreated',
  NamespaceConflict: 'NamespaceConflict',
  NamespaceTerminating: 'NamespaceTerminating',
  ApplyFailed: 'ApplyFailed',
} as const;

export const TENANT_FINALIZER = 'palisade.dev/tenant-deletion';
/** Set on a namespace kept after its Tenant was deleted with `deletionPolicy: Retain`. */
export const RETAINED_LABEL = 'palisade.dev/retained';
