/**
 * The remote SDK's data plane: file bytes go straight between this process and the volumes by
 * presigned URL (docs/http-api.md "Bytes"): chunked and hashed here (SHA-256 via node:crypto,
 * CRC32C via core/crc32c.ts), uploaded by PUT, committed by reference; read by GET, checked
 * (length + CRC32C) before any byte is handed out, the next source tried on a failure and the bad
 * one reported.
 */
import { createHash } from "node:crypto";
import { type BackoffPolicy, backoff } from "../../core/backoff.ts";
import { collectBytes, concatBytes, copyOf } from "../../core/bytes.ts";
import { mapLimit } from "../../core/concurrency.ts";
import type { ChunkPlacement, DataBody, DataPlane } from "../../core/data/api.ts";
import { type Extent, extentOf, fixedChunks, peek, prepend } from "../../core/data/chunker.ts";
import { type CopyCandidate, isChunk, orderCopies, unreadableVerdict } from "../../core/data/chunks.ts";
import { ReadHealth } from "../../core/data/health.ts";
import { DATA_DEFAULTS } from "../../core/data/plane-state.ts";
import { isStrataError, type StrataError, strataError } from "../../core/errors.ts";
import type { FileSystem, Stat } from "../../core/namespace/api.ts";
import { checkSignal } from "../client/errors.ts";
import { type RemoteFs, remoteFs } from "./fs.ts";
import { asOfToWire, errorFrom, networkError } from "./rpc.ts";

/** The pause before the next attempt after a lost race: full jitter, 20 ms · attempt. */
const APPEND_BACKOFF: BackoffPolicy = { baseMs: 20, growth: "linear" };

/** A presigned request as the server hands it out. */
interface Presigned {
  url: string;
  method: "GET" | "PUT";
  headers: Record<string, string>;
}

interface ReadExtent {
  offset: number;
  length: number;
  chunk: string;
  crc32c: number;
  /** Best first as the server ordered them (its view of instance states, site and cost). */
  sources: Array<Presigned & { volume: string; state?: string }>;
}

interface ReadInfo {
  stat: Stat;
  inline?: Uint8Array;
  extents: ReadExtent[];
}

interface DataConfig {
  chunkSize: number;
  inlineThreshold: number;
  maxChunks: number;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * The data plane over the API: the bytes move by presigned URL between this process and the
 * volumes. Chunking, extents, the copy order and the chunk check are the embedded plane's
 * (core/data/chunker.ts, chunks.ts, health.ts); what is remote is only the transport.
 */
export class RemoteDataPlane implements DataPlane {
  private readonly configs = new Map<string, Promise<DataConfig>>();
  /** Recent read failures per volume: the chooser's health tie-break, as in the data plane. */
  private readonly health = new ReadHealth(DATA_DEFAULTS.healthWindowMs);

  constructor(private readonly parallelism: number) {}

  private config(fs: RemoteFs): Promise<DataConfig> {
    let cfg = this.configs.get(fs.pfs);
    if (!cfg) {
      cfg = fs.call<DataConfig>("data.config", {});
      cfg.catch(() => this.configs.delete(fs.pfs));
      this.configs.set(fs.pfs, cfg);
    }
    return cfg;
  }

  private async put(
    request: Presigned,
    bytes: Uint8Array,
    path: string,
    signal?: AbortSignal,
  ): Promise<void> {
    let res: Response;
    try {
      res = await fetch(request.url, {
        method: request.method,
        headers: request.headers,
        body: bytes,
        signal,
      });
      await res.arrayBuffer();
    } catch (err) {
      throw networkError(err, `uploading a chunk of ${path}`, signal);
    }
    if (!res.ok) throw errorFrom(res.status, "", `the volume (uploading a chunk of ${path})`);
  }

