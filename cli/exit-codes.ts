/**
 * The `strata` CLI's exit codes: one per error class, so scripts can branch on `$?` without
 * parsing messages. Every StrataError code maps to exactly one class (a unit test checks that the
 * table covers every key of ERROR_CODES). docs/cli.md prints this table.
 */
import type { ErrorCode } from "../core/errors.ts";

export const EXIT = {
  OK: 0,
  /** Bad usage or an invalid request: unknown option, bad argument, wrong kind of path. */
  USAGE: 1,
  NOT_FOUND: 2,
  /** The state is not what the command needs: exists, not empty, changed concurrently. */
  CONFLICT: 3,
  /** Not allowed: token rights, another PFS, read-only view or mirror. */
  DENIED: 4,
  /** Retryable: the deployment or a backend is unreachable, slow or throttling. Try again later. */
  RETRY: 5,
  /** Stored bytes or records are damaged, or an unexpected I/O failure. */
  DATA: 6,
  /** The deployment does not offer this operation (yet). */
  UNSUPPORTED: 7,
  /** The point in history asked for was pruned by retention. */
  PRUNED: 8,
  /** `strata fsck` ran and found problems. */
  FSCK_PROBLEMS: 9,
  /** Interrupted (Ctrl-C or an abort), as shells report SIGINT. */
  ABORTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit code of each StrataError code. `satisfies` makes a missing key a type error. */
export const EXIT_CODE_OF = {
  EINVAL: EXIT.USAGE,
  ENOTDIR: EXIT.USAGE,
  EISDIR: EXIT.USAGE,
  ENAMETOOLONG: EXIT.USAGE,
  ELOOP: EXIT.USAGE,
  EXDEV: EXIT.USAGE,
  E2BIG: EXIT.USAGE,
  ENOENT: EXIT.NOT_FOUND,
  EEXIST: EXIT.CONFLICT,
  ENOTEMPTY: EXIT.CONFLICT,
  ECONFLICT: EXIT.CONFLICT,
  EACCES: EXIT.DENIED,
  EROFS: EXIT.DENIED,
  EUNAVAIL: EXIT.RETRY,
  ETIMEDOUT: EXIT.RETRY,
  ETHROTTLED: EXIT.RETRY,
  ECORRUPT: EXIT.DATA,
  EIO: EXIT.DATA,
  ENOTSUP: EXIT.UNSUPPORTED,
  EPRUNED: EXIT.PRUNED,
  EABORTED: EXIT.ABORTED,
} as const satisfies Record<ErrorCode, ExitCode>;

/** What each exit code means, for `strata --help` and docs/cli.md. */
export const EXIT_MEANING: Record<ExitCode, string> = {
  [EXIT.OK]: "success",
  [EXIT.USAGE]: "usage error or invalid request (EINVAL, ENOTDIR, EISDIR, ENAMETOOLONG, ELOOP, EXDEV, E2BIG)",
  [EXIT.NOT_FOUND]: "not found (ENOENT)",
  [EXIT.CONFLICT]: "conflict with the current state (EEXIST, ENOTEMPTY, ECONFLICT)",
  [EXIT.DENIED]: "not allowed: token rights, PFS, read-only (EACCES, EROFS)",
  [EXIT.RETRY]: "deployment unreachable or busy, retry later (EUNAVAIL, ETIMEDOUT, ETHROTTLED)",
  [EXIT.DATA]: "corrupt data or I/O failure (ECORRUPT, EIO, unexpected errors)",
  [EXIT.UNSUPPORTED]: "not available in this deployment (ENOTSUP)",
  [EXIT.PRUNED]: "that point in history was pruned by retention (EPRUNED)",
  [EXIT.FSCK_PROBLEMS]: "`strata fsck` found problems",
  [EXIT.ABORTED]: "interrupted (EABORTED, Ctrl-C)",
};

export function exitCodeOf(code: ErrorCode): ExitCode {
  return EXIT_CODE_OF[code] ?? EXIT.DATA;
}
