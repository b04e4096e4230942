/**
 * The data plane's read half: stat (as-of through the view given) → extents → instances (one
 * BatchGetItem for every chunk × known volume) → per chunk the best instance → the whole chunk
 * read, its size and CRC32C checked → on ECORRUPT / ENOENT / unreachable the next instance, the
 * bad one reported.
 */

import { concatBytes, copyOf } from "../bytes.ts";
import { isStrataError, StrataError } from "../errors.ts";
import type { Item } from "../metadata/port.ts";
import type { BadInstanceReport, ChunkPlacement, ReadableFileSystem, ReadOptions, Stat } from "./api.ts";
import { chunkObjectKey, chunkPk, decodeInstance, instanceKey } from "./chunk-items.ts";
import { zeros } from "./chunker.ts";
import { markBad, orderCopies, unreadableVerdict } from "./chunks.ts";
import {
  type Call,
  type Candidate,
  checkAbort,
  type Extent,
  fileContent,
  located,
  type PlaneState,
  sortedExtents,
} from "./plane-state.ts";

export async function read(
  plane: PlaneState,
  fs: ReadableFileSystem,
  path: string,
  options: ReadOptions = {},
): Promise<{ stat: Stat; body: AsyncIterable<Uint8Array> }> {
  const call: Call = { pfs: fs.pfs, path, signal: options.signal };
  try {
    checkAbort(call);
    const stat = await fs.stat(path);
    const content = fileContent(stat, call);
    const start = options.start ?? 0;
    const end = Math.min(options.end ?? content.size, content.size);
    if (
      !Number.isSafeInteger(start) ||
      start < 0 ||
      !Number.isSafeInteger(options.end ?? 0) ||
      (options.end ?? 0) < 0
    )
      throw new StrataError("EINVAL", `${call.pfs}:${path}: range start/end must be integers ≥ 0`, {
        details: { path, pfs: call.pfs, start: options.start, end: options.end },
      });
    if (options.end !== undefined && options.end < start)
      throw new StrataError(
        "EINVAL",
        `${call.pfs}:${path}: range end ${options.end} is before start ${start}`,
        {
          details: { path, pfs: call.pfs, start, end: options.end },
        },
      );
    if (start >= end) return { stat, body: (async function* () {})() };
    if (content.inline !== undefined || !content.extents) {
      const inline = content.inline ?? new Uint8Array(content.size);
      return {
        stat,
        body: (async function* () {
          yield copyOf(inline, start, end);
        })(),
      };
    }
    const wanted = sortedExtents(content).filter((e) => e.offset < end && e.offset + e.length > start);
    const candidates = await candidatesFor(
      plane,
      wanted.map((e) => e.chunk),
    );
    return { stat, body: stream(plane, call, wanted, candidates, start, end) };
  } catch (err) {
    throw located(err, call);
  }
}

export async function readFile(
  plane: PlaneState,
  fs: ReadableFileSystem,
  path: string,
  options: { signal?: AbortSignal } = {},
): Promise<Uint8Array> {
  const { stat, body } = await read(plane, fs, path, options);
  const size = stat.content?.size ?? 0;
  const out = new Uint8Array(size);
  let at = 0;
  for await (const piece of body) {
    out.set(piece, at);
    at += piece.byteLength;
  }
  return at === size ? out : out.subarray(0, at);
}

export async function placement(
  plane: PlaneState,
  fs: ReadableFileSystem,
  path: string,
): Promise<ChunkPlacement[]> {
  const call: Call = { pfs: fs.pfs, path, signal: undefined };
  try {
    await plane.refreshVolumes();
    const stat = await fs.stat(path);
    const content = fileContent(stat, call);
    if (content.inline !== undefined || !content.extents) return [];
    const extents = sortedExtents(content);
    const byChunk = new Map<string, ChunkPlacement["instances"]>();
    for (const sha of new Set(extents.map((e) => e.chunk))) {
      const instances: ChunkPlacement["instances"] = [];
      let cursor: string | undefined;
      do {
        const page = await plane.store.query(chunkPk(sha), {
          sk: { op: "beginsWith", value: "inst#" },
          cursor,
        });
        for (const item of page.items) {
          const r = decodeInstance(item);
          const site = plane.volumes.get(r.volume)?.site;
          instances.push({ volume: r.volume, state: r.state, ...(site !== undefined ? { site } : {}) });
        }
        cursor = page.cursor;
      } while (cursor !== undefined);
      byChunk.set(sha, instances);
    }
    return extents.map((e) => ({ ...e, instances: byChunk.get(e.chunk) ?? [] }));
  } catch (err) {
    throw located(err, call);
  }
}