  /** One whole chunk from its sources, verified; a bad source is reported and the next one tried. */
  private async fetchChunk(
    fs: RemoteFs,
    path: string,
    e: ReadExtent,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    const tried: string[] = [];
    const codes: string[] = []; // per copy tried: the plane's one verdict reads them
    let last: StrataError | undefined;
    const now = Date.now();
    // The chunk lifecycle's one chooser (core/data/chunks.ts): the server's order, then this
    // client's recent failures per volume.
    const ordered = orderCopies(
      e.sources.map((source) => ({
        source,
        volume: source.volume,
        state: (source.state ?? "unknown") as CopyCandidate["state"],
        failures: this.health.recent(source.volume, now),
      })),
      {},
    ).map((c) => c.source);
    for (const source of ordered) {
      checkSignal(path, signal);
      tried.push(source.volume);
      let bytes: Uint8Array;
      try {
        const res = await fetch(source.url, { method: "GET", headers: source.headers, signal });
        if (!res.ok) {
          const text = await res.text();
          last =
            res.status === 404
              ? strataError("ENOENT", `chunk ${e.chunk} is missing on ${source.volume}`)
              : errorFrom(res.status, text, `volume ${source.volume}`);
          if (res.status === 404) void this.report(fs, path, e.chunk, source.volume);
          codes.push(last.code);
          this.health.failed(source.volume);
          continue;
        }
        bytes = new Uint8Array(await res.arrayBuffer());
      } catch (err) {
        if (signal?.aborted) throw networkError(err, `reading ${path}`, signal);
        last = networkError(err, `reading chunk ${e.chunk} from ${source.volume}`);
        codes.push(last.code);
        this.health.failed(source.volume);
        continue;
      }
      if (isChunk({ chunk: e.chunk, size: e.length, crc32c: e.crc32c }, bytes)) return bytes;
      this.health.failed(source.volume);
      last = strataError(
        "ECORRUPT",
        `chunk ${e.chunk} from volume ${source.volume} failed its CRC32C or length check`,
      );
      codes.push(last.code);
      void this.report(fs, path, e.chunk, source.volume);
    }
    throw strataError(
      unreadableVerdict(codes),
      `no source of chunk ${e.chunk} of ${fs.pfs}:${path} gave its bytes (tried ${tried.join(", ") || "none"})`,
      {
        path,
        pfs: fs.pfs,
        chunk: e.chunk,
        tried,
      },
      last,
    );
  }

  private async report(fs: RemoteFs, path: string, chunk: string, volume: string): Promise<void> {
    const at = fs.point === undefined ? {} : { asOf: asOfToWire(fs.point) };
    await fs.call("fs.reportBadInstance", { path, chunk, volume, ...at }).catch(() => {});
  }

  private info(
    fs: RemoteFs,
    path: string,
    range: { start?: number; end?: number } = {},
    signal?: AbortSignal,
  ) {
    return fs.call<ReadInfo>(
      "fs.read",
      {
        path,
        start: range.start,
        end: range.end,
        ...(fs.point === undefined ? {} : { asOf: asOfToWire(fs.point) }),
      },
      signal,
    );
  }

