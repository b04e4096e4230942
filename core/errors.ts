/**
 * strata's one error type. Every layer above the adapters sees only `StrataError`s; adapters
 * translate SDK exceptions into these codes (and attach the original as `cause`).
 *
 * Messages say what failed, where, and what to do. `details` carries the machine-readable
 * "where" (volume, key, pfs, path, …) so callers and the HTTP layer never parse messages.
 */
export const ERROR_CODES = {
  ENOENT: "no such file, directory, object or item",
  EEXIST: "already exists",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  ENOTEMPTY: "directory not empty",
  EINVAL: "invalid argument",
  ENAMETOOLONG: "name or key too long",
  ELOOP: "too many levels of symbolic links",
  EACCES: "permission denied",
  EXDEV: "cross-PFS link or rename",
  EROFS: "read-only (a mirror or an as-of view)",
  E2BIG: "argument too large (tag, xattr, batch, item)",
  ENOTSUP: "operation not supported by this backend",
  ECONFLICT: "a condition failed: someone else changed it first",
  ETHROTTLED: "the backend is throttling requests",
  ETIMEDOUT: "the backend did not answer in time",
  EUNAVAIL: "the backend is unreachable or failing",
  EIO: "input/output error",
  ECORRUPT: "checksum mismatch: stored bytes or records are corrupt",
  EPRUNED: "history at that point was pruned by retention",
  EABORTED: "the caller aborted the operation",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Codes for which trying the same request again, after a pause, may succeed. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set(["ETHROTTLED", "ETIMEDOUT", "EUNAVAIL"]);

export type ErrorDetails = Record<string, unknown>;

export class StrataError extends Error {
  override readonly name = "StrataError";
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super(`${code}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  /** True when the same request may succeed if retried after a backoff. */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }

  /** A plain object for logs and HTTP bodies (never includes the cause's stack). */
  toJSON(): { code: ErrorCode; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isStrataError(err: unknown, code?: ErrorCode): err is StrataError {
  return err instanceof StrataError && (code === undefined || err.code === code);
}

/** Shorthand used everywhere: `fail("ENOENT", "…", { path })`. */
export function strataError(code: ErrorCode, message: string, details?: ErrorDetails, cause?: unknown) {
  return new StrataError(code, message, { details, cause });
}
