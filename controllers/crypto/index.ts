/**
 * Palisade's crypto package: pure functions, no Kubernetes, no I/O, no logging, randomness injected.
 * The only importer of @noble/* in the project. Everything public is listed here.
 */
export { randomPool } from './bytes.ts';
export type { RandomSource } from './bytes.ts';
export {
  CryptoError,
  CryptoInputError,
  CryptoInputErrorCode,
  EnvelopeError,
  EnvelopeErrorCode,
  PasswordHashError,
  PasswordHashErrorCode,
} from './errors.ts';
export {
  KEY_ID_LENGTH,
  KEY_LENGTH,
  PreparedKey,
  fingerprint,
  generateDataKey,
  isKeyId,
  keyId,
  prepareKey,
} from './keys.ts';
export { BindingPurpose, binding, encodeBinding, tenantKeyBinding } from './binding.ts';
export type { Binding, TenantKeyPlace } from './binding.ts';
export { MAX_WRAPPED_SECRET, keyringOf, parseEnvelope, unwrap, wrap, wrappingKeyRef } from './envelope.ts';
export type { EnvelopeHeader, Keyring, WrappingKeyRef } from './envelope.ts';
export { MAX_DATA_PLAINTEXT, dataKeyVersion, decryptData, encryptData } from './data.ts';
export type { DataContext, DataKeyLookup, EncryptOptions } from './data.ts';
export {
  DEFAULT_PASSPHRASE_PARAMS,
  MAX_SEALED_PLAINTEXT,
  openWithPassphrase,
  parsePassphraseBlob,
  sealWithPassphrase,
} from './passphrase.ts';
export type { PassphraseHeader, PassphraseParams } from './passphrase.ts';
export { ARGON2_LIMITS } from './argon2.ts';
export {
  DEFAULT_PASSWORD_PARAMS,
  IdentifierKind,
  hashIdentifier,
  hashPassword,
  normalizeEmail,
  passwordNeedsRehash,
  passwordPepperVersion,
  verifyPassword,
} from './identifiers.ts';
export type { PasswordParams } from './identifiers.ts';
export { TENANT_UID_BYTES, isTenantUID, newTenantUID } from './tenantuid.ts';