  /** Upload `body` as chunks in session `uploadId` → the extents, starting at `offset`. */
  private async uploadChunks(
    fs: RemoteFs,
    path: string,
    uploadId: string,
    body: DataBody,
    offset: number,
    cfg: DataConfig,
    signal?: AbortSignal,
  ): Promise<Extent[]> {
    const extents: Extent[] = [];
    let at = offset;
    let batch: Array<{ bytes: Uint8Array; extent: Extent }> = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const current = batch;
      batch = [];
      const { chunks } = await fs.call<{
        chunks: Array<{ sha256: string; present: boolean; upload?: Presigned }>;
      }>(
        "upload.chunks",
        {
          uploadId,
          chunks: current.map((c) => ({
            sha256: c.extent.chunk,
            size: c.extent.length,
            crc32c: c.extent.crc32c,
          })),
        },
        signal,
      );
      const uploads = current.flatMap((c, i) => {
        const upload = chunks[i]?.upload;
        return chunks[i]?.present || !upload ? [] : [{ bytes: c.bytes, upload }];
      });
      await mapLimit(uploads, this.parallelism, (u) => this.put(u.upload, u.bytes, path, signal));
    };
    // fixedChunks copies stream pieces; a Uint8Array body is sliced, and the caller awaits us.
    for await (const bytes of fixedChunks(body, cfg.chunkSize, signal)) {
      checkSignal(path, signal);
      const extent = extentOf(bytes, at, sha256Hex(bytes));
      at += bytes.byteLength;
      extents.push(extent);
      if (extents.length > cfg.maxChunks)
        throw strataError("E2BIG", `${path} would need more than ${cfg.maxChunks} chunks`, {
          path,
          pfs: fs.pfs,
        });
      batch.push({ bytes, extent });
      if (batch.length >= this.parallelism) await flush();
    }
    await flush();
    return extents;
  }

  /** Commit inline bytes, or upload and commit chunks. */
  private async store(
    fs: RemoteFs,
    path: string,
    head: Uint8Array,
    rest: DataBody | undefined,
    kept: { extents: Extent[]; size: number },
    commit: { exclusive?: boolean; ifVersion?: string; mode?: number },
    signal?: AbortSignal,
  ): Promise<Stat> {
    const cfg = await this.config(fs);
    checkSignal(path, signal);
    commit = { exclusive: commit.exclusive, ifVersion: commit.ifVersion, mode: commit.mode };
    if (rest === undefined && kept.extents.length === 0 && head.byteLength <= cfg.inlineThreshold)
      return fs.call<Stat>("upload.commit", { path, inline: head, ...commit }, signal);
    const { uploadId } = await fs.call<{ uploadId: string }>("upload.begin", { path }, signal);
    const body = rest === undefined ? head : prepend(head, rest);
    const added = await this.uploadChunks(fs, path, uploadId, body, kept.size, cfg, signal);
    const extents = [...kept.extents, ...added];
    const size = extents.reduce((n, e) => n + e.length, 0);
    checkSignal(path, signal);
    return fs.call<Stat>("upload.commit", { path, uploadId, content: { size, extents }, ...commit }, signal);
  }

  async writeFile(
    fsIn: FileSystem,
    path: string,
    body: DataBody,
    options: { mode?: number; exclusive?: boolean; signal?: AbortSignal } = {},
  ): Promise<Stat> {
    const fs = remoteFs(fsIn);
    const { signal } = options;
    checkSignal(path, signal);
    const cfg = await this.config(fs);
    const peeked = await peek(body, cfg.inlineThreshold);
    // Inline: the whole body in `head`. Else nothing in `head`; a Uint8Array is chunked as it is.
    const head = peeked.done ? peeked.head : new Uint8Array(0);
    const rest = peeked.done
      ? undefined
      : body instanceof Uint8Array
        ? body
        : prepend(peeked.head, peeked.rest);
    checkSignal(path, signal);
    if (rest !== undefined && options.exclusive) {
      // Fail before uploading anything (the commit checks again).
      const exists = await fs.lstat(path).then(
        () => true,
        (err) => (isStrataError(err, "ENOENT") ? false : Promise.reject(err)),
      );
      if (exists)
        throw strataError("EEXIST", `${fs.pfs}:${path} already exists (exclusive write)`, {
          path,
          pfs: fs.pfs,
        });
    }
    return this.store(fs, path, head, rest, { extents: [], size: 0 }, options, signal);
  }

