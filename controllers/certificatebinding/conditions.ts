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
  /** A name in dnsNames is an IP address or has a label over 63 characters (admitted by an older CRD). */
  InvalidDNSName: 'InvalidDNSName',
  // certManager source.
  Pending: 'Pending',
  /** cert-manager's CertificateRequest says the issuerRef names no Issuer/ClusterIssuer. */
  IssuerNotFound: 'IssuerNotFound',
  /** cert-manager's CertificateRequest says the issuer exists but is not Ready. */
  IssuerNotReady: 'IssuerNotReady',
  IssuanceFailed: 'IssuanceFailed',
  CertManagerNotInstalled: 'CertManagerNotInstalled',
  CertificateConflict: 'CertificateConflict',
  ApplyFailed: 'ApplyFailed',
  // certManager and internal sources: secretName is a Secret the binding does not own.
  SecretConflict: 'SecretConflict',
  // internal source.
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
  /** tls.key belongs to a certificate of tls.crt other than the first: the leaf is not listed first. */
  ChainOutOfOrder: 'ChainOutOfOrder',
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
export { CA_ID_LABEL } from '../internalca/leaf.ts';
export const LEAF_COMPONENT = 'internal-certificate';
export const CERT_MANAGER_COMPONENT = 'cert-manager-certificate';
