/**
 * The SDK's public types: the {@link Strata} client (shaped like `node:fs/promises`, plus strata's
 * own history / as-of / snapshot / batch / placement calls) and what its methods take and return.
 *
 * Every implementation (embedded `connect({ local })`, and the HTTP client `connect({ endpoint })`) offers this
 * same interface, and test/conformance/sdk.ts holds each one to it.
 */

import type { Readable, Writable } from "node:stream";
import type { CreatedToken, Right, TokenInfo, TokenSpec } from "../core/auth/scope.ts";
import type { ChunkPlacement } from "../core/data/api.ts";
import type { JobRecord, JobStatus } from "../core/jobs/jobs.ts";
import type {
  AsOf,
  FileType,
  ObjectId,
  PfsInfo,
  RevertOptions,
  RevertPlan,
  Snapshot,
  Tid,
  Version,
} from "../core/namespace/api.ts";
import type { PlacementStatus } from "../core/placement/index.ts";

export type { ChunkPlacement, InstanceState } from "../core/data/api.ts";
export type {
  AsOf,
  FileType,
  ObjectId,
  PfsInfo,
  RevertOptions,
  RevertPlan,
  Snapshot,
  Tid,
  Version,
} from "../core/namespace/api.ts";

/** Encodings accepted where `node:fs` accepts a `BufferEncoding`. */
export type Encoding = BufferEncoding;

/** Data to write: bytes, a string (encoded with `encoding`, default UTF-8), or a stream of bytes. */
export type WriteData = string | Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** Options every long call takes. */
export interface Abortable {
  /** Aborting rejects the call with a StrataError `EABORTED`; a write leaves no partial file. */
  signal?: AbortSignal;
}

export interface ReadFileOptions extends Abortable {
  /** Decode the bytes to a string with this encoding. Without it, `readFile` gives a `Uint8Array`. */
  encoding?: Encoding | null;
}

export interface WriteFileOptions extends Abortable {
  /** Encoding of string data (default "utf8"). */
  encoding?: Encoding;
  /** Permission bits of a newly created file (default 0o644); ignored when replacing. */
  mode?: number;
  /** "w" (default): create or replace. "wx": fail with EEXIST when the path exists. "a": append. */
  flag?: "w" | "wx" | "a";
}

export interface AppendFileOptions extends Abortable {
  /** Encoding of string data (default "utf8"). */
  encoding?: Encoding;
}

export interface ReadStreamOptions extends Abortable {
  /** First byte to read (default 0). */
  start?: number;
  /** Last byte to read, INCLUSIVE as in `fs.createReadStream` (default: the end of the file). */
  end?: number;
}

export interface WriteStreamOptions extends Abortable {
  /** Permission bits of a newly created file (default 0o644). */
  mode?: number;
  /** "w" (default): create or replace. "wx": fail with EEXIST when the path exists. */
  flags?: "w" | "wx";
}

export interface ReaddirOptions extends Abortable {
  /** Give {@link StrataDirent}s instead of names. */
  withFileTypes?: boolean;
}

export interface OpendirOptions extends Abortable {
  /** Entries fetched per page underneath (default 1,000). */
  pageSize?: number;
}

export interface CopyFileOptions {
  /** Copy the version the source had at this point (a TID, a Date or a snapshot). */
  sourceAsOf?: AsOf;
  /** Fail with EEXIST when the destination exists (node's COPYFILE_EXCL). */
  exclusive?: boolean;
}

export interface MkdirOptions {
  /** Create missing parents; an existing directory is not an error. */
  recursive?: boolean;
  /** Permission bits (default 0o755). */
  mode?: number;
}

export interface RmOptions extends Abortable {
  /** Remove a directory and everything below it. */
  recursive?: boolean;
  /** A missing path is not an error. */
  force?: boolean;
}

/** A time as `fs.utimes` takes it: a Date, seconds since the epoch, or a date string. */
export type TimeLike = Date | number | string;

/** A `fs.Stats`-like view of one inode version. */
export interface StrataStats {
  /** Permission bits with the file-type bits, as `fs.Stats.mode` (e.g. 0o100644 for a file). */
  readonly mode: number;
  readonly type: FileType;
  readonly ino: ObjectId;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly nlink: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly birthtimeMs: number;
  readonly atime: Date;
  readonly mtime: Date;
  readonly ctime: Date;
  readonly birthtime: Date;
  /** The PFS the inode lives in. */
  readonly pfs: string;
  /** TID of the change that produced this version. */
  readonly tid: Tid;
  /**
   * A regular file.
   * @example if ((await client.stat("/a")).isFile()) console.log("file");
   */
  isFile(): boolean;
  /**
   * A directory.
   * @example if ((await client.stat("/a")).isDirectory()) console.log("dir");
   */
  isDirectory(): boolean;
  /**
   * A symlink (only `lstat` can say so: `stat` follows links).
   * @example if ((await client.lstat("/a")).isSymbolicLink()) console.log(await client.readlink("/a"));
   */
  isSymbolicLink(): boolean;
}

