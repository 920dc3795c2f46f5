/** Condition types and reasons of a CertificateBinding: stable API, documented in docs/certificates.md. */
export const BindingCondition = {
  Ready: 'Ready',
  /** The certificate exists and is fit for use (issued, or the import validated). */
  CertificateReady: 'CertificateReady',
  /** Abnormal-true, like a node's MemoryPressure: True when expiry is within spec.expiryWarning. */
  Expiring: 'Expiring',
} as const;

export const BindingReason = {
  Ready: 'CertificateBound',
  // Any source.
  Issued: 'Issued',
  /** The binding's namespace is not one Palisade manages: it holds no Secret rights there. */
  NamespaceNotManaged: 'NamespaceNotManaged',
  // certManager source.
  Pending: 'Pending',
  IssuanceFailed: 'IssuanceFailed',
  CertManagerNotInstalled: 'CertManagerNotInstalled',
  CertificateConflict: 'CertificateConflict',
  ApplyFailed: 'ApplyFailed',
  // internal source.
  SecretConflict: 'SecretConflict',
  CANotReady: 'CANotReady',
  /** A name in spec.internal.dnsNames is not one the namespace may have certified (namepolicy.ts). */
  NameNotAllowed: 'NameNotAllowed',
  // imported source: the validation chain, in the order it runs.
  Valid: 'Valid',
  SecretNotFound: 'SecretNotFound',
  MissingCertificate: 'MissingCertificate',
  MissingPrivateKey: 'MissingPrivateKey',
  InvalidPEM: 'InvalidPEM',
  InvalidPrivateKey: 'InvalidPrivateKey',
  EncryptedPrivateKey: 'EncryptedPrivateKey',
  KeyMismatch: 'KeyMismatch',
  WeakKey: 'WeakKey',
  WeakSignature: 'WeakSignature',
  NotServerCertificate: 'NotServerCertificate',
  NotYetValid: 'NotYetValid',
  Expired: 'Expired',
  NameMismatch: 'NameMismatch',
  CASecretNotFound: 'CASecretNotFound',
  MissingCA: 'MissingCA',
  InvalidCA: 'InvalidCA',
  ChainInvalid: 'ChainInvalid',
  // Expiring.
  ExpiringSoon: 'ExpiringSoon',
  NotExpiring: 'NotExpiring',
  NoCertificate: 'NoCertificate',
} as const;
export type BindingReason = (typeof BindingReason)[keyof typeof BindingReason];

/** Label on Secrets whose changes Palisade should notice at once (imported certificates and their CAs). */
export const WATCH_LABEL = 'palisade.dev/watch';
/** Label naming the binding a Secret belongs to (internal leaves, cert-manager Secrets via secretTemplate). */
export const BINDING_LABEL = 'palisade.dev/certificate-binding';
/** Label on an internal leaf Secret: the key ID of the CA that issued it (retirement waits for none left). */
export const CA_ID_LABEL = 'palisade.dev/ca-id';
export const LEAF_COMPONENT = 'internal-certificate';
export const CERT_MANAGER_COMPONENT = 'cert-manager-certificate';
