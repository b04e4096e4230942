/**
 * The in-process {@link Strata} client: node:fs/promises-shaped calls over a namespace engine
 * (metadata) and a data plane (file bytes). `connect({ local })` builds one over the embedded
 * deployment; anything that can provide a {@link Deployment} (tests, a server) can use it too.
 */
import { Readable, Writable } from "node:stream";
import type { ChunkPlacement, DataPlane } from "../core/data/api.ts";
import { isStrataError, StrataError, strataError } from "../core/errors.ts";
import type {
  AsOf,
  BatchOp,
  DirEntry,
  FileContent,
  FileSystem,
  FileType,
  Namespace,
  ReadableFileSystem,
  RevertOptions,
  RevertPlan,
  Stat,
  Tid,
  Version,
} from "../core/namespace/api.ts";
import {
  type Abortable,
  type AppendFileOptions,
  BATCH_INLINE_MAX,
  type Encoding,
  type MkdirOptions,
  type OpendirOptions,
  type PlacementReport,
  type ReaddirOptions,
  type ReadFileOptions,
  type ReadStreamOptions,
  type RmOptions,
  type SdkBatchOp,
  type Snapshots,
  type Strata,
  type StrataAdmin,
  type StrataDirent,
  type StrataReader,
  type StrataStats,
  type Tags,
  type TimeLike,
  type WriteData,
  type WriteFileOptions,
  type WriteStreamOptions,
} from "./types.ts";

/**
 * What a client runs on: the engine, the data plane, and how PFSs are opened and released.
 *
 * @example
 * const deployment: Deployment = { namespace, data, openPfs: async (n) => namespace.pfs(n), close: () => store.close() };
 * const client = createClient(deployment, "default");
 */
export interface Deployment {
  readonly namespace: Namespace;
  readonly data: DataPlane;
  /**
   * The FileSystem of a PFS, ready for use. The embedded deployment creates a missing PFS here
   * (it is the user's own deployment); a shared one may answer ENOENT.
   */
  openPfs(name: string): Promise<FileSystem>;
  /** Release everything (idempotent). */
  close(): Promise<void>;
  /**
   * Administration, when the deployment offers it (the remote client and the embedded deployment
   * with the operation registry do). Without it, `client.admin` serves PFS calls from `namespace`
   * and answers ENOTSUP for the rest.
   */
  readonly admin?: StrataAdmin;
}

const TYPE_BITS: Record<FileType, number> = { file: 0o100000, dir: 0o040000, symlink: 0o120000 };
const DEFAULT_PAGE = 1000;

class Stats implements StrataStats {
  readonly mode: number;
  readonly type: FileType;
  readonly ino: string;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly nlink: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly birthtimeMs: number;
  readonly pfs: string;
  readonly tid: Tid;

  constructor(st: Stat) {
    this.mode = TYPE_BITS[st.type] | (st.mode & 0o7777);
    this.type = st.type;
    this.ino = st.ino;
    this.uid = st.uid;
    this.gid = st.gid;
    this.size = st.size;
    this.nlink = st.nlink;
    this.atimeMs = st.atimeMs;
    this.mtimeMs = st.mtimeMs;
    this.ctimeMs = st.ctimeMs;
    this.birthtimeMs = st.birthtimeMs;
    this.pfs = st.pfs;
    this.tid = st.tid;
  }
  get atime(): Date {
    return new Date(this.atimeMs);
  }
  get mtime(): Date {
    return new Date(this.mtimeMs);
  }
  get ctime(): Date {
    return new Date(this.ctimeMs);
  }
  get birthtime(): Date {
    return new Date(this.birthtimeMs);
  }
  isFile(): boolean {
    return this.type === "file";
  }
  isDirectory(): boolean {
    return this.type === "dir";
  }
  isSymbolicLink(): boolean {
    return this.type === "symlink";
  }
}