/** A `fs.Dirent`-like directory entry. */
export interface StrataDirent {
  readonly name: string;
  /** The directory the entry was listed from. */
  readonly parentPath: string;
  readonly type: FileType;
  readonly ino: ObjectId;
  /**
   * A regular file.
   * @example const files = (await client.readdir("/", { withFileTypes: true })).filter((d) => d.isFile());
   */
  isFile(): boolean;
  /**
   * A directory.
   * @example const dirs = (await client.readdir("/", { withFileTypes: true })).filter((d) => d.isDirectory());
   */
  isDirectory(): boolean;
  /**
   * A symlink.
   * @example const links = (await client.readdir("/", { withFileTypes: true })).filter((d) => d.isSymbolicLink());
   */
  isSymbolicLink(): boolean;
}

/** One op of {@link Strata.batch}: all commit in one transaction, or none does. */
export type SdkBatchOp =
  | { op: "mkdir"; path: string; mode?: number }
  /**
   * Create or replace a file with small contents (at most {@link BATCH_INLINE_MAX} bytes, stored
   * inline in metadata). Larger files: write them with `writeFile` first, then batch the renames.
   */
  | { op: "writeFile"; path: string; data: string | Uint8Array; mode?: number }
  | { op: "unlink"; path: string }
  | { op: "rmdir"; path: string }
  | { op: "rename"; from: string; to: string }
  | { op: "symlink"; target: string; path: string }
  | { op: "link"; existing: string; path: string }
  | { op: "chmod"; path: string; mode: number }
  | { op: "chown"; path: string; uid: number; gid: number }
  | { op: "utimes"; path: string; atime: TimeLike; mtime: TimeLike }
  | { op: "setTag"; path: string; key: string; value: string }
  | { op: "removeTag"; path: string; key: string };

/** Largest `data` of a batch `writeFile` op: contents that live inline in metadata. */
export const BATCH_INLINE_MAX = 4096;

/** Read-only tag calls (what an as-of view offers). */
export interface TagReader {
  /**
   * One tag's value, or `undefined` when the path has no such tag.
   * @example const site = await client.tags.get("/renders/a.exr", "render-site");
   */
  get(path: string, key: string): Promise<string | undefined>;
  /**
   * Every tag of a path.
   * @example const tags = await client.tags.list("/renders/a.exr"); // { "render-site": "gcs-eu" }
   */
  list(path: string): Promise<Record<string, string>>;
}

/** Tag calls. Tags are the metadata pipelines use to state intent (placement objectives read them). */
export interface Tags extends TagReader {
  /**
   * Set one tag (a new version of the inode).
   * @example await client.tags.set("/renders/a.exr", "render-site", "gcs-eu");
   */
  set(path: string, key: string, value: string): Promise<void>;
  /**
   * Remove one tag (ENOENT when absent).
   * @example await client.tags.remove("/renders/a.exr", "render-site");
   */
  remove(path: string, key: string): Promise<void>;
}

/** Snapshot calls: a snapshot names a TID (and pins it against retention). */
export interface Snapshots {
  /**
   * Name the current state (or the state at `asOf`).
   * @example const snap = await client.snapshots.create("before-migration");
   */
  create(name: string, options?: { asOf?: AsOf }): Promise<Snapshot>;
  /**
   * Every snapshot of this PFS.
   * @example for (const s of await client.snapshots.list()) console.log(s.name, s.tid);
   */
  list(): Promise<Snapshot[]>;
  /**
   * Forget a snapshot (its TID stays readable until retention prunes it).
   * @example await client.snapshots.delete("before-migration");
   */
  delete(name: string): Promise<void>;
}

/**
 * The read methods: what the client and its as-of views ({@link Strata.asOf}) offer.
 * Paths are absolute inside the PFS ("/a/b").
 */
export interface StrataReader {
  /** The PFS this client or view reads. */
  readonly pfsName: string;
  /** The point in history of an as-of view; `undefined` for the live client. */
  readonly point: AsOf | undefined;

