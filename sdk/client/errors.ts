/**
 * How errors leave the SDK (client and remote data plane alike): every one a StrataError with
 * `details.path`, an abort always EABORTED.
 */
import { isStrataError, StrataError } from "../../core/errors.ts";

/** EABORTED for `path`: the caller's signal fired (its reason, or `cause`, is the cause). */
export function aborted(path: string, signal: AbortSignal | undefined, cause?: unknown): StrataError {
  return new StrataError("EABORTED", `the operation on ${path} was aborted by the caller`, {
    details: { path },
    cause: cause ?? signal?.reason,
  });
}

/** Throw {@link aborted} when `signal` has fired. */
export function checkSignal(path: string, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw aborted(path, signal);
}

/** Every error leaving the SDK is a StrataError with `details.path`; an abort is EABORTED. */
export function normalize(err: unknown, path: string, signal?: AbortSignal): StrataError {
  if (isStrataError(err)) {
    if (err.details.path === undefined) err.details.path = path;
    if (signal?.aborted && err.code !== "EABORTED") return aborted(path, signal, err);
    return err;
  }
  if (signal?.aborted) return aborted(path, signal, err);
  const message = err instanceof Error ? err.message : String(err);
  return new StrataError("EIO", `unexpected failure on ${path}: ${message}`, {
    details: { path },
    cause: err,
  });
}

/** Run `run` for `path`: refused at once when aborted; any error it throws leaves {@link normalize}d. */
export async function guard<T>(
  path: string,
  signal: AbortSignal | undefined,
  run: () => Promise<T>,
): Promise<T> {
  checkSignal(path, signal);
  try {
    return await run();
  } catch (err) {
    throw normalize(err, path, signal);
  }
}
