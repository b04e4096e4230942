/**
 * Content stored under an intent: chunk, hash, announce (the intent item names each chunk before
 * its upload), upload onto every target volume through the chunk lifecycle, record the instances.
 * The write half (core/data/write.ts) commits what this returns and then drops the intent.
 */

import { StrataError } from "../errors.ts";
import type { Item } from "../metadata/port.ts";
import type { FileContent } from "../namespace/api.ts";
import type { DataBody } from "./api.ts";
import { instanceKey } from "./chunk-items.ts";
import { extentOf, fixedChunks, peek, prepend } from "./chunker.ts";
import {
  ensureInstance,
  Intent,
  recordAfterSettle,
  recordPresent,
  UNSAFE_LIFECYCLE_SWITCHES,
} from "./chunks.ts";
import { type Call, checkAbort, DATA_DEFAULTS, type Extent, type PlaneState } from "./plane-state.ts";

/**
 * Turn `kept` extents + the bytes of `source` (starting at file offset `base`) into the content
 * to commit: inline when nothing is kept and the whole is ≤ inlineThreshold, else chunks stored
 * under an intent. `done()` deletes the intent once the commit succeeded (best effort).
 */
export async function storeContent(
  plane: PlaneState,
  call: Call,
  kept: Extent[],
  base: number,
  source: DataBody,
): Promise<{ content: FileContent; done: () => Promise<void> }> {
  const nothing = async () => {};
  let body: DataBody = source;
  if (kept.length === 0 && base === 0) {
    const { head, done, rest } = await peek(source, plane.inlineThreshold);
    if (done) return { content: { size: head.byteLength, inline: head }, done: nothing };
    body = source instanceof Uint8Array ? source : prepend(head, rest);
  }
  const intent = new Intent({
    store: plane.store,
    pfs: call.pfs,
    path: call.path,
    volumes: await plane.targetVolumes(call),
    ttlMs: plane.intentTtlMs,
    clock: plane.clock,
  });
  const added = await storeChunks(plane, call, body, base, kept.length, intent);
  await intent.beforeCommit();
  const extents = [...kept, ...added];
  const last = extents.at(-1);
  const size = last ? last.offset + last.length : 0;
  return { content: size === 0 ? { size: 0 } : { size, extents }, done: () => intent.remove() };
}

/**
 * Chunk, hash, announce and upload with at most `parallelism` chunks in flight (each task holds
 * its chunk until stored): hashing of one chunk overlaps the uploads of the ones before it.
 *
 * Never returns or throws while an upload of this write is still running: when the body throws,
 * the caller's signal fires or one upload fails, the others are cancelled through the signal the
 * uploads share and then awaited (a caller that retries or cleans up never races its own puts).
 */
async function storeChunks(
  plane: PlaneState,
  call: Call,
  body: DataBody,
  base: number,
  keptCount: number,
  intent: Intent,
): Promise<Extent[]> {
  const extents: Extent[] = [];
  const inflight = new Set<Promise<void>>();
  /** Chunks of this write already being stored, by hash (a file may repeat a chunk). */
  const stored = new Map<string, Promise<void>>();
  const recorded: Item[] = [];
  let failure: { error: unknown } | undefined;
  // Cancels the uploads still running once this write has failed (the caller's signal does too).
  const stop = new AbortController();
  const uploads: Call = {
    ...call,
    signal: call.signal ? AbortSignal.any([call.signal, stop.signal]) : stop.signal,
  };
  let offset = base;
  let index = 0;
  try {
    for await (const chunk of fixedChunks(body, plane.chunkSize)) {
      checkAbort(call);
      if (failure) break;
      if (keptCount + index >= DATA_DEFAULTS.maxChunksPerFile)
        throw new StrataError(
          "E2BIG",
          `${call.pfs}:${call.path}: a file holds at most ${DATA_DEFAULTS.maxChunksPerFile} chunks of ${plane.chunkSize} bytes; use a larger chunkSize`,
          { details: { path: call.path, pfs: call.pfs } },
        );
      const i = index++;
      const at = offset;
      offset += chunk.byteLength;
      const task = (async () => {
        const sha = await plane.sha256(chunk);
        const extent = extentOf(chunk, at, sha);
        extents[i] = extent;
        let storing = stored.get(sha);
        if (!storing) {
          storing = intent.announce(sha).then(() => {
            checkAbort(uploads);
            return storeChunk(plane, uploads, intent.volumes, extent, chunk, recorded);
          });
          stored.set(sha, storing);
        }
        await storing;
      })()
        .catch((error: unknown) => {
          failure ??= { error };
          stop.abort(error);
        })
        .finally(() => inflight.delete(task));
      inflight.add(task);
      while (inflight.size >= plane.parallelism) await Promise.race(inflight);
    }
  } catch (err) {
    stop.abort(err);
    await Promise.allSettled(inflight);
    throw err;
  }
  await Promise.all(inflight);
  if (failure) throw failure.error;
  checkAbort(call);
  // The records are written only while the intent is live and never lapsed. Why that suffices:
  // vacuum deletes an object only after its re-check finds no live intent naming the chunk
  // (expiresAt + its clock-skew allowance past, core/maintenance/vacuum.ts) and then deletes the
  // record it marked. An intent whose expiresAt was always ahead of our clock (within the skew
  // bound of vacuum's) cannot have been seen expired, so no vacuum can have deleted an object of
  // ours yet; one that deletes later must first mark the record we write now (its mark is
  // conditional), and then deletes the record with the object. A lapse — even one a later
  // announcement renewed — fails the write before any record: ETIMEDOUT, and the objects are
  // left to vacuum through the expired intent.
  if (!UNSAFE_LIFECYCLE_SWITCHES.noRecordCheck) await intent.beforeCommit();
  await recordInstances(plane, call, recorded);
  return extents;
}

/**
 * One chunk onto every target volume through the chunk lifecycle (`ensureInstance`: a `deleting`
 * instance waited out, a present one reused, else a create-only put). The new instance records
 * are collected in `recorded` and written together after the last upload (one metadata write
 * per 100 instead of one per chunk: on SQLite each write is an fsync), with their conditions.
 */
async function storeChunk(
  plane: PlaneState,
  call: Call,
  volumes: string[],
  extent: Extent,
  bytes: Uint8Array,
  recorded: Item[],
): Promise<void> {
  const records = await plane.store.batchGet(volumes.map((v) => instanceKey(extent.chunk, v)));
  const ref = { chunk: extent.chunk, size: bytes.byteLength, crc32c: extent.crc32c };
  await Promise.all(
    volumes.map((name, i) =>
      ensureInstance(plane.store, { name, volume: plane.volumes.get(name)!.volume }, ref, () => bytes, {
        clock: plane.clock,
        ...(plane.sleep ? { sleep: plane.sleep } : {}),
        signal: call.signal,
        defer: recorded,
        known: records[i] ?? null,
      }),
    ),
  );
}

/** The deferred instance records, conditionally; any a vacuum marked meanwhile settled and retried. */
async function recordInstances(plane: PlaneState, call: Call, items: Item[]): Promise<void> {
  const failed = await recordPresent(plane.store, items, plane.clock());
  if (failed.length > 0)
    await recordAfterSettle(plane.store, failed, (name) => plane.volumes.get(name)?.volume, {
      clock: plane.clock,
      ...(plane.sleep ? { sleep: plane.sleep } : {}),
      signal: call.signal,
    });
}
