/**
 * `rm -r` and `batch` over a FileSystem: a tree removed deepest first in small batches, and the
 * SDK's batch ops translated to the engine's.
 */
import { isStrataError, strataError } from "../../core/errors.ts";
import type { BatchOp, FileContent, FileSystem } from "../../core/namespace/api.ts";
import { BATCH_INLINE_MAX, type SdkBatchOp } from "../types.ts";
import { encode, toMs } from "./args.ts";
import { checkSignal } from "./errors.ts";

/** Entries per readdir page (opendir, rm -r). */
export const DEFAULT_PAGE = 1000;

/** Unlinks per batch in `rm -r` (the engine takes ≤ 100 ops and ≤ 100 items per transaction). */
const RM_BATCH = 20;

/** Remove everything below `path`, deepest first, then `path` itself. */
export async function removeTree(
  fs: FileSystem,
  path: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const prefix = path.endsWith("/") ? path : `${path}/`;
  for (;;) {
    checkSignal(path, signal);
    // Always list from the start: everything listed is removed, so the next page starts afresh.
    const page = await fs.readdir(path, { limit: DEFAULT_PAGE });
    if (page.entries.length === 0) break;
    const leaves: string[] = [];
    for (const entry of page.entries) {
      if (entry.type !== "dir") {
        leaves.push(prefix + entry.name);
        continue;
      }
      checkSignal(path, signal);
      try {
        await removeTree(fs, prefix + entry.name, signal);
      } catch (err) {
        if (!isStrataError(err, "ENOENT")) throw err; // removed by someone else meanwhile
      }
    }
    for (let i = 0; i < leaves.length; i += RM_BATCH) {
      checkSignal(path, signal);
      await unlinkAll(fs, leaves.slice(i, i + RM_BATCH));
    }
  }
  if (path !== "/") await fs.rmdir(path);
}

/** Unlink files and symlinks, several per commit; a name already gone is not an error. */
async function unlinkAll(fs: FileSystem, paths: string[]): Promise<void> {
  if (paths.length === 1) {
    try {
      await fs.unlink(paths[0]!);
    } catch (err) {
      if (!isStrataError(err, "ENOENT")) throw err;
    }
    return;
  }
  try {
    await fs.batch(paths.map((p) => ({ op: "unlink", path: p })));
  } catch (err) {
    // Too big for one transaction: halve. A name removed meanwhile: one at a time, skipping it.
    if (isStrataError(err, "E2BIG")) {
      const half = Math.ceil(paths.length / 2);
      await unlinkAll(fs, paths.slice(0, half));
      await unlinkAll(fs, paths.slice(half));
    } else if (isStrataError(err, "ENOENT")) {
      for (const p of paths) await unlinkAll(fs, [p]);
    } else {
      throw err;
    }
  }
}

async function exists(fs: FileSystem, path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch (err) {
    if (isStrataError(err, "ENOENT") || isStrataError(err, "ENOTDIR")) return false;
    throw err;
  }
}

export async function toEngineOps(fs: FileSystem, ops: SdkBatchOp[]): Promise<BatchOp[]> {
  if (!Array.isArray(ops)) throw strataError("EINVAL", "batch takes an array of ops");
  const out: BatchOp[] = [];
  for (const [index, op] of ops.entries()) {
    if (typeof op !== "object" || op === null)
      throw strataError("EINVAL", `batch op ${index} must be an object like { op: "mkdir", path }`, {
        index,
      });
    switch (op.op) {
      case "mkdir":
        out.push({ op: "mkdir", path: op.path, mode: op.mode });
        break;
      case "writeFile": {
        const bytes = typeof op.data === "string" ? encode(op.data) : op.data;
        if (!(bytes instanceof Uint8Array) || bytes.length > BATCH_INLINE_MAX) {
          throw strataError(
            "E2BIG",
            `batch op ${index} (writeFile ${op.path}) carries ${bytes.length} bytes; a batch writes at most ${BATCH_INLINE_MAX} bytes per file. Write larger files with writeFile first and batch the renames.`,
            { path: op.path, index, op: op.op },
          );
        }
        const content: FileContent = { size: bytes.length, inline: bytes };
        // The engine refuses blind creates inside batches: decide create vs replace from the
        // state before the batch (a file created earlier in the same batch is not seen here).
        if (await exists(fs, op.path)) out.push({ op: "writeContent", path: op.path, content });
        else out.push({ op: "create", path: op.path, options: { content, mode: op.mode } });
        break;
      }
      case "unlink":
      case "rmdir":
        out.push({ op: op.op, path: op.path });
        break;
      case "rename":
        out.push({ op: "rename", from: op.from, to: op.to });
        break;
      case "symlink":
        out.push({ op: "symlink", target: op.target, path: op.path });
        break;
      case "link":
        out.push({ op: "link", existing: op.existing, path: op.path });
        break;
      case "chmod":
        out.push({ op: "setattr", path: op.path, attrs: { mode: op.mode } });
        break;
      case "chown":
        out.push({ op: "setattr", path: op.path, attrs: { uid: op.uid, gid: op.gid } });
        break;
      case "utimes":
        out.push({
          op: "setattr",
          path: op.path,
          attrs: { atimeMs: toMs(op.atime, op.path), mtimeMs: toMs(op.mtime, op.path) },
        });
        break;
      case "setTag":
        out.push({ op: "setTag", path: op.path, key: op.key, value: op.value });
        break;
      case "removeTag":
        out.push({ op: "removeTag", path: op.path, key: op.key });
        break;
      default:
        throw strataError("EINVAL", `batch op ${index} has an unknown kind ${(op as { op: unknown }).op}`, {
          index,
        });
    }
  }
  return out;
}