  /**
   * The whole file: bytes, or a string with an encoding.
   * @example
   * const bytes = await client.readFile("/a.bin");
   * const text = await client.readFile("/notes.txt", "utf8");
   */
  readFile(path: string, options?: (ReadFileOptions & { encoding?: null }) | null): Promise<Uint8Array>;
  readFile(path: string, options: Encoding | (ReadFileOptions & { encoding: Encoding })): Promise<string>;

  /**
   * A Node `Readable` over the file or the byte range [start, end] (inclusive, as `fs`).
   * @example
   * import { pipeline } from "node:stream/promises";
   * await pipeline(client.createReadStream("/big.bin", { start: 0, end: 1023 }), process.stdout);
   */
  createReadStream(path: string, options?: ReadStreamOptions): Readable;

  /**
   * A web `ReadableStream` over the file or the byte range [start, end] (inclusive).
   * @example const res = new Response(client.openReadableStream("/a.bin")); // e.g. to serve it
   */
  openReadableStream(path: string, options?: ReadStreamOptions): ReadableStream<Uint8Array>;

  /**
   * Follows symlinks.
   * @example const st = await client.stat("/a.bin"); st.isFile(); st.size;
   */
  stat(path: string): Promise<StrataStats>;

  /**
   * Does not follow a final symlink.
   * @example (await client.lstat("/link")).isSymbolicLink(); // true
   */
  lstat(path: string): Promise<StrataStats>;

  /**
   * Names in a directory (sorted, UTF-8 byte order), or dirents with `withFileTypes`.
   * Reads every page; use {@link opendir} for large directories.
   * @example
   * const names = await client.readdir("/");
   * const dirs = (await client.readdir("/", { withFileTypes: true })).filter((d) => d.isDirectory());
   */
  readdir(path: string, options?: ReaddirOptions & { withFileTypes?: false }): Promise<string[]>;
  readdir(path: string, options: ReaddirOptions & { withFileTypes: true }): Promise<StrataDirent[]>;

  /**
   * Iterate a directory page by page (sorted, UTF-8 byte order). Breaking out of the loop stops it.
   * @example for await (const d of client.opendir("/logs")) if (d.isFile()) console.log(d.name);
   */
  opendir(path: string, options?: OpendirOptions): AsyncIterableIterator<StrataDirent>;

  /**
   * The target of a symlink.
   * @example const target = await client.readlink("/current"); // "/releases/42"
   */
  readlink(path: string): Promise<string>;

  /**
   * An extended attribute's value (ENOENT when absent, `details.name` says which).
   * @example const v = await client.getxattr("/a.bin", "user.origin");
   */
  getxattr(path: string, name: string): Promise<Uint8Array>;

  /**
   * Names of the extended attributes (sorted).
   * @example const names = await client.listxattr("/a.bin");
   */
  listxattr(path: string): Promise<string[]>;

  /** Tags (read-only on an as-of view). */
  readonly tags: TagReader;

  /**
   * Which volumes hold which chunks of the file, and the state of each instance.
   * Empty for a file stored inline in metadata (small files) or an empty file.
   * @example for (const p of await client.placement("/big.bin")) console.log(p.offset, p.instances);
   */
  placement(path: string): Promise<ChunkPlacement[]>;
}

// The token types are the auth domain's (core/auth/scope.ts).
export type { CreatedToken, Right, TokenInfo, TokenSpec };

/** Administration of a deployment (some calls need an admin token on a remote deployment). */
export interface StrataAdmin {
  listPfs(): Promise<PfsInfo[]>;
  createPfs(name: string): Promise<PfsInfo>;
  /** Only an empty PFS (ENOTEMPTY otherwise). */
  deletePfs(name: string): Promise<void>;
  createToken(spec: TokenSpec): Promise<CreatedToken>;
  listTokens(): Promise<TokenInfo[]>;
  revokeToken(id: string): Promise<void>;
  /** Health and identity of the deployment (shape documented in docs/http-api.md). */
  status(): Promise<Record<string, unknown>>;
  /**
   * Run any operation of the deployment's operation registry by name (`"vacuum.run"`,
   * `"volume.list"`, …; docs/http-api.md lists them). The extension point the CLI uses for
   * volumes, objectives, placement, vacuum, scrub, fsck and mirroring.
   * @example await client.admin.call("pfs.list", {});
   */
  call<T = unknown>(op: string, input: Record<string, unknown>): Promise<T>;
}

export type { JobRecord, JobStatus };

