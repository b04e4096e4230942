/**
 * The in-process {@link Strata} client: node:fs/promises-shaped calls over a namespace engine
 * (metadata) and a data plane (file bytes). `connect({ local })` builds one over the embedded
 * deployment; anything that can provide a {@link Deployment} (tests, a server) can use it too.
 */
import type { Readable, Writable } from "node:stream";
import type { ChunkPlacement, DataPlane } from "../core/data/api.ts";
import { isStrataError, strataError } from "../core/errors.ts";
import type {
  AsOf,
  FileSystem,
  Namespace,
  ReadableFileSystem,
  RevertOptions,
  RevertPlan,
  Stat,
  Tid,
  Version,
} from "../core/namespace/api.ts";
import { namespaceOnlyAdmin } from "./client/admin.ts";
import { encode, range, readOpts, toBody, toMs, writeOpts } from "./client/args.ts";
import { checkSignal, guard, normalize } from "./client/errors.ts";
import { jobsClient } from "./client/jobs.ts";
import { Dirent, Stats } from "./client/stats.ts";
import {
  nodeReadable,
  nodeWritable,
  type StreamedWrite,
  startWrite,
  webReadable,
  webWritable,
} from "./client/streams.ts";
import { DEFAULT_PAGE, removeTree, toEngineOps } from "./client/tree.ts";
import type {
  Abortable,
  AppendFileOptions,
  CopyFileOptions,
  Encoding,
  MkdirOptions,
  OpendirOptions,
  PlacementReport,
  ReaddirOptions,
  ReadFileOptions,
  ReadStreamOptions,
  RmOptions,
  SdkBatchOp,
  Snapshots,
  Strata,
  StrataAdmin,
  StrataDirent,
  StrataJobs,
  StrataReader,
  StrataStats,
  Tags,
  TimeLike,
  WriteData,
  WriteFileOptions,
  WriteStreamOptions,
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
    return nodeReadable(path, this.chunks(path, options), options.signal);
  }

  openReadableStream(path: string, options: ReadStreamOptions = {}): ReadableStream<Uint8Array> {
    return webReadable(path, this.chunks(path, options), options.signal);
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
    return startWrite(path, options.signal, (body, signal) =>
      this.write(
        path,
        (fs) =>
          this.deployment.data.writeFile(fs, path, body, {
            mode: options.mode,
            exclusive: options.flags === "wx",
            signal,
          }),
        signal,
      ),
    );
  }

  createWriteStream(path: string, options: WriteStreamOptions = {}): Writable {
    return nodeWritable(path, options.signal, () => this.startWrite(path, options));
  }

  openWritableStream(path: string, options: WriteStreamOptions = {}): WritableStream<Uint8Array> {
    return webWritable(path, this.startWrite(path, options));
  }

  async copyFile(src: string, dest: string, options: CopyFileOptions = {}): Promise<void> {
    await this.write(dest, async (fs) => {
      const from = options.sourceAsOf === undefined ? fs : fs.asOf(options.sourceAsOf);
      await this.deployment.data.copyFile(from, src, fs, dest, { exclusive: options.exclusive });
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
    return this.deployment.admin ?? namespaceOnlyAdmin(this.deployment.namespace);
  }

  get jobs(): StrataJobs {
    return jobsClient(() => this.admin, this.pfsName);
  }

  close(): Promise<void> {
    return this.deployment.close();
  }
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
