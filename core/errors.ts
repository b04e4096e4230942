/**
 * strata's one error type. Every layer above the adapters sees only `StrataError`s; adapters
 * translate SDK exceptions into these codes (and attach the original as `cause`).
 *
 * Messages say what failed, where, and what to do. `details` carries the machine-readable
 * "where" (volume, key, pfs, path, …) so callers and the HTTP layer never parse messages.
 */
import type { CancellationReason, Item } from "./metadata/port.ts";

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

/**
 * A MetadataStore's answer to a failed write (core/metadata/port.ts). It rides on the code the
 * store maps the failure to: ECONFLICT (a failed condition, a transaction conflict), and for a
 * cancelled transaction also EINVAL / E2BIG / ETHROTTLED.
 */
export interface StoreAnswer {
  /** A single-item write whose condition failed: the item as it is now (absent: there is none). */
  item?: Item;
  /** A cancelled transaction: why, per op (`null`: that op was fine). */
  reasons?: Array<CancellationReason | null>;
  /** A cancelled transaction: the first op that failed. */
  failedIndex?: number;
}

/** Details any code may carry: a store's answer, and the workflow error name a step maps to. */
export interface CommonDetails extends StoreAnswer {
  /** The Step Functions error name a workflow step throws this as (core/workflows/steps.ts). */
  workflowError?: string;
}

/** The details particular codes carry, typed where callers read them (more keys may be present). */
export interface DetailsByCode {
  /** A confined view refused a path (`beneath`: the scope); an API token refused (`auth`, `need`). */
  EACCES: { beneath?: string; auth?: string; need?: string };
  /** `idempotency: "mismatch"`: a key or token re-used for a different request. */
  EINVAL: { idempotency?: "mismatch" };
  /** `op`: an API operation the server does not have. */
  ENOENT: { op?: string };
  /** `again`: a wait that timed out and may be asked again. */
  ETIMEDOUT: { again?: boolean };
  /** `requestId`: an unexpected error's id in the server's log. */
  EIO: { requestId?: string };
}

/**
 * Machine-readable details of an error: any keys (`pfs`, `path`, `volume`, `key`, …), with the
 * ones callers read typed ({@link CommonDetails}; per code: {@link DetailsOf}).
 */
export type ErrorDetails = Record<string, unknown> & CommonDetails;

/** The details of an error with code `C`: what every code may carry plus its own. */
export type DetailsOf<C extends ErrorCode> = ErrorDetails &
  (C extends keyof DetailsByCode ? DetailsByCode[C] : unknown);

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

/** Is `err` a StrataError (with `code`, when given: then its details are typed as that code's)? */
export function isStrataError<C extends ErrorCode>(
  err: unknown,
  code: C,
): err is StrataError & { readonly code: C; readonly details: DetailsOf<C> };
export function isStrataError(err: unknown, code?: ErrorCode): err is StrataError;
export function isStrataError(err: unknown, code?: ErrorCode): err is StrataError {
  return err instanceof StrataError && (code === undefined || err.code === code);
}

/** Shorthand used everywhere: `fail("ENOENT", "…", { path })`. */
export function strataError(code: ErrorCode, message: string, details?: ErrorDetails, cause?: unknown) {
  return new StrataError(code, message, { details, cause });
}