/** `client.jobs` (sdk/client/jobs.ts; docs/jobs.md): long work as jobs. */
export interface StrataJobs {
  /** Start a placement sweep of this PFS as a job: `limit` files placed per page (one execution each). */
  sweep(options?: { limit?: number; scan?: number }): Promise<JobRecord>;
  list(options?: {
    status?: JobStatus;
    limit?: number;
    cursor?: string;
  }): Promise<{ jobs: JobRecord[]; next?: string }>;
  get(id: string): Promise<JobRecord>;
  /** The record once the job ended; ETIMEDOUT (with the record as it stands) after `timeoutMs` (default 10 min). */
  wait(id: string, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<JobRecord>;
  cancel(id: string): Promise<JobRecord>;
}

/** A strata client on one PFS: {@link StrataReader} plus writes, history and administration. */
export interface Strata extends StrataReader {
  readonly tags: Tags;
  readonly snapshots: Snapshots;
  /** Deployment administration: PFSs, tokens, status, and every registry operation by name. */
  readonly admin: StrataAdmin;
  /** Long work as jobs (docs/jobs.md): start a sweep, list, watch, cancel. */
  readonly jobs: StrataJobs;

  /**
   * Create or replace a file. Large data is chunked and uploaded before one metadata commit, so
   * a failed or aborted write leaves the previous version (or no file) in place.
   * @example
   * await client.writeFile("/notes.txt", "hello");
   * await client.writeFile("/a.bin", new Uint8Array([1, 2, 3]), { flag: "wx" });
   */
  writeFile(path: string, data: WriteData, options?: WriteFileOptions | Encoding): Promise<void>;

  /**
   * Append to a file, creating it when missing (as `fs.appendFile`).
   * @example await client.appendFile("/log.txt", "one more line\n");
   */
  appendFile(path: string, data: WriteData, options?: AppendFileOptions | Encoding): Promise<void>;

  /**
   * A Node `Writable`; the file appears (or is replaced) when the stream finishes, never partially.
   * Destroying the stream, or aborting its signal, discards the write.
   * @example
   * import { pipeline } from "node:stream/promises";
   * await pipeline(createReadStream("local.bin"), client.createWriteStream("/remote.bin"));
   */
  createWriteStream(path: string, options?: WriteStreamOptions): Writable;

  /**
   * A web `WritableStream`; the file appears when the stream closes. Aborting it discards the write.
   * @example await (await fetch(url)).body!.pipeTo(client.openWritableStream("/download.bin"));
   */
  openWritableStream(path: string, options?: WriteStreamOptions): WritableStream<Uint8Array>;

  /**
   * Copy a file by reference: the copy references the source's chunks, so no byte is read or
   * written (like `fs.copyFile`, contents only; the copy keeps the source's permission bits).
   * `sourceAsOf` copies the version the source had at that point (restore an old version under
   * any name); `exclusive` fails with EEXIST when `dest` exists (else it is replaced).
   * @example await client.copyFile("/a.bin", "/backup/a.bin");
   * @example await client.copyFile("/a.bin", "/a-yesterday.bin", { sourceAsOf: new Date(Date.now() - 86_400_000) });
   */
  copyFile(src: string, dest: string, options?: CopyFileOptions): Promise<void>;

  /**
   * Create a directory; with `recursive`, its missing parents too (an existing directory is fine).
   * @example await client.mkdir("/a/b/c", { recursive: true });
   */
  mkdir(path: string, options?: MkdirOptions): Promise<void>;

  /**
   * Atomic rename; replaces a file, or an empty directory by a directory.
   * @example await client.rename("/tmp/upload.bin", "/data/final.bin");
   */
  rename(from: string, to: string): Promise<void>;

  /**
   * Remove a file, a symlink, or (with `recursive`) a whole tree; `force` ignores a missing path.
   * A recursive removal goes deepest first, up to 20 files per commit and one commit per directory
   * (not atomic as a whole); aborting stops it between commits.
   * @example await client.rm("/build", { recursive: true, force: true });
   */
  rm(path: string, options?: RmOptions): Promise<void>;

  /**
   * Remove a file or symlink (EISDIR for a directory).
   * @example await client.unlink("/a.bin");
   */
  unlink(path: string): Promise<void>;

  /**
   * Remove an empty directory (ENOTEMPTY otherwise).
   * @example await client.rmdir("/empty");
   */
  rmdir(path: string): Promise<void>;

  /**
   * Create a symlink at `path` pointing to `target`.
   * @example await client.symlink("/releases/42", "/current");
   */
  symlink(target: string, path: string): Promise<void>;

  /**
   * A hard link: `newPath` names the same file as `existing`.
   * @example await client.link("/a.bin", "/also-a.bin");
   */
  link(existing: string, newPath: string): Promise<void>;

  /**
   * Set access and modification times (numbers are seconds, as `fs.utimes`).
   * @example await client.utimes("/a.bin", new Date(), new Date("2020-01-01"));
   */
  utimes(path: string, atime: TimeLike, mtime: TimeLike): Promise<void>;

