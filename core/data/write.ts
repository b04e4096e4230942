/**
 * The data plane's write half: whole-file writes, appends and truncates, each one engine commit
 * (`create` / `writeContent`) of content stored through core/data/intents.ts; appends and
 * truncates are compare-and-swaps on the version read, retried on a lost race.
 */

import { type BackoffPolicy, backoff } from "../backoff.ts";
import { concatBytes, copyOf } from "../bytes.ts";
import { isStrataError, StrataError } from "../errors.ts";
import type { FileContent } from "../namespace/api.ts";
import type { DataBody, FileSystem, Stat, WriteFileOptions } from "./api.ts";
import { peek, prepend, zeros } from "./chunker.ts";
import { storeContent } from "./intents.ts";
import {
  type Call,
  checkAbort,
  type Extent,
  fileContent,
  located,
  type PlaneState,
  sortedExtents,
  statOrUndefined,
} from "./plane-state.ts";
import { candidatesFor, fetchExtents, stream } from "./read.ts";

export async function writeFile(
  plane: PlaneState,
  fs: FileSystem,
  path: string,
  body: DataBody,
  options: WriteFileOptions = {},
): Promise<Stat> {
  const call: Call = { pfs: fs.pfs, path, signal: options.signal };
  try {
    checkAbort(call);
    // A small file is one engine commit, with no look first (nothing to upload in vain).
    const { head, done, rest } = await peek(body, plane.inlineThreshold);
    if (done) return await commitWhole(fs, path, { size: head.byteLength, inline: head }, false, options);
    const existing = await statOrUndefined(fs, path);
    if (existing?.type === "dir")
      throw new StrataError("EISDIR", `${call.pfs}:${path} is a directory; write to a file path`, {
        details: { path, pfs: call.pfs },
      });
    if (existing && options.exclusive)
      throw new StrataError("EEXIST", `${call.pfs}:${path} already exists (exclusive write)`, {
        details: { path, pfs: call.pfs },
      });
    const source = body instanceof Uint8Array ? body : prepend(head, rest);
    const stored = await storeContent(plane, call, [], 0, source);
    const stat = await commitWhole(fs, path, stored.content, existing !== undefined, options);
    await stored.done();
    return stat;
  } catch (err) {
    throw located(err, call);
  }
}

/**
 * Read-modify-write, safe under concurrency: each attempt reads the live version, stores the new
 * content and commits it only if that version is still live (`writeContent`'s `ifVersion`; a
 * create for a missing file). A lost race re-reads and re-plans, at most `appendAttempts` times.
 * The appended bytes are not held for a retry: they are read back from the chunks the lost
 * attempt uploaded (its intent stays, for vacuum, like any uncommitted upload's).
 */
export async function appendFile(
  plane: PlaneState,
  fs: FileSystem,
  path: string,
  body: DataBody,
  options: { signal?: AbortSignal } = {},
): Promise<Stat> {
  const call: Call = { pfs: fs.pfs, path, signal: options.signal };
  try {
    checkAbort(call);
    let source: DataBody = body;
    for (let attempt = 1; ; attempt++) {
      const existing = await statOrUndefined(fs, path);
      const content = existing ? fileContent(existing, call) : { size: 0 };
      const plan = await appendPlan(plane, call, content, source);
      const stored = await storeContent(plane, call, plan.kept, plan.base, plan.source);
      let stat: Stat;
      try {
        stat = existing
          ? await fs.writeContent(path, stored.content, { ifVersion: existing.tid })
          : await fs.create(path, { content: stored.content });
      } catch (err) {
        // Lost a race: the version changed, the file appeared, or it was unlinked (then it is created).
        const lost = existing
          ? isStrataError(err, "ECONFLICT") || isStrataError(err, "ENOENT")
          : isStrataError(err, "EEXIST");
        if (!lost || attempt >= plane.appendAttempts) throw err;
        source = bytesFrom(plane, call, stored.content, content.size);
        await backoff(attempt, LOST_RACE_BACKOFF);
        continue;
      }
      await stored.done();
      return stat;
    }
  } catch (err) {
    throw located(err, call);
  }
}

/** What an append of `body` to `content` stores: full chunks kept, the partial tail re-chunked. */
async function appendPlan(
  plane: PlaneState,
  call: Call,
  content: FileContent,
  body: DataBody,
): Promise<{ kept: Extent[]; base: number; source: DataBody }> {
  if (content.inline !== undefined || !content.extents || content.extents.length === 0)
    return { kept: [], base: 0, source: prepend(content.inline ?? new Uint8Array(content.size), body) };
  const extents = sortedExtents(content);
  const last = extents.at(-1)!;
  if (last.length === plane.chunkSize && last.offset + last.length === content.size)
    return { kept: extents, base: content.size, source: body };
  // The partial tail chunk is re-chunked with the new bytes; every full chunk is reused.
  const tail = await fetchExtents(plane, call, [last]);
  return { kept: extents.slice(0, -1), base: last.offset, source: prepend(tail[0]!, body) };
}

