/**
 * The remote {@link Deployment}: the same `Strata` client (sdk/client.ts) over strata's HTTP API.
 * Namespace calls are RPCs (`POST /v1/pfs/{pfs}/ops/{op}`); file bytes go straight between this
 * process and the volumes by presigned URL (docs/http-api.md "Bytes"): chunked and hashed here
 * (SHA-256 via node:crypto, CRC32C via core/crc32c.ts), uploaded by PUT, committed by reference;
 * read by GET, checked (length + CRC32C) before any byte is handed out, the next source tried on
 * a failure and the bad one reported.
 *
 * @example
 * const client = await connect({ endpoint: "http://127.0.0.1:7070", token, pfs: "default" });
 */
import { createHash, randomUUID } from "node:crypto";
import { concatBytes } from "../core/bytes.ts";
import { crc32c } from "../core/crc32c.ts";
import type { ChunkPlacement, DataBody, DataPlane } from "../core/data/api.ts";
import { copyOf, fixedChunks, prepend } from "../core/data/chunker.ts";
import { type CopyCandidate, orderCopies } from "../core/data/chunks.ts";
import { ERROR_CODES, type ErrorCode, isStrataError, StrataError, strataError } from "../core/errors.ts";
import type {
  AsOf,
  BatchOp,
  CreateOptions,
  FileContent,
  FileSystem,
  Namespace,
  PfsInfo,
  ReaddirPage,
  ReadOptions,
  RevertOptions,
  RevertPlan,
  SetAttrs,
  Snapshot,
  Stat,
  Tid,
  Version,
} from "../core/namespace/api.ts";
import { fromWire, toWire } from "../core/wire.ts";
import type { Deployment } from "./client.ts";
import { postJson, type RpcReply } from "./rpc-transport.ts";
import type { CreatedToken, StrataAdmin, TokenInfo, TokenSpec } from "./types.ts";

export interface RemoteDeploymentOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:7070 */
  endpoint: string;
  token?: string;
  /** PFS that `admin.call` uses for PFS-scoped operations when the input names none. */
  pfs?: string;
  /** Chunks uploaded / downloaded at once per call (default 4). */
  parallelism?: number;
  /**
   * Retries of one API call after a network failure or a retryable answer (429, 503, 504), with
   * the call's Idempotency-Key (default 3).
   */
  retries?: number;
  /**
   * TEST-ONLY switch (counter-checks): false sends no Idempotency-Key, so a retried mutating call
   * runs twice. Default true.
   */
  idempotencyKeys?: boolean;
}

const APPEND_ATTEMPTS = 16;

/** A StrataError from an HTTP error body (exact code round trip); EIO/EUNAVAIL when there is none. */
function errorFrom(status: number, text: string, what: string): StrataError {
  try {
    const body = JSON.parse(text) as {
      error?: { code?: string; message?: string; details?: Record<string, unknown> };
    };
    const e = body.error;
    if (e && typeof e.code === "string" && e.code in ERROR_CODES) {
      const message = (e.message ?? "").replace(new RegExp(`^${e.code}: `), "");
      return new StrataError(e.code as ErrorCode, message, {
        details: (fromWire(e.details) as Record<string, unknown>) ?? {},
      });
    }
  } catch {
    // not JSON: fall through
  }
  return strataError(
    status >= 500 ? "EUNAVAIL" : "EIO",
    `${what} answered HTTP ${status}: ${text.slice(0, 200)}`,
    {
      status,
    },
  );
}

