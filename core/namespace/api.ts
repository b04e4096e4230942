/**
 * The namespace engine's public contract: POSIX-like operations with HAMMER-style history,
 * over any MetadataStore. The SDK, the HTTP API and the CLI are shaped after this.
 *
 * Identity: a `Namespace` holds PFSs (pseudo-file-systems); `ns.pfs(name)` gives a `FileSystem`
 * whose paths are absolute inside that PFS ("/a/b"). Every change commits one transaction with a
 * TID; every read can take `asOf` (a TID, a Date, or a snapshot name).
 *
 * Errors are `StrataError`s (core/errors.ts) with `details.path` (and `details.pfs`):
 * ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, EINVAL, ENAMETOOLONG, ELOOP, EXDEV, E2BIG,
 * ECONFLICT (lost a race after bounded retries), EPRUNED (as-of older than retention keeps),
 * ECORRUPT (a record failed its CRC), EROFS (writing through an as-of view).
 * Bad input is rejected before anything is written.
 */

/** Transaction id: 16 lowercase hex digits (64 bits). Orders like the commits; see core/namespace/tid.ts. */
export type Tid = string;

/** Object (inode) id: 16 lowercase hex digits (64 bits), never reused, unique across sites. */
export type ObjectId = string;

export type FileType = "file" | "dir" | "symlink";

/** A point in history: a TID, a wall-clock time, or a named snapshot. */
export type AsOf = Tid | Date | { snapshot: string };

export interface ReadOptions {
  asOf?: AsOf;
}

/** Where a file's bytes are. Opaque to the namespace engine; the data plane (core/data/) fills it. */
export interface FileContent {
  size: number;
  /** Small files live inline in metadata. */
  inline?: Uint8Array;
  /** Chunk references for larger files; engine stores them as given. */
  extents?: Array<{ offset: number; length: number; chunk: string; crc32c: number }>;
}

export interface Stat {
  pfs: string;
  ino: ObjectId;
  type: FileType;
  /** Permission bits (0o7777 range). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  birthtimeMs: number;
  /** TID of the change that produced this version of the inode. */
  tid: Tid;
  /** Symlink target, for symlinks. */
  target?: string;
  /** File content reference, for files. */
  content?: FileContent;
}

export interface DirEntry {
  name: string;
  type: FileType;
  ino: ObjectId;
}

export interface ReaddirPage {
  entries: DirEntry[];
  /** Present when more entries follow. */
  cursor?: string;
}

export interface Version {
  tid: Tid;
  /** Commit time (from the TID). */
  time: Date;
  /** The inode as of this version; absent for a deletion. */
  stat?: Stat;
  /** What the change was ("create", "setattr", "rename", "unlink", "revert", "write", …). */
  change: string;
}

export interface Snapshot {
  name: string;
  tid: Tid;
  createdAt: Date;
}

export interface PfsInfo {
  name: string;
  id: string;
  rootIno: ObjectId;
  createdTid: Tid;
}

export interface CreateOptions {
  mode?: number;
  uid?: number;
  gid?: number;
  content?: FileContent;
}

export interface WriteContentOptions {
  /** Commit only if the file's live version is the one with this TID (else ECONFLICT). */
  ifVersion?: Tid;
}

export interface SetAttrs {
  mode?: number;
  uid?: number;
  gid?: number;
  atimeMs?: number;
  mtimeMs?: number;
}

export interface RevertOptions {
  /** Also restore everything below a directory. */
  recursive?: boolean;
  /** Restore what the path named at the point (the old, path-as-of behaviour) instead of the object it names now. */
  byPath?: boolean;
  /** Only report what would change (see {@link RevertPlan}); nothing is written. */
  dryRun?: boolean;
}

/**
 * What a revert would change, as current paths (after the revert), each list sorted: names that
 * would appear, names whose object or content/attributes would change, names that would go
 * (a removed directory takes everything below it).
 */
export interface RevertPlan {
  created: string[];
  changed: string[];
  removed: string[];
}

/** One op of an atomic multi-operation batch. */
export type BatchOp =
  | { op: "mkdir"; path: string; mode?: number }
  | { op: "create"; path: string; options?: CreateOptions }
  | { op: "writeContent"; path: string; content: FileContent }
  | { op: "unlink"; path: string }
  | { op: "rmdir"; path: string }
  | { op: "rename"; from: string; to: string }
  | { op: "symlink"; target: string; path: string }
  | { op: "link"; existing: string; path: string }
  | { op: "setattr"; path: string; attrs: SetAttrs }
  | { op: "setTag"; path: string; key: string; value: string }
  | { op: "removeTag"; path: string; key: string };

/** Read operations; also what an as-of view offers. */
export interface ReadableFileSystem {
  readonly pfs: string;
  /** Follows symlinks (ELOOP after `NS_LIMITS.symlinkFollow` = 40 hops; core/namespace/index.ts). */
  stat(path: string, options?: ReadOptions): Promise<Stat>;
  /** Does not follow a final symlink. */
  lstat(path: string, options?: ReadOptions): Promise<Stat>;
  /** Sorted by name (UTF-8 byte order), paged. */
  readdir(path: string, options?: ReadOptions & { cursor?: string; limit?: number }): Promise<ReaddirPage>;
  readlink(path: string, options?: ReadOptions): Promise<string>;
  getXattr(path: string, name: string, options?: ReadOptions): Promise<Uint8Array>;
  listXattrs(path: string, options?: ReadOptions): Promise<string[]>;
  getTags(path: string, options?: ReadOptions): Promise<Record<string, string>>;
}

