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
  /** The namespace disappeared under a live Tenant; it was re-created and the same keys re-attached. */
  NamespaceRecreated: 'NamespaceRecreated',
  /** A record kept by an earlier Tenant (Retain) that a Tenant with deletionPolicy Delete will not adopt. */
  RetainedKeys: 'RetainedKeys',
} as const;

export const TENANT_FINALIZER = 'palisade.dev/tenant-deletion';
