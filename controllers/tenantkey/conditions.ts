/** Condition types, reasons, labels and annotations of TenantKeys: stable API, documented in docs/keys.md. */
export const TenantKeyCondition = {
  Ready: 'Ready',
  KeyReady: 'KeyReady',
  RootKeyCurrent: 'RootKeyCurrent',
} as const;

export const TenantKeyReason = {
  Ready: 'KeyReady',
  VersionsAvailable: 'VersionsAvailable',
  /**
   * The key works (Ready stays True), but minDecryptionVersion or destroyBelowVersion names a version above
   * the active one: each rotation until then disables, or destroys, the version it replaces.
   */
  PolicyAheadOfVersion: 'PolicyAheadOfVersion',
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
  Destroyed: 'KeyDestroyed',
  Retained: 'KeyRetained',
  BindingMismatch: 'KeyBindingMismatch',
} as const;

export const TENANTKEY_FINALIZER = 'palisade.dev/tenantkey-deletion';