  /**
   * Rewrite the end of a file with compare-and-swap: keep its whole chunks below `keepBelow`,
   * replace the rest by `tail(oldBytesFromKeptEnd)`. Retried on ECONFLICT. The appended bytes are
   * held in memory (a remote append does not stream).
   */
  private async rewriteTail(
    fs: RemoteFs,
    path: string,
    plan: (
      info: ReadInfo | undefined,
      cfg: DataConfig,
    ) => { keepBelow: number; tail: (old: Uint8Array) => Uint8Array },
    signal?: AbortSignal,
  ): Promise<Stat> {
    const cfg = await this.config(fs);
    for (let attempt = 1; ; attempt++) {
      checkSignal(path, signal);
      const info = await this.info(fs, path, {}, signal).catch((err) =>
        isStrataError(err, "ENOENT") ? undefined : Promise.reject(err),
      );
      const { keepBelow, tail } = plan(info, cfg);
      const extents = info?.extents ?? [];
      // Whole chunks from the start of the file up to the cut are kept as they are.
      const kept: ReadExtent[] = [];
      for (const e of info?.inline ? [] : extents) {
        if (e.offset + e.length > keepBelow || e.length !== cfg.chunkSize) break;
        kept.push(e);
      }
      const keptSize = kept.reduce((n, e) => n + e.length, 0);
      const oldEnd = info ? Math.min(info.stat.size, Math.max(keepBelow, keptSize)) : 0;
      const old = info ? await this.bytesOf(fs, path, info, keptSize, oldEnd, signal) : new Uint8Array(0);
      let bytes = tail(old);
      let keptExtents: Extent[] = kept.map(({ offset, length, chunk, crc32c }) => ({
        offset,
        length,
        chunk,
        crc32c,
      }));
      if (keptSize + bytes.byteLength <= cfg.inlineThreshold && keptSize > 0) {
        bytes = concatBytes([await this.bytesOf(fs, path, info!, 0, keptSize, signal), bytes]);
        keptExtents = [];
      }
      const commit = info ? { ifVersion: info.stat.tid } : { exclusive: true };
      try {
        return await this.store(
          fs,
          path,
          bytes,
          keptExtents.length > 0 || bytes.byteLength > cfg.inlineThreshold ? new Uint8Array(0) : undefined,
          { extents: keptExtents, size: keptExtents.length > 0 ? keptSize : 0 },
          commit,
          signal,
        );
      } catch (err) {
        const lost = isStrataError(err, "ECONFLICT") || (!info && isStrataError(err, "EEXIST"));
        if (!lost || attempt >= DATA_DEFAULTS.appendAttempts) throw err;
        await backoff(attempt, APPEND_BACKOFF);
      }
    }
  }

  /** Bytes [start, end) of the file described by `info`. */
  private async bytesOf(
    fs: RemoteFs,
    path: string,
    info: ReadInfo,
    start: number,
    end: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    if (end <= start) return new Uint8Array(0);
    if (info.inline) return copyOf(info.inline, start, end);
    const parts: Uint8Array[] = [];
    for (const e of info.extents) {
      if (e.offset >= end || e.offset + e.length <= start) continue;
      const chunk = await this.fetchChunk(fs, path, e, signal);
      parts.push(chunk.subarray(Math.max(0, start - e.offset), Math.min(e.length, end - e.offset)));
    }
    return concatBytes(parts);
  }

  async appendFile(
    fsIn: FileSystem,
    path: string,
    body: DataBody,
    options: { signal?: AbortSignal } = {},
  ): Promise<Stat> {
    const fs = remoteFs(fsIn);
    const { signal } = options;
    checkSignal(path, signal);
    const added = body instanceof Uint8Array ? body : await collect(body, signal, path);
    return this.rewriteTail(
      fs,
      path,
      (info) => {
        if (info?.stat.type === "dir")
          throw strataError("EISDIR", `${fs.pfs}:${path} is a directory`, { path });
        const size = info?.stat.size ?? 0;
        return { keepBelow: size, tail: (old) => concatBytes([old, added]) };
      },
      signal,
    );
  }