/**
 * A keyed file system's account of its writes so far (PfsOptions.idempotencyKey): how many
 * transactions it started under the key, how many of them an idempotency record holding their
 * result answers (committed with one, or answered from one), and whether one was answered from a
 * record (a replay: done before). When `transactions === answered === 1`, a retry of the same
 * operation with the same key gets this result from the namespace's own record.
 */
export interface KeyedWrites {
  transactions: number;
  answered: number;
  replayed: boolean;
}

export interface FileSystem extends ReadableFileSystem {
  /** A keyed file system's {@link KeyedWrites}; undefined (or absent) without a key. */
  keyedWrites?(): KeyedWrites | undefined;
  mkdir(
    path: string,
    options?: { mode?: number; uid?: number; gid?: number; recursive?: boolean },
  ): Promise<Stat>;
  /** Create a regular file; EEXIST when the name is taken. */
  create(path: string, options?: CreateOptions): Promise<Stat>;
  /**
   * Replace a file's content (a new version; the old one stays reachable as-of).
   *
   * With `ifVersion`, a compare-and-swap: ECONFLICT (nothing written, not retried) unless the
   * file's live version is still the one with that TID (`Stat.tid` of the version the new content
   * was computed from). The check is part of the commit's own condition, so a read-modify-write
   * (append, truncate) cannot lose a concurrent change.
   *
   * ```ts
   * const st = await fs.stat("/log");
   * await fs.writeContent("/log", grown(st.content), { ifVersion: st.tid }); // ECONFLICT: re-read, retry
   * ```
   */
  writeContent(path: string, content: FileContent, options?: WriteContentOptions): Promise<Stat>;
  /** rename(2): atomic; replaces a file, or an empty directory by a directory; EXDEV only from a confined view, when resolution leaves its scope (PfsOptions). */
  rename(from: string, to: string, options?: { noReplace?: boolean }): Promise<void>;
  unlink(path: string): Promise<void>;
  /** ENOTEMPTY unless empty. */
  rmdir(path: string): Promise<void>;
  symlink(target: string, path: string): Promise<Stat>;
  /** Hard link to a file (EPERM-like EISDIR for directories). */
  link(existing: string, path: string): Promise<Stat>;
  setattr(path: string, attrs: SetAttrs): Promise<Stat>;
  setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options?: { create?: boolean; replace?: boolean },
  ): Promise<void>;
  removeXattr(path: string, name: string): Promise<void>;
  setTag(path: string, key: string, value: string): Promise<void>;
  removeTag(path: string, key: string): Promise<void>;

  /**
   * Versions of the object at `path`, newest first: at most `limit`, and with `before` only those
   * older than that TID (versions' TIDs strictly decrease, so the last TID of one call resumes the next).
   */
  history(path: string, options?: { limit?: number; before?: Tid }): Promise<Version[]>;
  /**
   * Revert by identity, as new history (nothing is erased): the object `path` names now (a final
   * symlink is not followed) gets its content and attributes of `asOf` back at its current path;
   * with `recursive`, a directory's names and contents below it are restored as that directory
   * object's entries were at `asOf` (by object ids, following renames). ENOENT, and nothing
   * changes, when the object did not exist at `asOf`. `byPath: true` is the older behaviour:
   * restore whatever the path named at `asOf`. One transaction when the change fits in one
   * (≤ 100 items); a larger subtree revert commits step by step and is not atomic
   * (docs/namespace.md). `dryRun: true` returns what would change and changes nothing.
   */
  revert(path: string, asOf: AsOf, options: RevertOptions & { dryRun: true }): Promise<RevertPlan>;
  revert(path: string, asOf: AsOf, options?: RevertOptions): Promise<Tid>;
  /** All ops commit in one transaction, or none does. */
  batch(ops: BatchOp[]): Promise<Tid>;

  /** A read-only view of this PFS as it was at `asOf`. */
  asOf(point: AsOf): ReadableFileSystem;

  createSnapshot(name: string, options?: { asOf?: AsOf }): Promise<Snapshot>;
  listSnapshots(): Promise<Snapshot[]>;
  deleteSnapshot(name: string): Promise<void>;

  /**
   * A TID T such that every change acknowledged before this call has a TID ≤ T, and as-of reads
   * at T will give the same answer every time they are asked.
   */
  currentTid(): Promise<Tid>;
}

export interface Namespace {
  createPfs(name: string): Promise<PfsInfo>;
  listPfs(): Promise<PfsInfo[]>;
  /** Only an empty PFS (root without entries); ENOTEMPTY otherwise. */
  deletePfs(name: string): Promise<void>;
  /**
   * ENOENT (lazily, on first use) when the PFS does not exist. With `beneath`, a view confined to
   * that subtree (see {@link PfsOptions}). With `idempotencyKey`, the file system serves ONE
   * logical operation under that key: retried with the same key after a lost reply, it returns
   * the original result instead of EEXIST/ECONFLICT (docs/namespace.md "Idempotent commits").
   */
  pfs(name: string, options?: PfsOptions): FileSystem;
}

/**
 * How to open a PFS. `beneath: "/a"` gives a view confined to the subtree at /a, like
 * openat2(RESOLVE_BENEATH) (docs/namespace.md, "Confinement"): paths are still absolute PFS paths;
 * a path outside /a, a symlink on the path to /a, or a symlink whose target (absolute: a PFS path;
 * relative: from the link's directory; `..` after it included) leads outside /a is EACCES, decided
 * while resolving, live and as of any TID; a rename or link whose resolution leaves /a is EXDEV.
 * Snapshot creation and deletion (whole-PFS) are EACCES; a recursive revert too large for one
 * transaction is E2BIG. `beneath: "/"` (or none) is the unconfined view.
 */
export interface PfsOptions {
  beneath?: string;
  /** The idempotency key of the ONE operation this file system serves (1..255 printable ASCII). */
  idempotencyKey?: string;
}
