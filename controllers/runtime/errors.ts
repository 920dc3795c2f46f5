/**
 * Error vocabulary of the reconcile contract (controller-runtime's): a plain error means "back off and
 * retry"; a {@link TerminalError} means "the spec is wrong; don't retry until it changes".
 */
export class TerminalError extends Error {
  override name = 'TerminalError';
  readonly reason: string;

  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

export { ApiError, isAlreadyExists, isConflict, isInvalid, isNotFound } from './kube/errors.ts';
import { ApiError } from './kube/errors.ts';

/** A short, human message for a condition or an Event: never a stack, never request bodies. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return `API ${e.code} ${e.reason}: ${e.message}`;
  if (e instanceof Error) return e.message;
  return String(e);
}