/** Recorded instances of each chunk on the volumes this plane knows: one BatchGetItem per 100. */
export async function candidatesFor(plane: PlaneState, chunks: string[]): Promise<Map<string, Candidate[]>> {
  await plane.refreshVolumes();
  const unique = [...new Set(chunks)];
  const names = [...plane.volumes.keys()];
  const keys = unique.flatMap((sha) => names.map((v) => instanceKey(sha, v)));
  const items = keys.length > 0 ? await plane.store.batchGet(keys) : [];
  const out = new Map<string, Candidate[]>();
  unique.forEach((sha, i) => {
    const recorded: Candidate[] = [];
    names.forEach((name, j) => {
      const item: Item | undefined = items[i * names.length + j];
      if (item) recorded.push({ name, entry: plane.volumes.get(name)!, state: decodeInstance(item).state });
    });
    // No record at all (records lost, or written by a tool that skipped them): try every volume.
    out.set(
      sha,
      recorded.length > 0
        ? recorded
        : names.map((name) => ({ name, entry: plane.volumes.get(name)!, state: undefined })),
    );
  });
  return out;
}

/** Instances in the order they are tried: the chunk lifecycle's one chooser (`orderCopies`). */
function order(plane: PlaneState, candidates: Candidate[]): Candidate[] {
  const now = plane.clock();
  return orderCopies(
    candidates.map((c) => ({
      c,
      volume: c.name,
      state: c.state,
      site: c.entry.site,
      cost: c.entry.cost,
      failures: plane.health.recent(c.name, now),
    })),
    { site: plane.site },
  ).map((x) => x.c);
}

export async function* stream(
  plane: PlaneState,
  call: Call,
  wanted: Extent[],
  candidates: Map<string, Candidate[]>,
  start: number,
  end: number,
): AsyncGenerator<Uint8Array, void, undefined> {
  // Read-ahead of `parallelism` chunks; cancelled when the consumer stops early.
  const stop = new AbortController();
  const signal = call.signal ? AbortSignal.any([call.signal, stop.signal]) : stop.signal;
  const inner: Call = { ...call, signal };
  const window: Promise<Uint8Array[]>[] = [];
  let next = 0;
  const launch = () => {
    while (window.length < plane.parallelism && next < wanted.length) {
      const extent = wanted[next++]!;
      const fetch = fetchChunk(plane, inner, extent, candidates.get(extent.chunk) ?? []);
      fetch.catch(() => {});
      window.push(fetch);
    }
  };
  let pos = start;
  try {
    for (const extent of wanted) {
      launch();
      let pieces: Uint8Array[];
      try {
        pieces = await window.shift()!;
      } catch (err) {
        throw located(err, call);
      }
      if (extent.offset > pos) yield* zeros(extent.offset - pos);
      const from = Math.max(start, extent.offset) - extent.offset;
      const to = Math.min(end, extent.offset + extent.length) - extent.offset;
      yield* slicePieces(pieces, from, to);
      pos = extent.offset + to;
    }
    if (pos < end) yield* zeros(end - pos);
  } finally {
    stop.abort();
  }
}

/** The bytes of whole extents, in order (for append and truncate, which re-chunk a tail). */
export async function fetchExtents(plane: PlaneState, call: Call, extents: Extent[]): Promise<Uint8Array[]> {
  const candidates = await candidatesFor(
    plane,
    extents.map((e) => e.chunk),
  );
  const out: Uint8Array[] = [];
  for (const e of extents) {
    out.push(concatBytes(await fetchChunk(plane, call, e, candidates.get(e.chunk) ?? []), e.length));
  }
  return out;
}

