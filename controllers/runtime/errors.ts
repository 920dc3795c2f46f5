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

/** A failed Kubernetes API call, with the HTTP code and the Status reason the server gave. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly code: number;
  readonly reason: string;

  constructor(code: number, reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.reason = reason;
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof ApiError && e.code === 404;
export const isConflict = (e: unknown): boolean => e instanceof ApiError && e.code === 409;
export const isAlreadyExists = (e: unknown): boolean =>
  e instanceof ApiError && e.code === 409 && e.reason === 'AlreadyExists';
export const isGone = (e: unknown): boolean => e instanceof ApiError && e.code === 410;

/** A short, human message for a condition or an Event: never a stack, never request bodies. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return `API ${e.code} ${e.reason}: ${e.message}`;
  if (e instanceof Error) return e.message;
  return String(e);
}
