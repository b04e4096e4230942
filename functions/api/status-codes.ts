/**
 * The ONE table from StrataError codes to HTTP statuses. The remote client maps statuses back
 * through the body's `error.code`, never through the status, so the round trip is exact.
 *
 * Choices worth knowing:
 * - EACCES is 403 (authenticated but not allowed); a missing, malformed, expired or revoked token
 *   is also EACCES but answered 401 — the handler marks those with `details.auth = "token"`.
 * - EROFS is 409: writing through an as-of view or to a read-only mirror is a state conflict
 *   (retrying with the same state cannot succeed), not a permission question.
 * - ECORRUPT is 502 when the bad bytes came from a volume (the server is a gateway to it) — we
 *   cannot tell reliably, so 500 for ECORRUPT and 502 for EIO (a backend answered wrongly).
 */
import type { ErrorCode } from "../../core/errors.ts";

export const HTTP_STATUS: Record<ErrorCode, number> = {
  ENOENT: 404,
  EEXIST: 409,
  ENOTEMPTY: 409,
  ECONFLICT: 409,
  EROFS: 409,
  EXDEV: 409,
  EINVAL: 400,
  ENAMETOOLONG: 400,
  ENOTDIR: 400,
  EISDIR: 400,
  ELOOP: 400,
  E2BIG: 413,
  EACCES: 403,
  ETHROTTLED: 429,
  EUNAVAIL: 503,
  ETIMEDOUT: 504,
  EPRUNED: 410,
  ENOTSUP: 501,
  ECORRUPT: 500,
  EIO: 502,
  // The caller went away; nginx's "client closed request". Rarely seen by anyone.
  EABORTED: 499,
};

/** Status for an authentication failure (no token, bad signature, expired, revoked). */
export const UNAUTHENTICATED_STATUS = 401;

export function statusOf(code: ErrorCode, details: Record<string, unknown> = {}): number {
  if (code === "EACCES" && details.auth === "token") return UNAUTHENTICATED_STATUS;
  // An idempotency key reused for a different request: 422 Unprocessable Content (IETF draft
  // "The Idempotency-Key HTTP Header Field").
  if (code === "EINVAL" && details.idempotency === "mismatch") return 422;
  return HTTP_STATUS[code] ?? 500;
}
