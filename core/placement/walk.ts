/** The walk over the files at or under a path, resumable after any path (the sweeper's cursor). */

import { isStrataError } from "../errors.ts";
import type { FileSystem } from "../namespace/api.ts";
import { formatPath, parsePath } from "../namespace/path.ts";
import { compareUtf8 } from "../text.ts";
import { clean, type PlacementContext } from "./context.ts";
import type { ScopedView } from "./types.ts";

const MAX_WALK = 100_000;

/**
 * Every file at or under `path`, or the path itself when it is a file: depth first in name order
 * (UTF-8 bytes, as readdir sorts), so a walk can resume after any path (`after`, exclusive) — the
 * sweeper's cursor — skipping whole subtrees that sort before it.
 */
export async function* filesUnder(
  ctx: PlacementContext,

  pfs: string,
  path: string,
  options: { after?: string; view?: ScopedView } = {},
): AsyncGenerator<string> {
  const fs = options.view?.fs ?? ctx.namespace.pfs(pfs);
  const top = await fs.stat(path);
  const after = options.after === undefined ? undefined : parsePath(options.after);
  if (top.type !== "dir") {
    if (!after || compareComponents(parsePath(path), after) > 0) yield clean(path);
    return;
  }
  let seen = 0;
  const walk = async function* (dir: string[]): AsyncGenerator<string> {
    let cursor: string | undefined;
    do {
      let page: Awaited<ReturnType<FileSystem["readdir"]>>;
      try {
        page = await fs.readdir(formatPath(dir), { cursor });
      } catch (err) {
        if (isStrataError(err, "ENOENT") || isStrataError(err, "ENOTDIR")) return;
        throw err;
      }
      for (const e of page.entries) {
        const p = [...dir, e.name];
        if (e.type === "dir") {
          // Skipped when it sorts before the cursor and does not contain it.
          const holdsCursor =
            after !== undefined &&
            after.length > p.length &&
            compareComponents(p, after.slice(0, p.length)) === 0;
          if (after && !holdsCursor && compareComponents(p, after) < 0) continue;
          yield* walk(p);
        } else if (e.type === "file") {
          if (after && compareComponents(p, after) <= 0) continue;
          if (++seen > MAX_WALK) return;
          yield formatPath(p);
        }
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
  };
  yield* walk(parsePath(path));
}

/** Paths compared name by name, each name by UTF-8 bytes (readdir's order). */
function compareComponents(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    return compareUtf8(a[i]!, b[i]!);
  }
  return a.length - b.length;
}
