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
/** The API server refused the object itself (422 Invalid; 413 for one too large): retrying cannot help. */
export const isInvalid = (e: unknown): boolean => e instanceof ApiError && (e.code === 422 || e.code === 413);
