/** Condition types, reasons, labels and annotations of TenantKeys: stable API, documented in docs/keys.md. */
export const TenantKeyCondition = {
  Ready: 'Ready',
  KeyReady: 'KeyReady',
  RootKeyCurrent: 'RootKeyCurrent',
} as const;

export const TenantKeyReason = {
  Ready: 'KeyReady',
  VersionsAvailable: 'VersionsAvailable',
  TenantNotFound: 'TenantNotFound',
  KeyBindingMismatch: 'KeyBindingMismatch',
  RootKeyMissing: 'RootKeyMissing',
  KeyMaterialMissing: 'KeyMaterialMissing',
  KeyUnreadable: 'KeyUnreadable',
  Rewrapped: 'Rewrapped',
  RewrapPending: 'RewrapPending',
} as const;

/** Event reasons (also the audit actions' last word). */
export const KeyEvent = {
  Generated: 'KeyGenerated',
  Rotated: 'KeyRotated',
  Rewrapped: 'KeyRewrapped',
  Destroyed: 'KeyDestroyed',
  Retained: 'KeyRetained',
  BindingMismatch: 'KeyBindingMismatch',
} as const;

export const TENANTKEY_FINALIZER = 'palisade.dev/tenantkey-deletion';

export const TENANT_KEY_COMPONENT = 'tenant-key';
/** Names the TenantKey a version Secret belongs to. */
export const TENANTKEY_LABEL = 'palisade.dev/tenantkey';
/** The key's lineage: the metadata.uid of the TenantKey that generated its first version (see docs/keys.md). */
export const KEY_UID_LABEL = 'palisade.dev/key-uid';
export const CREATED_ANNOTATION = 'palisade.dev/created';
/** The spec.rotationTrigger in force when the version was generated: makes trigger rotation exactly-once. */
export const TRIGGER_ANNOTATION = 'palisade.dev/rotation-trigger';
/** Set on key Secrets kept after their TenantKey was deleted under `deletionPolicy: Retain`. */
export const RETAINED_LABEL = 'palisade.dev/retained';
