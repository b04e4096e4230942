/**
 * StrataError codes → Linux errno numbers, in one table: what a FUSE reply carries (negated).
 * Every gateway that answers with POSIX errors (the FUSE mount) uses this table; nothing else in
 * the mount picks an errno by hand except the few answers that have no StrataError (ENODATA for
 * a missing xattr, ENOTSUP for device nodes, EBADF for an unknown handle: see {@link ERRNO}).
 */
import { type ErrorCode, isStrataError } from "../../core/errors.ts";

/** The Linux errno values the mount answers with (x86-64 / arm64 numbering). */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  EACCES: 13,
  EEXIST: 17,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EFBIG: 27,
  ENOSPC: 28,
  EROFS: 30,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  EOPNOTSUPP: 95,
  ETIMEDOUT: 110,
} as const;

export type Errno = keyof typeof ERRNO;

/**
 * The one mapping of strata's codes to errno. Codes without a POSIX twin get the errno a program
 * can act on: a lost race or throttling is EAGAIN (try again), pruned history is ENOENT (that
 * version is gone), an abort is EINTR, corruption and an unreachable backend are EIO.
 */
export const STRATA_TO_ERRNO: Readonly<Record<ErrorCode, Errno>> = {
  ENOENT: "ENOENT",
  EEXIST: "EEXIST",
  ENOTDIR: "ENOTDIR",
  EISDIR: "EISDIR",
  ENOTEMPTY: "ENOTEMPTY",
  EINVAL: "EINVAL",
  ENAMETOOLONG: "ENAMETOOLONG",
  ELOOP: "ELOOP",
  EACCES: "EACCES",
  EXDEV: "EXDEV",
  EROFS: "EROFS",
  E2BIG: "E2BIG",
  ENOTSUP: "EOPNOTSUPP",
  ECONFLICT: "EAGAIN",
  ETHROTTLED: "EAGAIN",
  ETIMEDOUT: "ETIMEDOUT",
  EUNAVAIL: "EIO",
  EIO: "EIO",
  ECORRUPT: "EIO",
  EPRUNED: "ENOENT",
  EABORTED: "EINTR",
};

/** An error a mount operation throws on purpose with a POSIX code strata has no name for. */
export class PosixError extends Error {
  constructor(
    readonly errno: Errno,
    message: string,
  ) {
    super(`${errno}: ${message}`);
  }
}

/** The negative errno a FUSE reply carries for `err` (unknown errors are EIO). */
export function toErrno(err: unknown): number {
  if (err instanceof PosixError) return -ERRNO[err.errno];
  if (isStrataError(err)) return -ERRNO[STRATA_TO_ERRNO[err.code] ?? "EIO"];
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === "string" && code in ERRNO) return -ERRNO[code as Errno];
  return -ERRNO.EIO;
}