  async truncate(
    fsIn: FileSystem,
    path: string,
    length: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<Stat> {
    const fs = remoteFs(fsIn);
    if (!Number.isSafeInteger(length) || length < 0)
      throw strataError("EINVAL", `truncate length must be a non-negative integer, got ${length}`, { path });
    return this.rewriteTail(
      fs,
      path,
      (info) => {
        if (!info) throw strataError("ENOENT", `${fs.pfs}:${path} does not exist`, { path, pfs: fs.pfs });
        const size = info.stat.size;
        return {
          keepBelow: Math.min(length, size),
          tail: (old) => (length > size ? concatBytes([old, new Uint8Array(length - size)]) : old),
        };
      },
      options.signal,
    );
  }

  async read(
    fsIn: FileSystem,
    path: string,
    options: { start?: number; end?: number; signal?: AbortSignal } = {},
  ): Promise<{ stat: Stat; body: AsyncIterable<Uint8Array> }> {
    const fs = remoteFs(fsIn);
    const { signal } = options;
    checkSignal(path, signal);
    const info = await this.info(fs, path, options, signal);
    const size = info.stat.size;
    const start = Math.min(options.start ?? 0, size);
    const end = Math.max(start, Math.min(options.end ?? size, size));
    const self = this;
    async function* body(): AsyncGenerator<Uint8Array> {
      if (info.inline) {
        if (end > start) yield copyOf(info.inline, start, end);
        return;
      }
      const wanted = info.extents.filter((e) => e.offset < end && e.offset + e.length > start);
      // Read ahead: up to `parallelism` chunks in flight, handed out in order.
      const pending: Array<Promise<Uint8Array>> = [];
      let next = 0;
      const fill = () => {
        while (pending.length < self.parallelism && next < wanted.length) {
          const p = self.fetchChunk(fs, path, wanted[next++]!, signal);
          p.catch(() => {});
          pending.push(p);
        }
      };
      for (const e of wanted) {
        fill();
        const bytes = await pending.shift()!;
        checkSignal(path, signal);
        yield bytes.subarray(Math.max(0, start - e.offset), Math.min(e.length, end - e.offset));
      }
    }
    return { stat: info.stat, body: body() };
  }

  async readFile(fs: FileSystem, path: string, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const { body } = await this.read(fs, path, options);
    return collect(body, options.signal, path);
  }

  async placement(fsIn: FileSystem, path: string): Promise<ChunkPlacement[]> {
    const fs = remoteFs(fsIn);
    const input: Record<string, unknown> = { path };
    if (fs.point !== undefined) input.asOf = asOfToWire(fs.point);
    return (await fs.call<{ placement: ChunkPlacement[] }>("fs.placement", input)).placement;
  }

  /** One `fs.copyFile` call: the server commits the copy by reference (core/data/copy.ts). */
  async copyFile(
    fromIn: FileSystem,
    from: string,
    toIn: FileSystem,
    to: string,
    options: { exclusive?: boolean; signal?: AbortSignal } = {},
  ): Promise<Stat> {
    const source = remoteFs(fromIn);
    const fs = remoteFs(toIn);
    if (source.pfs !== fs.pfs)
      throw strataError("EXDEV", `copy from PFS ${source.pfs} to ${fs.pfs}: a remote copy stays in one PFS`, {
        path: from,
      });
    checkSignal(to, options.signal);
    const input: Record<string, unknown> = { from, to };
    if (source.point !== undefined) input.asOf = asOfToWire(source.point);
    if (options.exclusive) input.exclusive = true;
    return await fs.call<Stat>("fs.copyFile", input);
  }
}

/** The whole body in memory; an abort is EABORTED with the path (core collectBytes throws the reason). */
async function collect(
  body: AsyncIterable<Uint8Array>,
  signal: AbortSignal | undefined,
  path: string,
): Promise<Uint8Array> {
  try {
    return await collectBytes(body, signal);
  } catch (err) {
    if (signal?.aborted && err === signal.reason) checkSignal(path, signal);
    throw err;
  }
}
