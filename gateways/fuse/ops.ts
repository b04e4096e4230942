/**
 * The FUSE mount's file system operations over a strata client, independent of the FUSE binding:
 * every method takes the path the kernel gives (relative to the mount root) and resolves or
 * rejects (a StrataError or a {@link PosixError}); gateways/fuse/mount.ts turns rejections into
 * errnos with the one table in errno.ts.
 *
 * Consistency (docs/mount.md):
 * - A file's writes go to a local buffer file (bounded memory, any size) and become ONE new
 *   version when the file is flushed (close) or fsynced; flush/fsync resolve only after the
 *   commit did. Every handle on the same inode in this mount shares that buffer.
 * - Reads of a clean file come from strata through a read-ahead window per open file; the
 *   window lives as long as the file is open (close-to-open consistency).
 * - Attributes and listings are cached for `cacheTtlMs` (default 1 s); every change made
 *   through this mount drops the entries it touches (the path, its parent, and below it).
 * - As-of names (`name@@<tid|time>`, `/.strata/as-of/…`, `/.strata/snapshots/…`) are read-only.
 */
import { createReadStream } from "node:fs";
import { type FileHandle, mkdir, open, rm } from "node:fs/promises";
import { join } from "node:path";
import { collectBytes } from "../../core/bytes.ts";
import { isStrataError } from "../../core/errors.ts";
import { resolveAsOfName } from "../../core/namespace/as-of-names.ts";
import type { Strata, StrataReader, StrataStats } from "../../sdk/index.ts";
import { PosixError } from "./errno.ts";

/** What getattr gives the binding. Times are Dates; `ino` is the low 32 bits of the object id. */
export interface FuseStat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  ino: number;
  blksize: number;
  blocks: number;
  atime: Date;
  mtime: Date;
  ctime: Date;
}

export interface FuseStatfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  namemax: number;
}

export interface StrataFuseOptions {
  client: Strata;
  /** Directory for the write buffers of open files (created; emptied by {@link StrataFuseOps.close}). */
  cacheDir: string;
  /** The namespace directory shown as the mount root (default "/"). */
  root?: string;
  /** How long attributes and listings are cached, in ms (default 1,000; 0 disables the cache). */
  cacheTtlMs?: number;
  /** Bytes fetched ahead per read of a clean file (default 8 MiB): the only read memory per open file. */
  readWindow?: number;
  /** The clock (ms), for the mtime of buffered writes. */
  now?: () => number;
  /** Test-only switches that disable a mechanism on purpose, for counter-checks. Never set in use. */
  testOnly?: {
    /** Commit after every write(2) instead of at close/fsync. */
    commitEveryWrite?: boolean;
    /** Keep cached listings after this mount's own changes. */
    noInvalidate?: boolean;
  };
}

export const O_ACCMODE = 3;
export const O_RDONLY = 0;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;
/** Synthetic, read-only xattrs (tags are writable through `user.strata.tag.<key>`). */
export const XATTR_PREFIX = "user.strata.";
const XATTR_TAG = `${XATTR_PREFIX}tag.`;

type Resolved =
  | { kind: "control"; dir: "root" | "as-of" | "snapshots" }
  | { kind: "path"; ns: string; reader: StrataReader; readOnly: boolean; live: boolean };

interface Buffered {
  file: FileHandle;
  path: string;
  size: number;
}

/** One inode open in this mount: shared by every handle on it. */
interface OpenFile {
  key: string;
  ino: string;
  /** The mount path it is known by now (renames through this mount update it). */
  raw: string;
  reader: StrataReader;
  live: boolean;
  refs: number;
  size: number;
  buffer?: Buffered;
  dirty: boolean;
  mtimeMs?: number;
  /** Unlinked or replaced through this mount while open: its buffer is never committed. */
  gone: boolean;
  window?: { start: number; bytes: Uint8Array };
  lock: Mutex;
}

interface Handle {
  file: OpenFile;
  writable: boolean;
  append: boolean;
}

