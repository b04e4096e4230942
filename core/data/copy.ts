/**
 * Copy by reference: the new version of `to` references the chunks of `from` (live, or as of a
 * point in history) and no byte moves; inline contents (metadata) are copied. One engine commit.
 *
 * Chunk lifecycle, rule 1 (docs/data.md): the chunks must stay protected until the commit that
 * references them. They are protected by the source's committed reference when it is read; an
 * intent naming them is written, then the source is read again and must be the same version —
 * so the reference still held after the intent existed, and the protection never lapsed. A
 * source that changed meanwhile is read again (a few times, then ECONFLICT); one pruned
 * meanwhile fails with the as-of read's error, nothing committed.
 */
import { backoff } from "../backoff.ts";
import { StrataError } from "../errors.ts";
import type { FileSystem, ReadableFileSystem, Stat } from "./api.ts";
import { Intent } from "./chunks.ts";
import {
  type Call,
  checkAbort,
  fileContent,
  located,
  type PlaneState,
  statOrUndefined,
} from "./plane-state.ts";
import { commitWhole, LOST_RACE_BACKOFF } from "./write.ts";

export interface CopyFileOptions {
  /** EEXIST when `to` exists (otherwise an existing file is replaced). */
  exclusive?: boolean;
  signal?: AbortSignal;
}

/**
 * Test-only: skip the protecting intent and the second read (the counter-check of
 * test/unit/data-copy.test.ts shows a vacuum between the read and the commit then leaves the
 * copy unreadable).
 */
export const UNSAFE_COPY_SWITCHES = { noProtection: false };

export async function copyFile(
  plane: PlaneState,
  fromFs: ReadableFileSystem,
  from: string,
  toFs: FileSystem,
  to: string,
  options: CopyFileOptions = {},
): Promise<Stat> {
  const call: Call = { pfs: toFs.pfs, path: to, signal: options.signal };
  try {
    for (let attempt = 1; ; attempt++) {
      checkAbort(call);
      const source = await fromFs.stat(from);
      const content = fileContent(source, { pfs: fromFs.pfs, path: from, signal: options.signal });
      const chunks = [...new Set((content.extents ?? []).map((e) => e.chunk))];
      let intent: Intent | undefined;
      if (chunks.length > 0 && !UNSAFE_COPY_SWITCHES.noProtection) {
        intent = new Intent({
          store: plane.store,
          pfs: toFs.pfs,
          path: to,
          // No object is written: vacuum has nothing to look for on any volume.
          volumes: [],
          ttlMs: plane.intentTtlMs,
          clock: plane.clock,
        });
        await intent.protect(chunks);
        const again = await fromFs.stat(from);
        if (again.ino !== source.ino || again.tid !== source.tid) {
          await intent.expire();
          if (attempt >= plane.appendAttempts)
            throw new StrataError("ECONFLICT", `${fromFs.pfs}:${from} keeps changing; copy it again`, {
              details: { path: from, pfs: fromFs.pfs },
            });
          await backoff(attempt, LOST_RACE_BACKOFF);
          continue;
        }
      }
      const existing = await statOrUndefined(toFs, to);
      if (existing?.type === "dir")
        throw new StrataError("EISDIR", `${call.pfs}:${to} is a directory; copy to a file path`, {
          details: { path: to, pfs: call.pfs },
        });
      if (existing && options.exclusive)
        throw new StrataError("EEXIST", `${call.pfs}:${to} already exists (exclusive copy)`, {
          details: { path: to, pfs: call.pfs },
        });
      await intent?.beforeCommit();
      const stat = await commitWhole(toFs, to, content, existing !== undefined, {
        exclusive: options.exclusive,
        mode: source.mode & 0o7777,
      });
      await intent?.remove();
      return stat;
    }
  } catch (err) {
    throw located(err, call);
  }
}