/**
 * One whole chunk as the pieces the volume streamed (not copied into one buffer: the read path
 * hands them on), verified twice before any is handed out: by the Volume (the object's own
 * CRC32C, on a full read) and here against the extent's CRC32C and length (so a wrong object
 * under the key is caught too). A volume failing mid-body with a retryable error is read once more.
 */
async function fetchChunk(
  plane: PlaneState,
  call: Call,
  extent: Extent,
  candidates: Candidate[],
): Promise<Uint8Array[]> {
  const key = chunkObjectKey(extent.chunk);
  const tried: Array<{ volume: string; code: string }> = [];
  for (const c of order(plane, candidates)) {
    checkAbort(call);
    try {
      let attempt = 0;
      for (;;) {
        try {
          return await readChunkFrom(c, key, extent, call.signal);
        } catch (err) {
          if (attempt++ > 0 || !isStrataError(err) || !err.retryable || call.signal?.aborted) throw err;
        }
      }
    } catch (err) {
      if (call.signal?.aborted) throw err;
      const code = isStrataError(err) ? err.code : "EIO";
      tried.push({ volume: c.name, code });
      const state = code === "ECORRUPT" ? "corrupt" : code === "ENOENT" ? "missing" : "unavailable";
      await reportBad(plane, call, extent, c, state, err);
    }
  }
  throw new StrataError(
    unreadableVerdict(tried.map((t) => t.code)),
    `${call.pfs}:${call.path}: no instance of chunk ${extent.chunk} (bytes ${extent.offset}..${extent.offset + extent.length}) could be read` +
      ` (${tried.map((t) => `${t.volume}: ${t.code}`).join(", ") || "no volume holds it"}). The scrub repairs from a mirror if one exists`,
    { details: { path: call.path, pfs: call.pfs, chunk: extent.chunk, tried } },
  );
}

async function readChunkFrom(
  c: Candidate,
  key: string,
  extent: Extent,
  signal: AbortSignal | undefined,
): Promise<Uint8Array[]> {
  const wrong = (size: number) =>
    new StrataError(
      "ECORRUPT",
      `volume \`${c.name}\`: chunk ${extent.chunk} has the wrong bytes (size ${size}${size > extent.length ? "+" : ""}, expected ${extent.length} with CRC32C ${extent.crc32c})`,
      { details: { volume: c.name, key, chunk: extent.chunk } },
    );
  // The Volume checks the bytes against the object's recorded size and CRC32C as they stream
  // (throwing ECORRUPT at the end); the object's record must in turn be the extent's.
  const { info, body } = await c.entry.volume.get(key, { signal });
  if (info.size !== extent.length || info.crc32c !== extent.crc32c) {
    await body[Symbol.asyncIterator]().return?.();
    throw wrong(info.size);
  }
  const pieces: Uint8Array[] = [];
  let size = 0;
  for await (const piece of body) {
    size += piece.byteLength;
    if (size > extent.length) throw wrong(size);
    pieces.push(piece);
  }
  if (size !== extent.length) throw wrong(size);
  return pieces;
}

async function reportBad(
  plane: PlaneState,
  call: Call,
  extent: Extent,
  c: Candidate,
  state: BadInstanceReport["state"],
  error: unknown,
): Promise<void> {
  plane.health.failed(c.name);
  if ((state === "corrupt" || state === "missing") && c.state !== undefined) {
    try {
      if (await markBad(plane.store, instanceKey(extent.chunk, c.name), state, plane.clock()))
        c.state = state;
    } catch {
      // Recording is advisory (the scrub re-checks); the read goes on with the next instance.
    }
  }
  try {
    plane.onBadInstance?.({
      chunk: extent.chunk,
      volume: c.name,
      state,
      path: call.path,
      pfs: call.pfs,
      error,
    });
  } catch {
    // A reporting hook must not break the read.
  }
}

/** Bytes [from, to) of a chunk held as consecutive pieces. */
function* slicePieces(pieces: Uint8Array[], from: number, to: number): Generator<Uint8Array> {
  let at = 0;
  for (const piece of pieces) {
    const end = at + piece.byteLength;
    if (end > from && at < to)
      yield piece.subarray(Math.max(from - at, 0), Math.min(to - at, piece.byteLength));
    at = end;
    if (at >= to) return;
  }
}