/** A FIFO mutex over async sections. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.tail.then(section);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

interface Cached<T> {
  expires: number;
  value?: T;
  error?: unknown;
}

export class StrataFuseOps {
  private readonly client: Strata;
  private readonly root: string;
  private readonly ttl: number;
  private readonly readWindow: number;
  private readonly now: () => number;
  private readonly cacheDir: string;
  private readonly testOnly: NonNullable<StrataFuseOptions["testOnly"]>;
  private readonly attrs = new Map<string, Cached<StrataStats>>();
  private readonly dirs = new Map<string, Cached<string[]>>();
  private readonly files = new Map<string, OpenFile>();
  private readonly handles = new Map<number, Handle>();
  private nextHandle = 1;
  private nextBuffer = 1;
  /** Commits made by flush/fsync/release (tests read it to prove one version per close). */
  commits = 0;

  constructor(options: StrataFuseOptions) {
    this.client = options.client;
    this.root = (options.root ?? "/").replace(/\/+$/, "");
    this.ttl = options.cacheTtlMs ?? 1000;
    this.readWindow = options.readWindow ?? 8 * 1024 * 1024;
    this.now = options.now ?? Date.now;
    this.cacheDir = options.cacheDir;
    this.testOnly = options.testOnly ?? {};
  }

  async init(): Promise<void> {
    await mkdir(this.cacheDir, { recursive: true });
  }

  /** Drops every buffer file (uncommitted writes of still-open files are lost, as on a crash). */
  async close(): Promise<void> {
    for (const file of this.files.values()) await file.buffer?.file.close().catch(() => undefined);
    this.files.clear();
    this.handles.clear();
    await rm(this.cacheDir, { recursive: true, force: true });
  }

  // ── resolution and caches ───────────────────────────────────────────────────────────────

  private resolve(raw: string): Resolved {
    const name = resolveAsOfName(raw);
    if (name.kind === "control") return { kind: "control", dir: name.dir };
    const ns = this.root === "" ? name.path : name.path === "/" ? this.root : `${this.root}${name.path}`;
    if (name.asOf === undefined)
      return { kind: "path", ns, reader: this.client, readOnly: false, live: true };
    return { kind: "path", ns, reader: this.client.asOf(name.asOf), readOnly: true, live: false };
  }

  private writable(raw: string): { ns: string } {
    const r = this.resolve(raw);
    if (r.kind === "control" || r.readOnly) {
      throw new PosixError("EROFS", `${raw} is a read-only as-of name`);
    }
    return { ns: r.ns };
  }

  private cached<T>(map: Map<string, Cached<T>>, key: string, load: () => Promise<T>): Promise<T> {
    const hit = map.get(key);
    if (hit !== undefined && hit.expires > this.now()) {
      if (hit.error !== undefined) return Promise.reject(hit.error);
      return Promise.resolve(hit.value as T);
    }
    return load().then(
      (value) => {
        if (this.ttl > 0) map.set(key, { expires: this.now() + this.ttl, value });
        return value;
      },
      (error: unknown) => {
        // Only "it is not there" is worth remembering (lookups of missing names are frequent).
        if (this.ttl > 0 && isStrataError(error, "ENOENT")) {
          map.set(key, { expires: this.now() + this.ttl, error });
        }
        throw error;
      },
    );
  }

  private lstat(raw: string, r: Extract<Resolved, { kind: "path" }>, fresh = false): Promise<StrataStats> {
    if (fresh) this.attrs.delete(raw);
    return this.cached(this.attrs, raw, () => r.reader.lstat(r.ns));
  }

  /** Forget what this mount cached about `raw`, everything below it, and its parent. */
  private invalidate(raw: string): void {
    const parent = raw.slice(0, Math.max(1, raw.lastIndexOf("/")));
    const maps = (this.testOnly.noInvalidate ? [this.attrs] : [this.attrs, this.dirs]) as Map<
      string,
      unknown
    >[];
    for (const map of maps) {
      map.delete(raw);
      map.delete(parent);
      const below = raw === "/" ? "/" : `${raw}/`;
      for (const key of map.keys()) if (key.startsWith(below)) map.delete(key);
    }
  }

  // ── attributes and listings ─────────────────────────────────────────────────────────────

  async getattr(raw: string): Promise<FuseStat> {
    const r = this.resolve(raw);
    if (r.kind === "control") return dirStat(0o555, this.now());
    let st: StrataStats;
    try {
      st = await this.lstat(raw, r);
    } catch (err) {
      // A token scoped below the mount root may not read the root itself; show it as a directory.
      if (raw === "/" && isStrataError(err, "EACCES")) return dirStat(0o755, this.now());
      throw err;
    }
    const out = toFuseStat(st, r.readOnly);
    const open = r.live ? this.files.get(st.ino) : undefined;
    if (open?.buffer !== undefined) {
      out.size = open.buffer.size;
      out.blocks = Math.ceil(open.buffer.size / 512);
      if (open.mtimeMs !== undefined) out.mtime = out.ctime = new Date(open.mtimeMs);
    }
    return out;
  }

  async readdir(raw: string): Promise<string[]> {
    const r = this.resolve(raw);
    if (r.kind === "control") {
      if (r.dir === "root") return ["as-of", "snapshots"];
      // Every TID and time is a valid entry of as-of/: it is looked up, never listed.
      if (r.dir === "as-of") return [];
      return (await this.client.snapshots.list()).map((s) => s.name);
    }
    return this.cached(this.dirs, raw, () => r.reader.readdir(r.ns));
  }

  async readlink(raw: string): Promise<string> {
    const r = this.resolve(raw);
    if (r.kind === "control") throw new PosixError("EINVAL", `${raw} is not a symlink`);
    return r.reader.readlink(r.ns);
  }

  statfs(): FuseStatfs {
    // strata has no fixed capacity; report a large, constant one so tools that check free space proceed.
    const blocks = 2 ** 31;
    return {
      bsize: 4096,
      frsize: 4096,
      blocks,
      bfree: blocks,
      bavail: blocks,
      files: 2 ** 31,
      ffree: 2 ** 31,
      favail: 2 ** 31,
      namemax: 255,
    };
  }

  // ── open files ──────────────────────────────────────────────────────────────────────────

  private openFile(raw: string, r: Extract<Resolved, { kind: "path" }>, st: StrataStats): OpenFile {
    const key = r.live ? st.ino : `${raw}\0${st.tid}`;
    let file = this.files.get(key);
    if (file === undefined) {
      file = {
        key,
        ino: st.ino,
        raw,
        reader: r.reader,
        live: r.live,
        refs: 0,
        size: st.size,
        dirty: false,
        gone: false,
        lock: new Mutex(),
      };
      this.files.set(key, file);
    }
    file.refs++;
    return file;
  }

  private newHandle(handle: Handle): number {
    const fh = this.nextHandle++;
    if (this.nextHandle > 0x7fffffff) this.nextHandle = 1;
    this.handles.set(fh, handle);
    return fh;
  }

  private handle(fh: number): Handle {
    const h = this.handles.get(fh);
    if (h === undefined) throw new PosixError("EBADF", `no open file ${fh}`);
    return h;
  }

  async open(raw: string, flags: number): Promise<number> {
    const r = this.resolve(raw);
    const writable = (flags & O_ACCMODE) !== O_RDONLY;
    if (r.kind === "control") {
      if (writable) throw new PosixError("EROFS", `${raw} is read-only`);
      throw new PosixError("EISDIR", `${raw} is a directory`);
    }
    if (r.readOnly && (writable || (flags & O_TRUNC) !== 0)) {
      throw new PosixError("EROFS", `${raw} is a read-only as-of name`);
    }
    // Close-to-open: an open sees every change committed before it (no cached size).
    const st = await this.lstat(raw, r, true);
    if (st.isDirectory() && writable) throw new PosixError("EISDIR", `${raw} is a directory`);
    const file = this.openFile(raw, r, st);
    if (file.refs === 1) file.size = st.size;
    if (writable && (flags & O_TRUNC) !== 0) {
      await file.lock.run(() => this.truncateBuffer(file, 0));
    }
    return this.newHandle({ file, writable, append: (flags & O_APPEND) !== 0 });
  }

  /** Creates an empty file (committed at once, so O_EXCL is decided by strata) and opens it. */
  async create(raw: string, mode: number): Promise<number> {
    const { ns } = this.writable(raw);
    await this.client.writeFile(ns, new Uint8Array(0), { flag: "wx", mode: mode & 0o7777 });
    this.invalidate(raw);
    const r = this.resolve(raw) as Extract<Resolved, { kind: "path" }>;
    const st = await this.lstat(raw, r, true);
    const file = this.openFile(raw, r, st);
    return this.newHandle({ file, writable: true, append: false });
  }

  async mknod(raw: string, mode: number): Promise<void> {
    if ((mode & S_IFMT) !== S_IFREG && (mode & S_IFMT) !== 0) {
      throw new PosixError(
        "EOPNOTSUPP",
        `${raw}: strata stores regular files, directories and symlinks only`,
      );
    }
    const { ns } = this.writable(raw);
    await this.client.writeFile(ns, new Uint8Array(0), { flag: "wx", mode: mode & 0o7777 });
    this.invalidate(raw);
  }

  async read(fh: number, target: Uint8Array, length: number, offset: number): Promise<number> {
    const { file } = this.handle(fh);
    return file.lock.run(async () => {
      if (file.buffer !== undefined) {
        const { bytesRead } = await file.buffer.file.read(target, 0, Math.min(length, target.length), offset);
        return bytesRead;
      }
      if (offset >= file.size) return 0;
      // A short read means end of file to the kernel: the window must cover the whole request.
      const want = Math.min(length, file.size - offset);
      let w = file.window;
      if (w === undefined || offset < w.start || offset + want > w.start + w.bytes.length) {
        const end = Math.min(file.size, offset + Math.max(length, this.readWindow)) - 1;
        w = { start: offset, bytes: await readRange(file.reader, this.nsOf(file.raw), offset, end) };
        file.window = w;
      }
      const from = offset - w.start;
      const n = Math.min(want, w.bytes.length - from);
      target.set(w.bytes.subarray(from, from + n), 0);
      return n;
    });
  }

  async write(fh: number, data: Uint8Array, length: number, offset: number): Promise<number> {
    const h = this.handle(fh);
    if (!h.writable) throw new PosixError("EBADF", "the file is not open for writing");
    const file = h.file;
    return file.lock.run(async () => {
      const buffer = await this.ensureBuffer(file);
      const at = h.append ? buffer.size : offset;
      // Copy: the binding reuses its buffer once we answer.
      await buffer.file.write(data.subarray(0, length), 0, length, at);
      buffer.size = Math.max(buffer.size, at + length);
      file.dirty = true;
      file.mtimeMs = this.now();
      if (this.testOnly.commitEveryWrite) await this.commitLocked(file);
      return length;
    });
  }

  async ftruncate(fh: number, size: number): Promise<void> {
    const h = this.handle(fh);
    if (!h.writable) throw new PosixError("EINVAL", "the file is not open for writing");
    await h.file.lock.run(() => this.truncateBuffer(h.file, size));
  }

  async truncate(raw: string, size: number): Promise<void> {
    const { ns } = this.writable(raw);
    const r = this.resolve(raw) as Extract<Resolved, { kind: "path" }>;
    const st = await this.lstat(raw, r, true);
    if (st.isDirectory()) throw new PosixError("EISDIR", `${raw} is a directory`);
    const open = this.files.get(st.ino);
    if (open !== undefined) {
      await open.lock.run(() => this.truncateBuffer(open, size));
      return;
    }
    // POSIX: a truncate that does not change the size changes nothing (and makes no version).
    if (st.size === size) return;
    await this.client.truncate(ns, size);
    this.invalidate(raw);
  }

  /** Commits the file's buffered writes as one new version, if it has any. */
  async flush(fh: number): Promise<void> {
    const h = this.handle(fh);
    if (h.writable) await this.commit(h.file);
  }

  async fsync(fh: number): Promise<void> {
    await this.commit(this.handle(fh).file);
  }

  async release(fh: number): Promise<void> {
    const h = this.handles.get(fh);
    if (h === undefined) return;
    this.handles.delete(fh);
    const file = h.file;
    try {
      if (h.writable) await this.commit(file);
    } finally {
      file.refs--;
      if (file.refs === 0) {
        this.files.delete(file.key);
        await file.lock.run(async () => {
          if (file.buffer !== undefined) {
            await file.buffer.file.close().catch(() => undefined);
            await rm(file.buffer.path, { force: true });
            file.buffer = undefined;
          }
          file.window = undefined;
        });
      }
    }
  }

  private nsOf(raw: string): string {
    const r = this.resolve(raw);
    if (r.kind === "control") throw new PosixError("EIO", `${raw} has no namespace path`);
    return r.ns;
  }

  private commit(file: OpenFile): Promise<void> {
    return file.lock.run(() => this.commitLocked(file));
  }

  /** One new version from the buffer, durable when this resolves (callers hold the file's lock). */
  private async commitLocked(file: OpenFile): Promise<void> {
    if (!file.dirty || file.buffer === undefined || file.gone || !file.live) return;
    const ns = this.nsOf(file.raw);
    const stream = createReadStream("", { fd: file.buffer.file.fd, start: 0, autoClose: false });
    await this.client.writeFile(ns, stream);
    file.dirty = false;
    file.mtimeMs = undefined;
    file.size = file.buffer.size;
    this.commits++;
    this.invalidate(file.raw);
  }

  /** The local buffer of an open file, filled with its current bytes on first use (callers hold the lock). */
  private async ensureBuffer(file: OpenFile, keep = Number.POSITIVE_INFINITY): Promise<Buffered> {
    if (file.buffer !== undefined) return file.buffer;
    const path = join(this.cacheDir, `b${this.nextBuffer++}`);
    const handle = await open(path, "w+", 0o600);
    let size = 0;
    const want = Math.min(keep, file.size);
    if (want > 0) {
      const stream = file.reader.createReadStream(this.nsOf(file.raw), { start: 0, end: want - 1 });
      for await (const chunk of stream as AsyncIterable<Uint8Array>) {
        await handle.write(chunk, 0, chunk.length, size);
        size += chunk.length;
      }
    }
    file.buffer = { file: handle, path, size };
    file.window = undefined;
    return file.buffer;
  }

  private async truncateBuffer(file: OpenFile, size: number): Promise<void> {
    const buffer = await this.ensureBuffer(file, size);
    if (buffer.size === size && !file.dirty && file.size === size) return;
    await buffer.file.truncate(size);
    buffer.size = size;
    file.dirty = true;
    file.mtimeMs = this.now();
  }

  // ── namespace changes ───────────────────────────────────────────────────────────────────

  /** An open inode about to lose its name keeps its bytes locally and is never written back. */
  private async detach(raw: string): Promise<void> {
    const r = this.resolve(raw);
    if (r.kind === "control") return;
    let st: StrataStats;
    try {
      st = await this.lstat(raw, r, true);
    } catch {
      return;
    }
    const open = this.files.get(st.ino);
    if (open === undefined || st.nlink > 1) return;
    await open.lock.run(async () => {
      if (st.isFile()) await this.ensureBuffer(open);
      open.gone = true;
    });
  }

  async unlink(raw: string): Promise<void> {
    const { ns } = this.writable(raw);
    await this.detach(raw);
    await this.client.unlink(ns);
    this.invalidate(raw);
  }

  async rename(from: string, to: string): Promise<void> {
    const src = this.writable(from);
    const dst = this.writable(to);
    if (this.files.size > 0) await this.detach(to);
    await this.client.rename(src.ns, dst.ns);
    this.invalidate(from);
    this.invalidate(to);
    for (const file of this.files.values()) {
      if (file.live && (file.raw === from || file.raw.startsWith(`${from}/`))) {
        file.raw = to + file.raw.slice(from.length);
      }
    }
  }

  async mkdir(raw: string, mode: number): Promise<void> {
    const { ns } = this.writable(raw);
    await this.client.mkdir(ns, { mode: mode & 0o7777 });
    this.invalidate(raw);
  }

  async rmdir(raw: string): Promise<void> {
    const { ns } = this.writable(raw);
    await this.client.rmdir(ns);
    this.invalidate(raw);
  }

  async symlink(target: string, raw: string): Promise<void> {
    const { ns } = this.writable(raw);
    await this.client.symlink(target, ns);
    this.invalidate(raw);
  }

  async link(existing: string, raw: string): Promise<void> {
    const src = this.writable(existing);
    const { ns } = this.writable(raw);
    await this.client.link(src.ns, ns);
    this.invalidate(existing);
    this.invalidate(raw);
  }

  async chmod(raw: string, mode: number): Promise<void> {
    const { ns } = this.writable(raw);
    await this.client.chmod(ns, mode & 0o7777);
    this.invalidate(raw);
  }

  /** The kernel sends chown/utimens for a symlink itself only on lchown / AT_SYMLINK_NOFOLLOW. */
  private async refuseSymlink(raw: string, ns: string, what: string): Promise<void> {
    const st = await this.client.lstat(ns);
    if (st.isSymbolicLink()) {
      // strata's setattr follows a final symlink; applying it to the target would be wrong.
      throw new PosixError("EOPNOTSUPP", `${raw}: ${what} of a symlink itself is not supported`);
    }
  }

  async chown(raw: string, uid: number, gid: number): Promise<void> {
    const { ns } = this.writable(raw);
    await this.refuseSymlink(raw, ns, "chown");
    // (uid_t)-1 / (gid_t)-1: leave that one unchanged.
    const keep = 0xffffffff;
    if (uid === keep || gid === keep || uid === -1 || gid === -1) {
      const st = await this.client.lstat(ns);
      if (uid === keep || uid === -1) uid = st.uid;
      if (gid === keep || gid === -1) gid = st.gid;
    }
    await this.client.chown(ns, uid, gid);
    this.invalidate(raw);
  }

  /**
   * Sets both times. fuse-native 2.2.6 hands the access time in both arguments (its utimens
   * passes `atime` twice) and libfuse 2.9 calls utimens only when both times change, so the one
   * time given is applied to both (docs/mount.md, "What is not supported").
   */
  async utimens(raw: string, atimeMs: number, mtimeMs: number): Promise<void> {
    const { ns } = this.writable(raw);
    await this.refuseSymlink(raw, ns, "setting the times");
    await this.client.utimes(ns, new Date(atimeMs), new Date(mtimeMs));
    this.invalidate(raw);
  }

  // ── xattrs ──────────────────────────────────────────────────────────────────────────────

  async listxattr(raw: string): Promise<string[]> {
    const r = this.resolve(raw);
    if (r.kind === "control") return [];
    const st = await this.lstat(raw, r);
    const names = [...(await r.reader.listxattr(r.ns))];
    names.push(`${XATTR_PREFIX}tid`, `${XATTR_PREFIX}ino`, `${XATTR_PREFIX}pfs`);
    if (st.isFile()) names.push(`${XATTR_PREFIX}placement`);
    for (const key of Object.keys(await r.reader.tags.list(r.ns))) names.push(`${XATTR_TAG}${key}`);
    return names;
  }

  async getxattr(raw: string, name: string): Promise<Uint8Array> {
    const r = this.resolve(raw);
    if (r.kind === "control") throw new PosixError("ENODATA", `${raw} has no attribute ${name}`);
    const st = await this.lstat(raw, r);
    const text = (s: string) => new TextEncoder().encode(s);
    if (name.startsWith(XATTR_TAG)) {
      const value = await r.reader.tags.get(r.ns, name.slice(XATTR_TAG.length));
      if (value === undefined) throw new PosixError("ENODATA", `${raw} has no tag ${name}`);
      return text(value);
    }
    if (name === `${XATTR_PREFIX}tid`) return text(st.tid);
    if (name === `${XATTR_PREFIX}ino`) return text(st.ino);
    if (name === `${XATTR_PREFIX}pfs`) return text(st.pfs);
    if (name === `${XATTR_PREFIX}placement` && st.isFile()) {
      const chunks = await r.reader.placement(r.ns);
      return text(JSON.stringify(chunks));
    }
    try {
      return await r.reader.getxattr(r.ns, name);
    } catch (err) {
      if (isStrataError(err, "ENOENT")) throw new PosixError("ENODATA", `${raw} has no attribute ${name}`);
      throw err;
    }
  }

  async setxattr(raw: string, name: string, value: Uint8Array, flags: number): Promise<void> {
    const { ns } = this.writable(raw);
    if (name.startsWith(XATTR_TAG)) {
      const key = name.slice(XATTR_TAG.length);
      const current = await this.client.tags.get(ns, key);
      if ((flags & XATTR_CREATE) !== 0 && current !== undefined) throw new PosixError("EEXIST", `tag ${key}`);
      if ((flags & XATTR_REPLACE) !== 0 && current === undefined)
        throw new PosixError("ENODATA", `tag ${key}`);
      await this.client.tags.set(ns, key, new TextDecoder().decode(value));
    } else if (name.startsWith(XATTR_PREFIX)) {
      throw new PosixError("EPERM", `${name} is computed by strata and read-only`);
    } else {
      try {
        await this.client.setxattr(ns, name, Uint8Array.from(value), {
          create: (flags & XATTR_CREATE) !== 0,
          replace: (flags & XATTR_REPLACE) !== 0,
        });
      } catch (err) {
        if (isStrataError(err, "ENOENT") && (flags & XATTR_REPLACE) !== 0) {
          await this.client.lstat(ns); // a missing path stays ENOENT
          throw new PosixError("ENODATA", `${raw} has no attribute ${name}`);
        }
        throw err;
      }
    }
    this.invalidate(raw);
  }

  async removexattr(raw: string, name: string): Promise<void> {
    const { ns } = this.writable(raw);
    try {
      if (name.startsWith(XATTR_TAG)) await this.client.tags.remove(ns, name.slice(XATTR_TAG.length));
      else if (name.startsWith(XATTR_PREFIX)) {
        throw new PosixError("EPERM", `${name} is computed by strata and read-only`);
      } else await this.client.removexattr(ns, name);
    } catch (err) {
      if (isStrataError(err, "ENOENT")) {
        await this.client.lstat(ns);
        throw new PosixError("ENODATA", `${raw} has no attribute ${name}`);
      }
      throw err;
    }
    this.invalidate(raw);
  }
}

async function readRange(reader: StrataReader, ns: string, start: number, end: number): Promise<Uint8Array> {
  return await collectBytes(reader.createReadStream(ns, { start, end }) as AsyncIterable<Uint8Array>);
}

function dirStat(perm: number, nowMs: number): FuseStat {
  const t = new Date(nowMs);
  return {
    mode: S_IFDIR | perm,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    size: 0,
    nlink: 2,
    ino: 1,
    blksize: 4096,
    blocks: 0,
    atime: t,
    mtime: t,
    ctime: t,
  };
}

function toFuseStat(st: StrataStats, readOnly: boolean): FuseStat {
  return {
    // An as-of view is read-only: show it without write bits.
    mode: readOnly ? st.mode & ~0o222 : st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    nlink: st.nlink,
    ino: Number.parseInt(st.ino.slice(-8), 16) >>> 0,
    blksize: 4096,
    blocks: Math.ceil(st.size / 512),
    atime: st.atime,
    mtime: st.mtime,
    ctime: st.ctime,
  };
}