/** Bytes [from, size) of content stored by this plane (a lost append's own bytes, for its retry). */
function bytesFrom(plane: PlaneState, call: Call, content: FileContent, from: number): DataBody {
  if (content.inline !== undefined || !content.extents)
    return copyOf(content.inline ?? new Uint8Array(content.size), from);
  const wanted = sortedExtents(content).filter((e) => e.offset + e.length > from);
  return (async function* () {
    const candidates = await candidatesFor(
      plane,
      wanted.map((e) => e.chunk),
    );
    yield* stream(plane, call, wanted, candidates, from, content.size);
  })();
}

/** A short jittered pause before re-reading after a lost race (grows with the attempt). */
export const LOST_RACE_BACKOFF: BackoffPolicy = { baseMs: 1, capMs: 100 };

/** Cut or extend, as a compare-and-swap on the version read, retried like appendFile. */
export async function truncate(
  plane: PlaneState,
  fs: FileSystem,
  path: string,
  length: number,
  options: { signal?: AbortSignal } = {},
): Promise<Stat> {
  const call: Call = { pfs: fs.pfs, path, signal: options.signal };
  try {
    if (!Number.isSafeInteger(length) || length < 0)
      throw new StrataError(
        "EINVAL",
        `${call.pfs}:${path}: truncate length ${length} is not an integer ≥ 0`,
        {
          details: { path, pfs: call.pfs },
        },
      );
    for (let attempt = 1; ; attempt++) {
      checkAbort(call);
      const existing = await fs.stat(path);
      const content = fileContent(existing, call);
      try {
        if (length === content.size) return await fs.writeContent(path, content, { ifVersion: existing.tid });
        const plan =
          length > content.size
            ? await appendPlan(plane, call, content, zeros(length - content.size))
            : await truncatePlan(plane, call, content, length);
        const stored = await storeContent(plane, call, plan.kept, plan.base, plan.source);
        const stat = await fs.writeContent(path, stored.content, { ifVersion: existing.tid });
        await stored.done();
        return stat;
      } catch (err) {
        if (!isStrataError(err, "ECONFLICT") || attempt >= plane.appendAttempts) throw err;
        await backoff(attempt, LOST_RACE_BACKOFF);
      }
    }
  } catch (err) {
    throw located(err, call);
  }
}

/** What a truncate to `length` < size stores: chunks below the cut kept, the cut chunk re-stored. */
async function truncatePlan(
  plane: PlaneState,
  call: Call,
  content: FileContent,
  length: number,
): Promise<{ kept: Extent[]; base: number; source: DataBody }> {
  if (content.inline !== undefined || !content.extents || content.extents.length === 0)
    return { kept: [], base: 0, source: copyOf(content.inline ?? new Uint8Array(content.size), 0, length) };
  const extents = sortedExtents(content);
  let kept = extents.filter((e) => e.offset + e.length <= length);
  const cut = extents.find((e) => e.offset < length && e.offset + e.length > length);
  let base = kept.length > 0 ? kept.at(-1)!.offset + kept.at(-1)!.length : 0;
  let source: Uint8Array = new Uint8Array(0);
  if (cut) {
    const bytes = (await fetchExtents(plane, call, [cut]))[0]!;
    source = bytes.subarray(0, length - cut.offset);
    base = cut.offset;
  }
  if (length <= plane.inlineThreshold) {
    // Small again: back inline (the kept chunks are read, the file needs no object any more).
    const prefix = kept.length > 0 ? concatBytes(await fetchExtents(plane, call, kept)) : new Uint8Array(0);
    source = concatBytes([prefix, source]).subarray(0, length);
    kept = [];
    base = 0;
  }
  return { kept, base, source };
}

/** create or writeContent, settling a race with a concurrent create/unlink of the same name (also core/data/copy.ts). */
export async function commitWhole(
  fs: FileSystem,
  path: string,
  content: FileContent,
  exists: boolean,
  options: WriteFileOptions,
): Promise<Stat> {
  const create = () =>
    fs.create(path, { content, ...(options.mode !== undefined ? { mode: options.mode } : {}) });
  if (options.exclusive) return await create();
  // The path may flip between present and missing under us (a racing unlink or create): go back
  // and forth a few times, so a plain write never reports a lost race as ENOENT. A path that
  // keeps flipping is a dangling symlink (create: EEXIST, writeContent: ENOENT): its ENOENT.
  let present = exists;
  let missing: unknown;
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      return present ? await fs.writeContent(path, content) : await create();
    } catch (err) {
      if (!isStrataError(err, present ? "ENOENT" : "EEXIST")) throw err;
      if (present) missing = err;
      present = !present;
    }
  }
  throw missing;
}
