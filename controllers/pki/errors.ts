/** Named failures of the PKI package; messages never carry key material or PEM text. */
export const PkiErrorCode = {
  InvalidPEM: 'InvalidPEM',
  InvalidPrivateKey: 'InvalidPrivateKey',
  EncryptedPrivateKey: 'EncryptedPrivateKey',
  InvalidCSR: 'InvalidCSR',
  WeakKey: 'WeakKey',
} as const;
export type PkiErrorCode = (typeof PkiErrorCode)[keyof typeof PkiErrorCode];

export class PkiError extends Error {
  override name = 'PkiError';
  readonly code: PkiErrorCode;

  constructor(code: PkiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