function networkError(err: unknown, what: string, signal?: AbortSignal): StrataError {
  if (isStrataError(err)) return err;
  if (signal?.aborted)
    return new StrataError("EABORTED", `${what} was aborted by the caller`, { cause: signal.reason });
  return new StrataError("EUNAVAIL", `${what} failed: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
  });
}

class Rpc {
  constructor(
    readonly endpoint: string,
    private readonly token: string | undefined,
    readonly defaultPfs: string,
    private readonly retries = 3,
    private readonly idempotencyKeys = true,
  ) {}

  /**
   * One API call. It carries a fresh Idempotency-Key (the server honours it for mutating
   * operations), and every retry — after a network failure, whose request may have been applied,
   * or a retryable answer — sends the same key, so a lost reply comes back as the original answer.
   */
  async call<T>(
    op: string,
    input: unknown,
    options: { pfs?: string; signal?: AbortSignal } = {},
  ): Promise<T> {
    const path =
      options.pfs === undefined ? `/v1/ops/${op}` : `/v1/pfs/${encodeURIComponent(options.pfs)}/ops/${op}`;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "x-strata-pfs": encodeURIComponent(this.defaultPfs),
    };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (this.idempotencyKeys) headers["idempotency-key"] = randomUUID();
    let body: string;
    try {
      body = JSON.stringify(toWire(input));
    } catch (err) {
      // e.g. a BigInt or a cyclic object among the arguments: bad input, not a network failure
      throw strataError(
        "EINVAL",
        `${op}: the arguments cannot be sent as JSON: ${(err as Error).message}`,
        { op },
        err,
      );
    }
    for (let attempt = 0; ; attempt++) {
      let res: RpcReply;
      let text: string;
      try {
        try {
          // A keep-alive connection (./rpc-transport.ts): the HTTP path's cost per call.
          res = await postJson(this.endpoint + path, headers, body, options.signal);
          text = res.text;
        } catch (err) {
          throw networkError(err, `${op} at ${this.endpoint}`, options.signal);
        }
        if (!res.ok) throw errorFrom(res.status, text, `${op} at ${this.endpoint}`);
      } catch (err) {
        if (!isStrataError(err) || !err.retryable || attempt >= this.retries || options.signal?.aborted)
          throw err;
        // Full jitter, 25 ms · 2^attempt.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 25 * 2 ** attempt));
        continue;
      }
      return fromWire(JSON.parse(text)) as T;
    }
  }
}

function asOfToWire(point: AsOf): string | { snapshot: string } {
  if (!(point instanceof Date)) return point;
  if (Number.isNaN(point.getTime()))
    throw strataError("EINVAL", "an as-of Date must be a valid time", { asOf: String(point) });
  return point.toISOString();
}

/** A FileSystem (or, with `point`, a read-only as-of view) whose calls are RPCs. */
class RemoteFs implements FileSystem {
  constructor(
    readonly rpc: Rpc,
    readonly pfs: string,
    readonly point?: AsOf,
  ) {}

  call<T>(op: string, input: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    return this.rpc.call<T>(op, input, { pfs: this.pfs, signal });
  }

  /** Read input: the view's point (an explicit `asOf` wins). */
  private at(input: Record<string, unknown>, options?: ReadOptions): Record<string, unknown> {
    const point = options?.asOf ?? this.point;
    return point === undefined ? input : { ...input, asOf: asOfToWire(point) };
  }

  private writable(path: string): void {
    if (this.point !== undefined)
      throw strataError("EROFS", `cannot change ${path}: this is a read-only as-of view`, {
        path,
        pfs: this.pfs,
      });
  }

  stat(path: string, options?: ReadOptions): Promise<Stat> {
    return this.call("fs.stat", this.at({ path }, options));
  }
  lstat(path: string, options?: ReadOptions): Promise<Stat> {
    return this.call("fs.lstat", this.at({ path }, options));
  }
  readdir(path: string, options?: ReadOptions & { cursor?: string; limit?: number }): Promise<ReaddirPage> {
    return this.call(
      "fs.readdir",
      this.at({ path, cursor: options?.cursor, limit: options?.limit }, options),
    );
  }
  async readlink(path: string, options?: ReadOptions): Promise<string> {
    return (await this.call<{ target: string }>("fs.readlink", this.at({ path }, options))).target;
  }
  async getXattr(path: string, name: string, options?: ReadOptions): Promise<Uint8Array> {
    return (await this.call<{ value: Uint8Array }>("fs.getXattr", this.at({ path, name }, options))).value;
  }
  async listXattrs(path: string, options?: ReadOptions): Promise<string[]> {
    return (await this.call<{ names: string[] }>("fs.listXattrs", this.at({ path }, options))).names;
  }
  async getTags(path: string, options?: ReadOptions): Promise<Record<string, string>> {
    return (await this.call<{ tags: Record<string, string> }>("fs.getTags", this.at({ path }, options))).tags;
  }

  mkdir(path: string, options?: { mode?: number; recursive?: boolean }): Promise<Stat> {
    this.writable(path);
    return this.call("fs.mkdir", { path, mode: options?.mode, recursive: options?.recursive });
  }
  /** Files are created through the data plane (upload.commit) or `batch`; this covers inline contents. */
  async create(path: string, options?: CreateOptions): Promise<Stat> {
    await this.batch([{ op: "create", path, options }]);
    return this.lstat(path);
  }
  async writeContent(path: string, content: FileContent): Promise<Stat> {
    await this.batch([{ op: "writeContent", path, content }]);
    return this.lstat(path);
  }
  async rename(from: string, to: string, options?: { noReplace?: boolean }): Promise<void> {
    this.writable(from);
    await this.call("fs.rename", { from, to, noReplace: options?.noReplace });
  }
  async unlink(path: string): Promise<void> {
    this.writable(path);
    await this.call("fs.unlink", { path });
  }
  async rmdir(path: string): Promise<void> {
    this.writable(path);
    await this.call("fs.rmdir", { path });
  }
  symlink(target: string, path: string): Promise<Stat> {
    this.writable(path);
    return this.call("fs.symlink", { target, path });
  }
  link(existing: string, path: string): Promise<Stat> {
    this.writable(path);
    return this.call("fs.link", { existing, path });
  }
  setattr(path: string, attrs: SetAttrs): Promise<Stat> {
    this.writable(path);
    return this.call("fs.setattr", { path, attrs });
  }
  async setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options?: { create?: boolean; replace?: boolean },
  ): Promise<void> {
    this.writable(path);
    await this.call("fs.setXattr", { path, name, value, create: options?.create, replace: options?.replace });
  }
  async removeXattr(path: string, name: string): Promise<void> {
    this.writable(path);
    await this.call("fs.removeXattr", { path, name });
  }
  async setTag(path: string, key: string, value: string): Promise<void> {
    this.writable(path);
    await this.call("fs.setTag", { path, key, value });
  }
  async removeTag(path: string, key: string): Promise<void> {
    this.writable(path);
    await this.call("fs.removeTag", { path, key });
  }
  /** Follows `fs.history`'s pages (each reply ≤ 1 MB) until `limit` versions or the oldest. */
  async history(path: string, options: { limit?: number; before?: Tid } = {}): Promise<Version[]> {
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const out: Version[] = [];
    let cursor = options.before;
    do {
      const page = await this.call<{ versions: Version[]; next?: string }>("fs.history", {
        path,
        limit: Math.min(limit - out.length, HISTORY_PAGE),
        ...(cursor !== undefined ? { cursor } : {}),
      });
      out.push(...page.versions);
      cursor = page.next;
    } while (cursor !== undefined && out.length < limit);
    return out;
  }
  revert(path: string, asOf: AsOf, options: RevertOptions & { dryRun: true }): Promise<RevertPlan>;
  revert(path: string, asOf: AsOf, options?: RevertOptions): Promise<Tid>;
  async revert(path: string, asOf: AsOf, options: RevertOptions = {}): Promise<Tid | RevertPlan> {
    this.writable(path);
    const out = await this.call<{ tid?: Tid; plan?: RevertPlan }>("fs.revert", {
      path,
      asOf: asOfToWire(asOf),
      recursive: options.recursive,
      byPath: options.byPath,
      dryRun: options.dryRun,
    });
    return options.dryRun === true ? out.plan! : out.tid!;
  }
  async batch(ops: BatchOp[]): Promise<Tid> {
    this.writable("/");
    return (await this.call<{ tid: Tid }>("fs.batch", { ops })).tid;
  }
  asOf(point: AsOf): RemoteFs {
    return new RemoteFs(this.rpc, this.pfs, point);
  }
  createSnapshot(name: string, options?: { asOf?: AsOf }): Promise<Snapshot> {
    return this.call("snapshot.create", {
      name,
      asOf: options?.asOf === undefined ? undefined : asOfToWire(options.asOf),
    });
  }
  async listSnapshots(): Promise<Snapshot[]> {
    return allPages(
      (cursor) => this.call<{ snapshots: Snapshot[]; next?: string }>("snapshot.list", { cursor }),
      (p) => p.snapshots,
    );
  }
  async deleteSnapshot(name: string): Promise<void> {
    await this.call("snapshot.delete", { name });
  }
  async currentTid(): Promise<Tid> {
    return (await this.call<{ tid: Tid }>("fs.currentTid", {})).tid;
  }
}

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

/** How long a volume's read failures count against it in this client (as the data plane). */
const SOURCE_HEALTH_MS = 60_000;

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

type Extent = NonNullable<FileContent["extents"]>[number];

function remoteFs(fs: unknown): RemoteFs {
  if (fs instanceof RemoteFs) return fs;
  throw strataError("EINVAL", "the remote data plane works on file systems of the same remote deployment");
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function checkSignal(signal: AbortSignal | undefined, path: string): void {
  if (signal?.aborted)
    throw new StrataError("EABORTED", `the operation on ${path} was aborted by the caller`, {
      details: { path },
      cause: signal.reason,
    });
}

/** Run `task` over `items` with at most `limit` at once; the first failure rejects (others awaited). */
async function eachLimited<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const item = items[next++]!;
      try {
        await task(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

class RemoteDataPlane implements DataPlane {
  private readonly configs = new Map<string, Promise<DataConfig>>();
  /** Recent read failures per volume (times): the chooser's health tie-break, as in the data plane. */
  private readonly failures = new Map<string, number[]>();

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

  // ---- bytes to and from volumes ----

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
    let last: StrataError | undefined;
    const now = Date.now();
    const recent = (volume: string) =>
      (this.failures.get(volume) ?? []).filter((t) => now - t < SOURCE_HEALTH_MS).length;
    const failed = (volume: string) => {
      const list = (this.failures.get(volume) ?? []).filter((t) => now - t < SOURCE_HEALTH_MS);
      list.push(Date.now());
      this.failures.set(volume, list.slice(-64));
    };
    // The chunk lifecycle's one chooser (core/data/chunks.ts): the server's order, then this
    // client's recent failures per volume.
    const ordered = orderCopies(
      e.sources.map((source) => ({
        source,
        volume: source.volume,
        state: (source.state ?? "unknown") as CopyCandidate["state"],
        failures: recent(source.volume),
      })),
      {},
    ).map((c) => c.source);
    for (const source of ordered) {
      checkSignal(signal, path);
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
          failed(source.volume);
          continue;
        }
        bytes = new Uint8Array(await res.arrayBuffer());
      } catch (err) {
        if (signal?.aborted) throw networkError(err, `reading ${path}`, signal);
        last = networkError(err, `reading chunk ${e.chunk} from ${source.volume}`);
        failed(source.volume);
        continue;
      }
      if (bytes.byteLength === e.length && crc32c(bytes) === e.crc32c) return bytes;
      failed(source.volume);
      last = strataError(
        "ECORRUPT",
        `chunk ${e.chunk} from volume ${source.volume} failed its CRC32C or length check`,
      );
      void this.report(fs, path, e.chunk, source.volume);
    }
    const code: ErrorCode =
      last?.code === "ECORRUPT" ? "ECORRUPT" : e.sources.length === 0 ? "EIO" : "EUNAVAIL";
    throw strataError(
      code,
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
      await eachLimited(uploads, this.parallelism, (u) => this.put(u.upload, u.bytes, path, signal));
    };
    // fixedChunks copies stream pieces; a Uint8Array body is sliced, and the caller awaits us.
    for await (const bytes of fixedChunks(body, cfg.chunkSize, signal)) {
      checkSignal(signal, path);
      const extent: Extent = {
        offset: at,
        length: bytes.byteLength,
        chunk: sha256Hex(bytes),
        crc32c: crc32c(bytes),
      };
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
    checkSignal(signal, path);
    commit = { exclusive: commit.exclusive, ifVersion: commit.ifVersion, mode: commit.mode };
    if (rest === undefined && kept.extents.length === 0 && head.byteLength <= cfg.inlineThreshold)
      return fs.call<Stat>("upload.commit", { path, inline: head, ...commit }, signal);
    const { uploadId } = await fs.call<{ uploadId: string }>("upload.begin", { path }, signal);
    const body = rest === undefined ? head : prepend(head, rest);
    const added = await this.uploadChunks(fs, path, uploadId, body, kept.size, cfg, signal);
    const extents = [...kept.extents, ...added];
    const size = extents.reduce((n, e) => n + e.length, 0);
    checkSignal(signal, path);
    return fs.call<Stat>("upload.commit", { path, uploadId, content: { size, extents }, ...commit }, signal);
  }

  // ---- DataPlane ----

  async writeFile(
    fsIn: FileSystem,
    path: string,
    body: DataBody,
    options: { mode?: number; exclusive?: boolean; signal?: AbortSignal } = {},
  ): Promise<Stat> {
    const fs = remoteFs(fsIn);
    const { signal } = options;
    checkSignal(signal, path);
    const cfg = await this.config(fs);
    const { head, rest } = await peek(body, cfg.inlineThreshold);
    checkSignal(signal, path);
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
      checkSignal(signal, path);
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
        if (!lost || attempt >= APPEND_ATTEMPTS) throw err;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
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
    checkSignal(signal, path);
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
    checkSignal(signal, path);
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
        checkSignal(signal, path);
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
}

async function collect(
  body: AsyncIterable<Uint8Array>,
  signal: AbortSignal | undefined,
  path: string,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const piece of body) {
    checkSignal(signal, path);
    parts.push(copyOf(piece));
  }
  return concatBytes(parts);
}

/** The first `limit + 1` bytes and, when the body is longer, the rest (`undefined` = it all fit). */
async function peek(
  body: DataBody,
  limit: number,
): Promise<{ head: Uint8Array; rest: DataBody | undefined }> {
  if (body instanceof Uint8Array)
    return body.byteLength <= limit
      ? { head: body, rest: undefined }
      : { head: new Uint8Array(0), rest: body };
  const iterator = body[Symbol.asyncIterator]();
  const parts: Uint8Array[] = [];
  let size = 0;
  while (size <= limit) {
    const next = await iterator.next();
    if (next.done) return { head: concatBytes(parts), rest: undefined };
    parts.push(copyOf(next.value));
    size += next.value.byteLength;
  }
  return {
    head: concatBytes(parts),
    rest: { [Symbol.asyncIterator]: () => iterator },
  };
}

/** The most versions one `fs.history` page may ask for (the server's LIST_PAGE.limit). */
const HISTORY_PAGE = 1000;

/** Every item of a paged list operation (each reply ≤ 1 MB; `next` resumes). */
async function allPages<P extends { next?: string }, T>(
  page: (cursor: string | undefined) => Promise<P>,
  itemsOf: (page: P) => T[],
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const p = await page(cursor);
    out.push(...itemsOf(p));
    cursor = p.next;
  } while (cursor !== undefined);
  return out;
}

class RemoteNamespace implements Namespace {
  constructor(private readonly rpc: Rpc) {}
  createPfs(name: string): Promise<PfsInfo> {
    return this.rpc.call("pfs.create", { name });
  }
  async listPfs(): Promise<PfsInfo[]> {
    return allPages(
      (cursor) => this.rpc.call<{ pfs: PfsInfo[]; next?: string }>("pfs.list", { cursor }),
      (p) => p.pfs,
    );
  }
  async deletePfs(name: string): Promise<void> {
    await this.rpc.call("pfs.delete", { name });
  }
  pfs(name: string): FileSystem {
    return new RemoteFs(this.rpc, name);
  }
}

function remoteAdmin(rpc: Rpc, namespace: RemoteNamespace): StrataAdmin {
  return {
    listPfs: () => namespace.listPfs(),
    createPfs: (name) => namespace.createPfs(name),
    deletePfs: (name) => namespace.deletePfs(name),
    createToken: (spec: TokenSpec) => rpc.call<CreatedToken>("token.create", spec),
    listTokens: () =>
      allPages(
        (cursor) => rpc.call<{ tokens: TokenInfo[]; next?: string }>("token.list", { cursor }),
        (p) => p.tokens,
      ),
    revokeToken: async (id) => {
      await rpc.call("token.revoke", { id });
    },
    status: () => rpc.call("status", {}),
    call: (op, input) => rpc.call(op, input),
  };
}

/** A {@link Deployment} over HTTP; `createClient(remoteDeployment(…), pfs)` is `connect({ endpoint })`. */
export function remoteDeployment(options: RemoteDeploymentOptions): Deployment {
  if (typeof options.endpoint !== "string" || !/^https?:\/\//.test(options.endpoint))
    throw strataError("EINVAL", "connect({ endpoint }) needs an http(s) URL", { endpoint: options.endpoint });
  const rpc = new Rpc(
    options.endpoint.replace(/\/+$/, ""),
    options.token,
    options.pfs ?? "default",
    options.retries ?? 3,
    options.idempotencyKeys ?? true,
  );
  const namespace = new RemoteNamespace(rpc);
  return {
    namespace,
    data: new RemoteDataPlane(options.parallelism ?? 4),
    openPfs: async (name) => namespace.pfs(name),
    close: async () => {},
    admin: remoteAdmin(rpc, namespace),
  };
}
