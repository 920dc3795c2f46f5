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