class Dirent implements StrataDirent {
  readonly name: string;
  readonly type: FileType;
  readonly ino: string;
  constructor(
    entry: DirEntry,
    readonly parentPath: string,
  ) {
    this.name = entry.name;
    this.type = entry.type;
    this.ino = entry.ino;
  }
  isFile(): boolean {
    return this.type === "file";
  }
  isDirectory(): boolean {
    return this.type === "dir";
  }
  isSymbolicLink(): boolean {
    return this.type === "symlink";
  }
}

function aborted(path: string, signal: AbortSignal | undefined, cause?: unknown): StrataError {
  return new StrataError("EABORTED", `the operation on ${path} was aborted by the caller`, {
    details: { path },
    cause: cause ?? signal?.reason,
  });
}

function checkSignal(path: string, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw aborted(path, signal);
}

/** Every error leaving the SDK is a StrataError with `details.path`; an abort is EABORTED. */
function normalize(err: unknown, path: string, signal?: AbortSignal): StrataError {
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

async function guard<T>(path: string, signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> {
  checkSignal(path, signal);
  try {
    return await run();
  } catch (err) {
    throw normalize(err, path, signal);
  }
}

function encode(data: string, encoding: Encoding = "utf8"): Uint8Array {
  const buf = Buffer.from(data, encoding);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/** Normalise write data to what the data plane takes: one buffer or an async stream of buffers. */
function toBody(data: WriteData, encoding: Encoding | undefined): Uint8Array | AsyncIterable<Uint8Array> {
  if (typeof data === "string") return encode(data, encoding);
  if (data instanceof Uint8Array) return data;
  const source = data as AsyncIterable<unknown> | Iterable<unknown>;
  if (
    typeof source !== "object" ||
    source === null ||
    !(Symbol.asyncIterator in source || Symbol.iterator in source)
  ) {
    throw strataError("EINVAL", "write data must be a string, a Uint8Array, or an iterable of them");
  }
  return (async function* () {
    for await (const chunk of source) {
      if (typeof chunk === "string") yield encode(chunk, encoding);
      // Passed as is: the data plane copies every piece it keeps, so a Buffer reused by its
      // producer is safe (Buffer#slice being a view no longer matters downstream).
      else if (chunk instanceof Uint8Array) yield chunk;
      else throw strataError("EINVAL", "a write stream yielded something that is not bytes or a string");
    }
  })();
}

function toMs(t: TimeLike, path: string): number {
  let ms: number;
  if (t instanceof Date) ms = t.getTime();
  else if (typeof t === "number") ms = t * 1000;
  else if (/^\s*-?\d+(\.\d+)?\s*$/.test(t)) ms = Number(t) * 1000;
  else ms = Date.parse(t);
  if (!Number.isFinite(ms)) throw strataError("EINVAL", `invalid time ${String(t)} for ${path}`, { path });
  return ms;
}

function readOpts(options: ReadFileOptions | Encoding | null | undefined): ReadFileOptions {
  if (options === null || options === undefined) return {};
  if (typeof options === "string") return { encoding: options };
  return options;
}

function writeOpts<T extends { encoding?: Encoding }>(options: T | Encoding | undefined): T {
  if (options === undefined) return {} as T;
  if (typeof options === "string") return { encoding: options } as T;
  return options;
}

/** Node's inclusive `end` → the data plane's exclusive one. */
function range(path: string, options: ReadStreamOptions): { start?: number; end?: number } {
  const { start, end } = options;
  for (const [name, v] of [
    ["start", start],
    ["end", end],
  ] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
      throw strataError("EINVAL", `${name} must be a non-negative integer, got ${v}`, { path });
    }
  }
  if (start !== undefined && end !== undefined && end < start) {
    throw strataError("EINVAL", `end (${end}) is before start (${start})`, { path });
  }
  return { start, end: end === undefined ? undefined : end + 1 };
}

/** Bytes a streamed write buffers between the writer and the data plane before pushing back. */
const STREAM_BUFFER = 1024 * 1024;

/**
 * A bounded hand-off from a writer (Node Writable / web WritableStream) to the data plane's
 * async-iterable body. `push` resolves at once while fewer than {@link STREAM_BUFFER} bytes wait,
 * else when the body has taken enough: the stream's backpressure. `fail` wakes a waiting body
 * (and waiting writers) so an aborted write stops promptly.
 */
class Channel {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private readonly writers: Array<() => void> = [];
  private ended = false;
  private failure: unknown;
  private wake: (() => void) | undefined;

  push(chunk: Uint8Array): Promise<void> {
    // Copied: the writer may reuse its buffer as soon as this resolves (as node:fs allows).
    this.queue.push(new Uint8Array(chunk)); // not chunk.slice(): Buffer#slice is a view
    this.queued += chunk.byteLength;
    this.wake?.();
    if (this.queued <= STREAM_BUFFER || this.failure !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.writers.push(resolve));
  }
  end(): void {
    this.ended = true;
    this.wake?.();
  }
  fail(err: unknown): void {
    this.failure ??= err;
    this.release();
    this.wake?.();
  }
  private release(): void {
    while (this.writers.length > 0 && (this.queued <= STREAM_BUFFER || this.failure !== undefined)) {
      this.writers.shift()!();
    }
  }
  async *body(): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const chunk = this.queue.shift();
      if (chunk) {
        this.queued -= chunk.byteLength;
        this.release();
        yield chunk;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}

interface StreamedWrite {
  push(chunk: Uint8Array): Promise<void>;
  finish(): Promise<void>;
  abort(reason: unknown): Promise<void>;
}

function stringToBytes(chunk: unknown, path: string): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return encode(chunk);
  throw strataError("EINVAL", "write streams take bytes or strings", { path });
}

/**
 * The client. A live client (`point === undefined`) reads and writes; an as-of view shares the
 * code but every write throws EROFS. Its methods are documented on {@link Strata}.
 */
class StrataClient implements Strata {
  readonly tags: Tags;
  readonly snapshots: Snapshots;
  private fsPromise: Promise<FileSystem> | undefined;

  constructor(
    private readonly deployment: Deployment,
    readonly pfsName: string,
    private readonly view?: AsOf,
  ) {
    this.tags = {
      get: (path, key) => this.read(path, async (fs) => (await fs.getTags(path))[key]),
      list: (path) => this.read(path, (fs) => fs.getTags(path)),
      set: (path, key, value) => this.write(path, (fs) => fs.setTag(path, key, value)),
      remove: (path, key) => this.write(path, (fs) => fs.removeTag(path, key)),
    };
    this.snapshots = {
      create: (name, options) => this.write(`@${String(name)}`, (fs) => fs.createSnapshot(name, options)),
      list: () => this.live("/", (fs) => fs.listSnapshots()),
      delete: (name) => this.write(`@${String(name)}`, (fs) => fs.deleteSnapshot(name)),
    };
  }

  // ---- plumbing ----

  private fs(): Promise<FileSystem> {
    this.fsPromise ??= this.deployment.openPfs(this.pfsName);
    this.fsPromise.catch(() => {
      this.fsPromise = undefined;
    });
    return this.fsPromise;
  }

  get point(): AsOf | undefined {
    return this.view;
  }

  /** A call that needs the live FileSystem but changes nothing (history, snapshots list, currentTid). */
  private live<T>(path: string, run: (fs: FileSystem) => Promise<T>): Promise<T> {
    return guard(path, undefined, async () => run(await this.fs()));
  }

  /** The FileSystem to read from: the live one, or its as-of view. */
  private async readable(): Promise<ReadableFileSystem> {
    const fs = await this.fs();
    return this.view === undefined ? fs : fs.asOf(this.view);
  }

  private read<T>(
    path: string,
    run: (fs: ReadableFileSystem) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    return guard(path, signal, async () => run(await this.readable()));
  }

  private write<T>(path: string, run: (fs: FileSystem) => Promise<T>, signal?: AbortSignal): Promise<T> {
    return guard(path, signal, async () => {
      this.assertWritable(path);
      return run(await this.fs());
    });
  }

  private assertWritable(path: string): void {
    if (this.view !== undefined) {
      throw strataError(
        "EROFS",
        `cannot change ${path}: this is a read-only as-of view; write through the live client`,
        { path, pfs: this.pfsName },
      );
    }
  }

  // ---- reads ----

  readFile(path: string, options?: (ReadFileOptions & { encoding?: null }) | null): Promise<Uint8Array>;
  readFile(path: string, options: Encoding | (ReadFileOptions & { encoding: Encoding })): Promise<string>;
  async readFile(path: string, options?: ReadFileOptions | Encoding | null): Promise<Uint8Array | string> {
    const { encoding, signal } = readOpts(options);
    const bytes = await this.read(path, (fs) => this.deployment.data.readFile(fs, path, { signal }), signal);
    if (!encoding) return bytes;
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString(encoding);
  }

  /** The bytes of a file or range, as an async iterator that reports errors with the path. */
  private async *chunks(path: string, options: ReadStreamOptions): AsyncGenerator<Uint8Array> {
    const { signal } = options;
    const { body } = await this.read(
      path,
      async (fs) => this.deployment.data.read(fs, path, { ...range(path, options), signal }),
      signal,
    );
    try {
      for await (const chunk of body) {
        checkSignal(path, signal);
        yield chunk;
      }
    } catch (err) {
      throw normalize(err, path, signal);
    }
  }

  createReadStream(path: string, options: ReadStreamOptions = {}): Readable {
    const stream = Readable.from(this.chunks(path, options), { objectMode: false });
    return destroyOnAbort(stream, path, options.signal);
  }

  openReadableStream(path: string, options: ReadStreamOptions = {}): ReadableStream<Uint8Array> {
    const it = this.chunks(path, options);
    const { signal } = options;
    let onAbort: (() => void) | undefined;
    const cleanup = () => {
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    };
    return new ReadableStream<Uint8Array>({
      start(controller) {
        if (!signal) return;
        onAbort = () => {
          controller.error(aborted(path, signal));
          void it.return(undefined).catch(() => {});
        };
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      },
      async pull(controller) {
        try {
          const next = await it.next();
          if (next.done) {
            cleanup();
            controller.close();
          } else controller.enqueue(next.value);
        } catch (err) {
          cleanup();
          controller.error(err);
        }
      },
      async cancel() {
        cleanup();
        await it.return(undefined);
      },
    });
  }

  async stat(path: string): Promise<StrataStats> {
    return new Stats(await this.read(path, (fs) => fs.stat(path)));
  }

  async lstat(path: string): Promise<StrataStats> {
    return new Stats(await this.read(path, (fs) => fs.lstat(path)));
  }

  readdir(path: string, options?: ReaddirOptions & { withFileTypes?: false }): Promise<string[]>;
  readdir(path: string, options: ReaddirOptions & { withFileTypes: true }): Promise<StrataDirent[]>;
  async readdir(path: string, options: ReaddirOptions = {}): Promise<string[] | StrataDirent[]> {
    const all: StrataDirent[] = [];
    for await (const d of this.opendir(path, { signal: options.signal })) all.push(d);
    return options.withFileTypes ? all : all.map((d) => d.name);
  }

  async *opendir(path: string, options: OpendirOptions = {}): AsyncGenerator<StrataDirent> {
    const { signal } = options;
    const limit = options.pageSize ?? DEFAULT_PAGE;
    let cursor: string | undefined;
    do {
      const page = await this.read(path, (fs) => fs.readdir(path, { cursor, limit }), signal);
      for (const entry of page.entries) yield new Dirent(entry, path);
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  readlink(path: string): Promise<string> {
    return this.read(path, (fs) => fs.readlink(path));
  }

  getxattr(path: string, name: string): Promise<Uint8Array> {
    return this.read(path, (fs) => fs.getXattr(path, name));
  }

  listxattr(path: string): Promise<string[]> {
    return this.read(path, (fs) => fs.listXattrs(path));
  }

  placement(path: string): Promise<ChunkPlacement[]> {
    return this.read(path, (fs) => this.deployment.data.placement(fs, path));
  }

  // ---- writes ----

  async writeFile(path: string, data: WriteData, options?: WriteFileOptions | Encoding): Promise<void> {
    const { encoding, mode, flag, signal } = writeOpts<WriteFileOptions>(options);
    if (flag === "a") return this.appendFile(path, data, { encoding, signal });
    if (flag !== undefined && flag !== "w" && flag !== "wx") {
      throw strataError("EINVAL", `writeFile flag must be "w", "wx" or "a", got ${String(flag)}`, { path });
    }
    await this.write(
      path,
      (fs) =>
        this.deployment.data.writeFile(fs, path, toBody(data, encoding), {
          mode,
          exclusive: flag === "wx",
          signal,
        }),
      signal,
    );
  }

  async appendFile(path: string, data: WriteData, options?: AppendFileOptions | Encoding): Promise<void> {
    const { encoding, signal } = writeOpts<AppendFileOptions>(options);
    // The data plane creates a missing file, as node:fs does.
    await this.write(
      path,
      (fs) => this.deployment.data.appendFile(fs, path, toBody(data, encoding), { signal }),
      signal,
    );
  }

  /** A streamed write: chunks go to the data plane as they come; the commit happens on finish. */
  private startWrite(path: string, options: WriteStreamOptions): StreamedWrite {
    const channel = new Channel();
    const controller = new AbortController();
    const userSignal = options.signal;
    const onAbort = () => {
      const err = aborted(path, userSignal);
      controller.abort(err);
      channel.fail(err);
    };
    if (userSignal?.aborted) onAbort();
    else userSignal?.addEventListener("abort", onAbort, { once: true });
    const done = this.write(
      path,
      (fs) =>
        this.deployment.data.writeFile(fs, path, channel.body(), {
          mode: options.mode,
          exclusive: options.flags === "wx",
          signal: controller.signal,
        }),
      controller.signal,
    ).finally(() => userSignal?.removeEventListener("abort", onAbort));
    done.catch(() => {});
    // If the data plane fails before taking a chunk, the writer must not wait for it forever.
    const failed = done.then(
      () => new Promise<never>(() => {}),
      (err: unknown) => {
        throw err;
      },
    );
    failed.catch(() => {});
    return {
      push: (chunk) => Promise.race([channel.push(chunk), failed]),
      finish: async () => {
        channel.end();
        await done;
      },
      abort: async (reason) => {
        const err =
          reason instanceof StrataError && reason.code === "EABORTED"
            ? reason
            : aborted(path, undefined, reason);
        controller.abort(err);
        channel.fail(err);
        await done.catch(() => {});
      },
    };
  }

  createWriteStream(path: string, options: WriteStreamOptions = {}): Writable {
    let writing: StreamedWrite;
    let finished = false;
    try {
      writing = this.startWrite(path, options);
    } catch (err) {
      const w = new Writable();
      w.destroy(normalize(err, path));
      return w;
    }
    const stream = new Writable({
      write(chunk: unknown, _encoding, callback) {
        let bytes: Uint8Array;
        try {
          bytes = stringToBytes(chunk, path);
        } catch (err) {
          callback(err as Error);
          return;
        }
        writing.push(bytes).then(() => callback(), callback);
      },
      final(callback) {
        writing.finish().then(() => {
          finished = true;
          callback();
        }, callback);
      },
      destroy(err, callback) {
        if (finished) {
          callback(err);
          return;
        }
        writing.abort(err ?? "the stream was destroyed").then(() => callback(err));
      },
    });
    return destroyOnAbort(stream, path, options.signal);
  }

  openWritableStream(path: string, options: WriteStreamOptions = {}): WritableStream<Uint8Array> {
    const writing = this.startWrite(path, options);
    return new WritableStream<Uint8Array>({
      write: (chunk) => writing.push(stringToBytes(chunk, path)),
      close: () => writing.finish(),
      abort: (reason) => writing.abort(reason),
    });
  }

  async mkdir(path: string, options: MkdirOptions = {}): Promise<void> {
    await this.write(path, (fs) => fs.mkdir(path, { mode: options.mode, recursive: options.recursive }));
  }

  rename(from: string, to: string): Promise<void> {
    return this.write(from, (fs) => fs.rename(from, to));
  }

  async rm(path: string, options: RmOptions = {}): Promise<void> {
    const { signal, force, recursive } = options;
    await this.write(
      path,
      async (fs) => {
        let st: Stat;
        try {
          st = await fs.lstat(path);
        } catch (err) {
          if (force && isStrataError(err, "ENOENT")) return;
          throw err;
        }
        if (st.type !== "dir") return fs.unlink(path);
        if (!recursive) {
          throw strataError("EISDIR", `${path} is a directory: pass { recursive: true } to remove it`, {
            path,
          });
        }
        await removeTree(fs, path, signal);
      },
      signal,
    );
  }

  unlink(path: string): Promise<void> {
    return this.write(path, (fs) => fs.unlink(path));
  }

  rmdir(path: string): Promise<void> {
    return this.write(path, (fs) => fs.rmdir(path));
  }

  async symlink(target: string, path: string): Promise<void> {
    await this.write(path, (fs) => fs.symlink(target, path));
  }

  async link(existing: string, newPath: string): Promise<void> {
    await this.write(newPath, (fs) => fs.link(existing, newPath));
  }

  async utimes(path: string, atime: TimeLike, mtime: TimeLike): Promise<void> {
    await this.write(path, (fs) =>
      fs.setattr(path, { atimeMs: toMs(atime, path), mtimeMs: toMs(mtime, path) }),
    );
  }

  async chmod(path: string, mode: number): Promise<void> {
    await this.write(path, (fs) => fs.setattr(path, { mode }));
  }

  async chown(path: string, uid: number, gid: number): Promise<void> {
    await this.write(path, (fs) => fs.setattr(path, { uid, gid }));
  }

  async truncate(path: string, length = 0, options: Abortable = {}): Promise<void> {
    const { signal } = options;
    await this.write(path, (fs) => this.deployment.data.truncate(fs, path, length, { signal }), signal);
  }

  async setxattr(
    path: string,
    name: string,
    value: string | Uint8Array,
    options?: { create?: boolean; replace?: boolean },
  ): Promise<void> {
    const bytes = typeof value === "string" ? encode(value) : value;
    await this.write(path, (fs) => fs.setXattr(path, name, bytes, options));
  }

  removexattr(path: string, name: string): Promise<void> {
    return this.write(path, (fs) => fs.removeXattr(path, name));
  }

  // ---- strata's own ----

  asOf(point: AsOf): StrataReader {
    if (this.view !== undefined) {
      throw strataError(
        "EINVAL",
        "an as-of view cannot be taken from another as-of view; use the live client",
        {
          pfs: this.pfsName,
        },
      );
    }
    const view = new StrataClient(this.deployment, this.pfsName, point);
    view.fsPromise = this.fsPromise;
    return view;
  }

  history(path: string, options?: { limit?: number }): Promise<Version[]> {
    return this.live(path, (fs) => fs.history(path, options));
  }

  revert(path: string, to: AsOf, options: RevertOptions & { dryRun: true }): Promise<RevertPlan>;
  revert(path: string, to: AsOf, options?: RevertOptions): Promise<Tid>;
  revert(path: string, to: AsOf, options: RevertOptions = {}): Promise<Tid | RevertPlan> {
    // A dry run writes nothing, but needs the same right: it answers "what would my revert do".
    return this.write(path, (fs) => fs.revert(path, to, options));
  }

  currentTid(): Promise<Tid> {
    return this.live("/", (fs) => fs.currentTid());
  }

  batch(ops: SdkBatchOp[]): Promise<Tid> {
    return this.write("/", async (fs) => fs.batch(await toEngineOps(fs, ops)));
  }

  pfs(name: string): Strata {
    return new StrataClient(this.deployment, name);
  }

  async waitForPlacement(
    path: string,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<PlacementReport> {
    // One `placement.wait` call waits at most 20 s (the server caps any wait at 30 s and answers
    // ETIMEDOUT with again: true; the API Lambda's timeout is 30 s); longer waits are several calls.
    const deadline = Date.now() + (options.timeoutMs ?? 600_000);
    for (;;) {
      if (options.signal?.aborted)
        throw strataError("EABORTED", `waitForPlacement ${path}: aborted`, { path });
      const left = Math.max(0, deadline - Date.now());
      try {
        return await this.admin.call<PlacementReport>("placement.wait", {
          pfs: this.pfsName,
          path,
          timeoutSeconds: Math.min(20, left / 1000),
        });
      } catch (err) {
        if (!isStrataError(err, "ETIMEDOUT") || Date.now() >= deadline) throw err;
      }
    }
  }

  get admin(): StrataAdmin {
    return this.deployment.admin ?? namespaceOnlyAdmin(this.deployment);
  }

  close(): Promise<void> {
    return this.deployment.close();
  }
}

/** `client.admin` for a deployment without an operation registry: PFS calls only. */
function namespaceOnlyAdmin(deployment: Deployment): StrataAdmin {
  const unsupported = (what: string) => () =>
    Promise.reject(
      strataError(
        "ENOTSUP",
        `${what} needs a deployment with an operation registry (a server or npm start)`,
        {
          op: what,
        },
      ),
    );
  return {
    listPfs: () => deployment.namespace.listPfs(),
    createPfs: (name) => deployment.namespace.createPfs(name),
    deletePfs: (name) => deployment.namespace.deletePfs(name),
    createToken: unsupported("token.create"),
    listTokens: unsupported("token.list"),
    revokeToken: unsupported("token.revoke"),
    status: unsupported("status"),
    call: (op) => unsupported(op)(),
  };
}

/**
 * A {@link Strata} client over any {@link Deployment} (`connect({ local })` builds one over the
 * embedded deployment). Mostly for tests and servers that assemble their own deployment.
 *
 * @example
 * import { openEmbedded } from "./runtime/embedded.ts"; // or any Deployment
 * const client = createClient(await openEmbedded({ dir: "./data", chunkSize: 1 << 20 }), "default");
 */
export function createClient(deployment: Deployment, pfs: string): Strata {
  return new StrataClient(deployment, pfs);
}

/** Unlinks per batch in `rm -r` (the engine takes ≤ 100 ops and ≤ 100 items per transaction). */
const RM_BATCH = 20;

/** Remove everything below `path`, deepest first, then `path` itself. */
async function removeTree(fs: FileSystem, path: string, signal: AbortSignal | undefined): Promise<void> {
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

async function toEngineOps(fs: FileSystem, ops: SdkBatchOp[]): Promise<BatchOp[]> {
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

/** Destroy a Node stream with EABORTED when `signal` fires (or already has); unhooked on close. */
function destroyOnAbort<S extends Readable | Writable>(
  stream: S,
  path: string,
  signal: AbortSignal | undefined,
): S {
  if (!signal) return stream;
  const onAbort = () => stream.destroy(aborted(path, signal));
  if (signal.aborted) queueMicrotask(onAbort);
  else signal.addEventListener("abort", onAbort, { once: true });
  stream.once("close", () => signal.removeEventListener("abort", onAbort));
  return stream;
}
