/**
 * The key service's refusals, each with the gRPC status code a client branches on and a message for
 * humans. Messages name tenants, keys, versions and policies only: never key bytes, plaintext, ciphertext
 * or tokens.
 */
import { status } from '@grpc/grpc-js';
import { CryptoInputError, EnvelopeError, PasswordHashError } from '../crypto/index.ts';
import { AuthenticationError } from './auth.ts';

export const KeyServiceErrorCode = {
  Unauthenticated: 'Unauthenticated',
  PermissionDenied: 'PermissionDenied',
  NotFound: 'NotFound',
  InvalidArgument: 'InvalidArgument',
  /** The key version a ciphertext needs may not decrypt (Disabled, Destroyed), or there is none yet. */
  FailedPrecondition: 'FailedPrecondition',
  /** This replica's caches are not whole yet, or the installation keys are missing. */
  Unavailable: 'Unavailable',
  /** A damaged keystore entry. */
  Internal: 'Internal',
} as const;
export type KeyServiceErrorCode = (typeof KeyServiceErrorCode)[keyof typeof KeyServiceErrorCode];

const GRPC: Record<KeyServiceErrorCode, status> = {
  Unauthenticated: status.UNAUTHENTICATED,
  PermissionDenied: status.PERMISSION_DENIED,
  NotFound: status.NOT_FOUND,
  InvalidArgument: status.INVALID_ARGUMENT,
  FailedPrecondition: status.FAILED_PRECONDITION,
  Unavailable: status.UNAVAILABLE,
  Internal: status.INTERNAL,
};

export class KeyServiceError extends Error {
  override readonly name = 'KeyServiceError';
  readonly code: KeyServiceErrorCode;
  constructor(code: KeyServiceErrorCode, message: string) {
    super(message);
    this.code = code;
  }

  get grpcCode(): status {
    return GRPC[this.code];
  }
}

/** Any error of a call as a KeyServiceError: crypto errors by their code, anything unknown as Internal. */
export function asKeyServiceError(e: unknown): KeyServiceError {
  if (e instanceof KeyServiceError) return e;
  if (e instanceof AuthenticationError) return new KeyServiceError('Unauthenticated', e.message);
  if (e instanceof EnvelopeError) {
    switch (e.code) {
      case 'AuthenticationFailed':
        return new KeyServiceError(
          'InvalidArgument',
          'the ciphertext does not decrypt: altered, made with another context, or made by another key',
        );
      case 'WrongKeyId':
        return new KeyServiceError(
          'InvalidArgument',
          'the ciphertext was made by another key (its key ID differs)',
        );
      case 'BadLength':
        return new KeyServiceError('InvalidArgument', `too long: ${e.message}`);
      case 'BadBinding':
        return new KeyServiceError('InvalidArgument', e.message);
      default:
        return new KeyServiceError('InvalidArgument', `not a Palisade data ciphertext: ${e.message}`);
    }
  }
  // NB: their messages describe the input's shape (never echo it): safe to return.
  if (e instanceof CryptoInputError && e.code === 'BadInput')
    return new KeyServiceError('InvalidArgument', e.message);
  if (e instanceof PasswordHashError)
    return new KeyServiceError('InvalidArgument', `not a usable password hash: ${e.message}`);
  return new KeyServiceError('Internal', e instanceof Error ? e.message : String(e));
}