  /**
   * Set permission bits.
   * @example await client.chmod("/run.sh", 0o755);
   */
  chmod(path: string, mode: number): Promise<void>;

  /**
   * Set owner and group.
   * @example await client.chown("/a.bin", 1000, 1000);
   */
  chown(path: string, uid: number, gid: number): Promise<void>;

  /**
   * Cut a file to `length` bytes, or extend it with zeros (a new version; old bytes stay readable as-of).
   * @example await client.truncate("/log.txt", 0);
   */
  truncate(path: string, length?: number, options?: Abortable): Promise<void>;

  /**
   * Set an extended attribute; `create` fails with EEXIST if present, `replace` with ENOENT if absent.
   * @example await client.setxattr("/a.bin", "user.origin", "camera-3");
   */
  setxattr(
    path: string,
    name: string,
    value: string | Uint8Array,
    options?: { create?: boolean; replace?: boolean },
  ): Promise<void>;

  /**
   * Remove an extended attribute (ENOENT when absent).
   * @example await client.removexattr("/a.bin", "user.origin");
   */
  removexattr(path: string, name: string): Promise<void>;

  /**
   * A read-only view of this PFS as it was at a TID, a Date or a snapshot. Its write methods throw EROFS.
   * @example
   * const tid = await client.currentTid();
   * await client.writeFile("/a.txt", "new");
   * await client.asOf(tid).readFile("/a.txt", "utf8"); // the old contents
   */
  asOf(point: AsOf): StrataReader;

  /**
   * Versions of the object at `path`, newest first.
   * @example for (const v of await client.history("/a.txt")) console.log(v.tid, v.change, v.stat?.size);
   */
  history(path: string, options?: { limit?: number }): Promise<Version[]>;

  /**
   * Revert by identity, as a new commit: the file or directory `path` names now gets its content
   * and attributes of `to` back at its current path (it may have been renamed or moved since);
   * with `recursive`, a directory's names and contents below it come back as that directory's
   * own entries were at `to`. ENOENT (nothing changed) when the object did not exist at `to`.
   * `byPath: true` restores what the path named at `to` instead; `dryRun: true` returns the
   * paths that would be created, changed and removed, and changes nothing.
   * @example await client.revert("/config", { snapshot: "before-migration" }, { recursive: true });
   * @example const plan = await client.revert("/show", t, { recursive: true, dryRun: true }); // { created, changed, removed }
   */
  revert(path: string, to: AsOf, options: RevertOptions & { dryRun: true }): Promise<RevertPlan>;
  revert(path: string, to: AsOf, options?: RevertOptions): Promise<Tid>;

  /**
   * A TID at or above every change acknowledged so far; as-of reads at it are stable.
   * @example const t = await client.currentTid(); const view = client.asOf(t);
   */
  currentTid(): Promise<Tid>;

  /**
   * Apply several changes atomically: all commit in one transaction, or none does (the error
   * names the failing op in `details.op`/`details.index` when the engine reports it).
   * @example
   * await client.batch([
   *   { op: "mkdir", path: "/job" },
   *   { op: "writeFile", path: "/job/manifest.json", data: "{}" },
   *   { op: "setTag", path: "/job", key: "render-site", value: "gcs-eu" },
   * ]);
   */
  batch(ops: SdkBatchOp[]): Promise<Tid>;

  /**
   * Wait until every file at or under `path` is on the volumes its objectives want (the
   * `placement.wait` operation; docs/placement.md). Rejects with ETIMEDOUT after `timeoutMs`
   * (default 10 minutes), naming the files still pending and their last errors; at once with
   * EINVAL (`details.reason: "unsatisfiable"`, `details.rule`, `details.sites`) when a file is one
   * no volume can take (e.g. its tag names a site without a volume): waiting would not help.
   * @example
   * await client.tags.set("/show/shot42", "render-site", "gcs-eu");
   * await client.waitForPlacement("/show/shot42", { timeoutMs: 600_000 });
   */
  waitForPlacement(
    path: string,
    options?: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<PlacementReport>;

  /**
   * A client on another PFS of the same deployment (sharing its connection).
   * @example const scratch = client.pfs("scratch");
   */
  pfs(name: string): Strata;

  /**
   * Release the deployment (for `connect({ local })`: the SQLite file). Closes every client
   * obtained from it with {@link pfs}.
   * @example await client.close();
   */
  close(): Promise<void>;
}

/** Where the files at or under a path are, against where their objectives want them (`placement.get`): core's report, as sent. */
export type PlacementReport = PlacementStatus;
