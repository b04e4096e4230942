/**
 * The namespace reference model: a second, deliberately naive implementation of the FileSystem
 * semantics of core/namespace/api.ts, used by the model-based property test
 * (test/conformance/namespace-model.ts) to check the real engine.
 *
 * It is a plain in-memory tree, synchronous, and favours being obviously right over being fast:
 * every mutation runs on a deep copy of the whole tree that replaces the current one only when
 * the operation succeeded (so a failed op, or a failed batch, changes nothing); `nlink` is never
 * stored but counted from the directory entries; every recorded state is a frozen deep copy.
 *
 * POSIX rules it follows (Linux where POSIX leaves a choice, e.g. the order of checks in
 * rename(2)): components are separated by "/", empty components are ignored, "." and ".." are
 * resolved physically (".." of the root is the root) — or lexically, the engine's documented
 * choice, with `dotdot: "lexical"`; a name is ≤ 255 UTF-8 bytes
 * (ENAMETOOLONG) and has no NUL (EINVAL); a path is ≤ 4,096 bytes; intermediate symlinks are
 * followed, ELOOP after `symlinkFollow` hops; rename(2) replace rules; EINVAL for moving a
 * directory under itself; unlink of a directory is EISDIR (the api's stand-in for EPERM);
 * link to a directory is EISDIR; link does not follow a final symlink (as Linux's link(2)).
 * Trailing slashes are not modelled (paths are generated without them).
 *
 * What it does not know: inode numbers and times are assigned by the engine. Model inodes have
 * their own numbers (never reused); the property test maps them to engine inos by observation.
 * Times are known only when set explicitly by `setattr` and untouched since; otherwise they are
 * `undefined` ("don't compare").
 *
 * History: after each successful mutation the caller records the engine's TID with `record(tid)`;
 * reads take `at` (a TID or a snapshot name) and are answered from the latest recorded state with
 * a TID ≤ the one asked.
 *
 * Errors are `StrataError`s; only the code matters. Where POSIX allows more than one code,
 * `details.acceptable` lists the others.
 */
import { type ErrorCode, StrataError } from "../../core/errors.ts";
import type {
  BatchOp,
  CreateOptions,
  FileContent,
  FileType,
  SetAttrs,
  Tid,
} from "../../core/namespace/api.ts";

/** Knobs for the engine choices api.ts does not pin down. Defaults are POSIX-like. */
export interface ModelOptions {
  /** Symlinks followed in one resolution before ELOOP (Linux: 40). */
  symlinkFollow?: number;
  /**
   * How ".." resolves: POSIX walks to the real parent (after symlinks); "lexical" removes
   * "name/.." from the path as written before any lookup, and joins a relative symlink target to
   * the link's directory path and cleans it the same way (Plan 9, Go's path.Clean).
   */
  dotdot?: "physical" | "lexical";
  /** Default permission bits for files, directories and symlinks. */
  fileMode?: number;
  dirMode?: number;
  symlinkMode?: number;
  /**
   * Directory nlink: POSIX's 2 + subdirectories, a constant (btrfs says 1; an engine that keeps
   * no per-directory counter, to avoid a hot item, may say 2), or not compared.
   */
  dirNlink?: "posix" | number | "unknown";
  /** Whether these ops follow a final symlink (POSIX: chmod, setxattr and open do). */
  follow?: { writeContent?: boolean; setattr?: boolean; xattr?: boolean; tags?: boolean };
  /** removeTag of a missing key: ENOENT (like removexattr) or success. */
  removeMissingTag?: "ENOENT" | "ok";
}

/** One inode of the model tree. Plain data so `structuredClone` copies it. */
export interface ModelInode {
  ino: number;
  type: FileType;
  mode: number;
  uid: number;
  gid: number;
  /** Symlinks only. */
  target?: string;
  /** Files only. */
  content?: FileContent;
  /** Directories only: name → ino. */
  entries?: Map<string, number>;
  xattrs: Map<string, Uint8Array>;
  tags: Map<string, string>;
  /** Known only when set by setattr and not changed since. */
  atimeMs?: number;
  mtimeMs?: number;
}

export interface ModelTree {
  readonly root: number;
  readonly inodes: Map<number, ModelInode>;
}

/** What the model can say about an inode; `undefined` fields are engine-assigned (not compared). */
export interface ModelStat {
  ino: number;
  type: FileType;
  mode: number;
  uid: number;
  gid: number;
  nlink?: number;
  size?: number;
  target?: string;
  content?: FileContent;
  atimeMs?: number;
  mtimeMs?: number;
}

export interface ModelDirEntry {
  name: string;
  type: FileType;
  ino: number;
}

/** One object of a whole-tree listing: its path, what lstat says, xattrs and tags. */
export interface ModelDumpEntry {
  path: string;
  stat: ModelStat;
  xattrs: Array<[string, Uint8Array]>;
  tags: Array<[string, string]>;
}

/** A point in the model's history: a TID or a snapshot name. */
export type ModelAt = Tid | { snapshot: string };

const NAME_MAX = 255;
const PATH_MAX = 4096;
const utf8 = new TextEncoder();

function fail(code: ErrorCode, message: string, acceptable?: ErrorCode[]): never {
  throw new StrataError(code, `model: ${message}`, acceptable ? { details: { acceptable } } : {});
}

/** UTF-8 byte order, which equals code point order. */
export function compareNames(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** Syntactic checks of a path, before any lookup ("bad input is rejected before anything is written"). */
export function parsePath(path: string, lexical = false): string[] {
  if (typeof path !== "string" || !path.startsWith("/"))
    fail("EINVAL", `path ${JSON.stringify(path)} is not absolute`);
  if (path.includes("\0")) fail("EINVAL", "path contains NUL");
  if (utf8.encode(path).length > PATH_MAX) fail("ENAMETOOLONG", "path longer than 4096 bytes");
  const comps = path.split("/").filter((c) => c !== "");
  for (const c of comps)
    if (utf8.encode(c).length > NAME_MAX) fail("ENAMETOOLONG", `name ${c.slice(0, 20)}… > 255 bytes`);
  return lexical ? clean(comps) : comps;
}

/** Lexical cleaning: drop empty and "." components, "name/.." cancels, ".." of the root is the root. */
function clean(comps: string[]): string[] {
  const out: string[] = [];
  for (const c of comps) {
    if (c === "" || c === ".") continue;
    if (c === "..") out.pop();
    else {
      if (utf8.encode(c).length > NAME_MAX) fail("ENAMETOOLONG", "a name in a symlink target is > 255 bytes");
      out.push(c);
    }
  }
  return out;
}

function checkTarget(target: string): void {
  if (typeof target !== "string") fail("EINVAL", "symlink target is not a string");
  if (target.includes("\0")) fail("EINVAL", "symlink target contains NUL");
  if (target === "") fail("ENOENT", "empty symlink target");
  if (utf8.encode(target).length >= PATH_MAX) fail("ENAMETOOLONG", "symlink target too long");
}

function checkMode(mode: number | undefined): void {
  if (mode !== undefined && !(Number.isInteger(mode) && mode >= 0 && mode <= 0o7777))
    fail("EINVAL", "bad mode");
}

/** Freezes objects all the way down (typed arrays cannot be frozen: they are copied on the way out). */
function deepFreeze<T>(value: T): T {
  if (value instanceof Uint8Array) return value;
  if (value instanceof Map) {
    for (const v of value.values()) deepFreeze(v);
  } else if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return Object.freeze(value);
}

function cloneTree(tree: ModelTree): { root: number; inodes: Map<number, ModelInode> } {
  return structuredClone({ root: tree.root, inodes: tree.inodes });
}

const isSpecial = (name: string) => name === "." || name === "..";

export class NamespaceModel {
  readonly options: Required<Omit<ModelOptions, "follow">> & {
    follow: Required<NonNullable<ModelOptions["follow"]>>;
  };
  private tree: ModelTree;
  private nextIno = 2;
  /** Recorded states, ascending by TID. */
  private readonly history: Array<{ tid: Tid; tree: ModelTree }> = [];
  private readonly snapshots = new Map<string, Tid>();

  constructor(options: ModelOptions = {}) {
    this.options = {
      symlinkFollow: options.symlinkFollow ?? 40,
      dotdot: options.dotdot ?? "physical",
      fileMode: options.fileMode ?? 0o644,
      dirMode: options.dirMode ?? 0o755,
      symlinkMode: options.symlinkMode ?? 0o777,
      dirNlink: options.dirNlink ?? "posix",
      removeMissingTag: options.removeMissingTag ?? "ENOENT",
      follow: { writeContent: true, setattr: true, xattr: true, tags: true, ...options.follow },
    };
    const root: ModelInode = {
      ino: 1,
      type: "dir",
      mode: this.options.dirMode,
      uid: 0,
      gid: 0,
      entries: new Map(),
      xattrs: new Map(),
      tags: new Map(),
    };
    this.tree = deepFreeze({ root: 1, inodes: new Map([[1, root]]) });
  }

  // History

  /** Remember the current state as the state at `tid` (the engine's TID for the last change). */
  record(tid: Tid): void {
    const last = this.history.at(-1);
    if (last && tid < last.tid) throw new Error(`model: TIDs went backwards (${tid} < ${last.tid})`);
    if (last && last.tid === tid) last.tree = this.tree;
    else this.history.push({ tid, tree: this.tree });
  }

  rememberedTids(): Tid[] {
    return this.history.map((h) => h.tid);
  }

  /**
   * The state that contains the commit with TID `tid`: the first one recorded at or after it.
   * (Records carry the engine's `currentTid()` after a change, which may be above the change's
   * own TID, and is below the next change's.) Undefined when nothing was recorded since.
   */
  treeContaining(tid: Tid): ModelTree | undefined {
    return this.history.find((h) => h.tid >= tid)?.tree;
  }

  /** What lstat would say of inode `ino` in `tree`, or undefined when it is not live there. */
  statInTree(tree: ModelTree, ino: number): ModelStat | undefined {
    return tree.inodes.has(ino) ? this.statOf(tree, ino) : undefined;
  }

  /** The state as of `at`; ENOENT for an unknown snapshot, EINVAL before the first record. */
  treeAt(at?: ModelAt): ModelTree {
    if (at === undefined) return this.tree;
    let tid: Tid;
    if (typeof at === "string") tid = at;
    else {
      const pinned = this.snapshots.get(at.snapshot);
      if (pinned === undefined) fail("ENOENT", `no snapshot ${at.snapshot}`);
      tid = pinned;
    }
    let found: ModelTree | undefined;
    for (const h of this.history) if (h.tid <= tid) found = h.tree;
    if (!found) fail("EINVAL", `no recorded state at or before ${tid}`);
    return found;
  }

  createSnapshot(name: string, tid: Tid): void {
    if (this.snapshots.has(name)) fail("EEXIST", `snapshot ${name} exists`);
    this.snapshots.set(name, tid);
  }

  deleteSnapshot(name: string): void {
    if (!this.snapshots.delete(name)) fail("ENOENT", `no snapshot ${name}`);
  }

  listSnapshots(): Array<{ name: string; tid: Tid }> {
    return [...this.snapshots]
      .map(([name, tid]) => ({ name, tid }))
      .sort((a, b) => compareNames(a.name, b.name));
  }

  // Reads

  stat(path: string, at?: ModelAt): ModelStat {
    const comps = this.parse(path);
    const tree = this.treeAt(at);
    return this.statOf(tree, walk(tree, comps, true, this.options));
  }

  lstat(path: string, at?: ModelAt): ModelStat {
    const comps = this.parse(path);
    const tree = this.treeAt(at);
    return this.statOf(tree, walk(tree, comps, false, this.options));
  }

  /** All entries, sorted by UTF-8 bytes (follows symlinks like opendir). */
  readdir(path: string, at?: ModelAt): ModelDirEntry[] {
    const comps = this.parse(path);
    const tree = this.treeAt(at);
    const node = inode(tree, walk(tree, comps, true, this.options));
    if (node.type !== "dir") fail("ENOTDIR", `${path} is not a directory`);
    return sortedEntries(node).map(([name, ino]) => ({ name, ino, type: inode(tree, ino).type }));
  }

  readlink(path: string, at?: ModelAt): string {
    const comps = this.parse(path);
    const tree = this.treeAt(at);
    const node = inode(tree, walk(tree, comps, false, this.options));
    if (node.type !== "symlink") fail("EINVAL", `${path} is not a symlink`);
    return node.target!;
  }

  getXattr(path: string, name: string, at?: ModelAt): Uint8Array {
    const value = this.readTarget(path, at, this.options.follow.xattr).xattrs.get(name);
    if (value === undefined) fail("ENOENT", `no xattr ${name}`);
    return value.slice();
  }

  listXattrs(path: string, at?: ModelAt): string[] {
    return [...this.readTarget(path, at, this.options.follow.xattr).xattrs.keys()].sort(compareNames);
  }

  getTags(path: string, at?: ModelAt): Record<string, string> {
    const tags = this.readTarget(path, at, this.options.follow.tags).tags;
    return Object.fromEntries([...tags].sort((a, b) => compareNames(a[0], b[0])));
  }

  /** Every object reachable from the root, depth first in name order, as lstat sees it. */
  dump(at?: ModelAt): ModelDumpEntry[] {
    const tree = this.treeAt(at);
    const out: ModelDumpEntry[] = [];
    const visit = (ino: number, path: string) => {
      const node = inode(tree, ino);
      out.push({
        path,
        stat: this.statOf(tree, ino),
        xattrs: [...node.xattrs].sort((a, b) => compareNames(a[0], b[0])),
        tags: [...node.tags].sort((a, b) => compareNames(a[0], b[0])),
      });
      if (node.type === "dir")
        for (const [name, child] of sortedEntries(node)) visit(child, `${path === "/" ? "" : path}/${name}`);
    };
    visit(tree.root, "/");
    return out;
  }

  // Mutations

  mkdir(
    path: string,
    options: { mode?: number; uid?: number; gid?: number; recursive?: boolean } = {},
  ): ModelStat {
    checkMode(options.mode);
    const comps = this.parse(path);
    return this.mutate((t) => this.statOf(t, this.doMkdir(t, comps, options)));
  }

  create(path: string, options: CreateOptions = {}): ModelStat {
    checkMode(options.mode);
    const comps = this.parse(path);
    return this.mutate((t) => this.statOf(t, this.doCreate(t, comps, options)));
  }

  writeContent(path: string, content: FileContent): ModelStat {
    const comps = this.parse(path);
    return this.mutate((t) => this.statOf(t, this.doWriteContent(t, comps, content)));
  }

  rename(from: string, to: string, options: { noReplace?: boolean } = {}): void {
    const a = this.parse(from);
    const b = this.parse(to);
    this.mutate((t) => this.doRename(t, a, b, options.noReplace ?? false));
  }

  unlink(path: string): void {
    const comps = this.parse(path);
    this.mutate((t) => this.doUnlink(t, comps));
  }

  rmdir(path: string): void {
    const comps = this.parse(path);
    this.mutate((t) => this.doRmdir(t, comps));
  }

  symlink(target: string, path: string): ModelStat {
    checkTarget(target);
    const comps = this.parse(path);
    return this.mutate((t) => this.statOf(t, this.doSymlink(t, target, comps)));
  }

  link(existing: string, path: string): ModelStat {
    const a = this.parse(existing);
    const b = this.parse(path);
    return this.mutate((t) => this.statOf(t, this.doLink(t, a, b)));
  }

  setattr(path: string, attrs: SetAttrs): ModelStat {
    checkMode(attrs.mode);
    const comps = this.parse(path);
    return this.mutate((t) => this.statOf(t, this.doSetattr(t, comps, attrs)));
  }

  setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options: { create?: boolean; replace?: boolean } = {},
  ): void {
    if (name === "" || name.includes("\0")) fail("EINVAL", "bad xattr name");
    const comps = this.parse(path);
    this.mutate((t) => {
      const node = this.target(t, comps, this.options.follow.xattr);
      const exists = node.xattrs.has(name);
      if (options.create && exists) fail("EEXIST", `xattr ${name} exists`);
      if (options.replace && !exists) fail("ENOENT", `no xattr ${name}`);
      node.xattrs.set(name, value.slice());
      touched(node);
    });
  }

  removeXattr(path: string, name: string): void {
    const comps = this.parse(path);
    this.mutate((t) => {
      const node = this.target(t, comps, this.options.follow.xattr);
      if (!node.xattrs.delete(name)) fail("ENOENT", `no xattr ${name}`);
      touched(node);
    });
  }

  setTag(path: string, key: string, value: string): void {
    const comps = this.parse(path);
    this.mutate((t) => this.doSetTag(t, comps, key, value));
  }

  removeTag(path: string, key: string): void {
    const comps = this.parse(path);
    this.mutate((t) => this.doRemoveTag(t, comps, key));
  }

  /** All ops on one copy; the first failure fails the whole batch and changes nothing. */
  batch(ops: BatchOp[]): void {
    if (ops.length === 0) fail("EINVAL", "empty batch");
    // Syntax of every op first: bad input is rejected before any op is tried.
    const parsed = ops.map((op) => {
      switch (op.op) {
        case "rename":
          return [this.parse(op.from), this.parse(op.to)];
        case "link":
          return [this.parse(op.existing), this.parse(op.path)];
        case "symlink":
          checkTarget(op.target);
          return [this.parse(op.path)];
        case "mkdir":
          checkMode(op.mode);
          return [this.parse(op.path)];
        case "create":
          checkMode(op.options?.mode);
          return [this.parse(op.path)];
        case "setattr":
          checkMode(op.attrs.mode);
          return [this.parse(op.path)];
        default:
          return [this.parse(op.path)];
      }
    });
    this.mutate((t) => {
      for (const [i, op] of ops.entries()) {
        const [p, q] = parsed[i] as [string[], string[] | undefined];
        switch (op.op) {
          case "mkdir":
            this.doMkdir(t, p, { mode: op.mode });
            break;
          case "create":
            this.doCreate(t, p, op.options ?? {});
            break;
          case "writeContent":
            this.doWriteContent(t, p, op.content);
            break;
          case "unlink":
            this.doUnlink(t, p);
            break;
          case "rmdir":
            this.doRmdir(t, p);
            break;
          case "rename":
            this.doRename(t, p, q!, false);
            break;
          case "symlink":
            this.doSymlink(t, op.target, p);
            break;
          case "link":
            this.doLink(t, p, q!);
            break;
          case "setattr":
            this.doSetattr(t, p, op.attrs);
            break;
          case "setTag":
            this.doSetTag(t, p, op.key, op.value);
            break;
          case "removeTag":
            this.doRemoveTag(t, p, op.key);
            break;
        }
      }
    });
  }

  /**
   * Revert by identity (the default): the object `path` names NOW (a final symlink not followed)
   * gets its own attributes, content, target, xattrs and tags of `at` back, at its current path
   * (times become unknown); an object that did not exist at `at` is ENOENT and nothing changes.
   * With `recursive`, a directory's names are restored as its own entries were at `at`, by object
   * ids, all the way down (the same per-name rule as below, from that directory object).
   *
   * With `byPath` (the old behaviour): restore `path` to what it was at `at`: the name is bound to
   * the object it named then (or to nothing), and that object's own attributes, content, target,
   * xattrs and tags are those of then. A directory that moved away since is moved back; a deleted
   * object comes back with its old identity. With `recursive`, the same holds for every name
   * below a directory; without, a directory's entries are left as they are now (a resurrected
   * directory comes back empty) and a non-empty directory that has to go is ENOTEMPTY.
   */
  revert(path: string, at: ModelAt, options: { recursive?: boolean; byPath?: boolean } = {}): void {
    const comps = this.parse(path);
    const past = this.treeAt(at);
    const recursive = options.recursive ?? false;
    if (!options.byPath) {
      this.mutate((t) => {
        if (comps.length > 0 && isSpecial(comps.at(-1)!)) fail("EINVAL", "cannot revert . or ..");
        const ino = walk(t, comps, false, this.options);
        if (!past.inodes.has(ino)) fail("ENOENT", "the object did not exist at that point");
        this.restoreAttrs(t, past, ino);
        if (recursive && inode(t, ino).type === "dir") this.revertChildren(t, past, ino, true);
      });
      return;
    }
    this.mutate((t) => {
      if (comps.length === 0) {
        this.restoreAttrs(t, past, t.root);
        if (recursive) this.revertChildren(t, past, t.root, recursive);
        return;
      }
      const name = comps.at(-1)!;
      if (isSpecial(name)) fail("EINVAL", "cannot revert . or ..");
      const dir = inode(t, walk(t, comps.slice(0, -1), true, this.options));
      if (dir.type !== "dir") fail("ENOTDIR", "parent is not a directory");
      let pastIno: number | undefined;
      try {
        const pastDir = inode(past, walk(past, comps.slice(0, -1), true, this.options));
        pastIno = pastDir.type === "dir" ? pastDir.entries!.get(name) : undefined;
      } catch (err) {
        if (!(err instanceof StrataError)) throw err;
      }
      this.revertEntry(t, past, dir.ino, name, pastIno, recursive);
    });
  }

  // Internals

  private parse(path: string): string[] {
    return parsePath(path, this.options.dotdot === "lexical");
  }

  private mutate<T>(fn: (tree: ModelTree) => T): T {
    const copy = cloneTree(this.tree);
    const nextIno = this.nextIno;
    try {
      const result = fn(copy);
      this.tree = deepFreeze(copy);
      return result;
    } catch (err) {
      this.nextIno = nextIno;
      throw err;
    }
  }

  private statOf(tree: ModelTree, ino: number): ModelStat {
    const node = inode(tree, ino);
    const stat: ModelStat = { ino, type: node.type, mode: node.mode, uid: node.uid, gid: node.gid };
    if (node.type === "dir") {
      const subdirs = [...node.entries!.values()].filter((c) => inode(tree, c).type === "dir").length;
      if (this.options.dirNlink === "posix") stat.nlink = 2 + subdirs;
      else if (typeof this.options.dirNlink === "number") stat.nlink = this.options.dirNlink;
    } else {
      stat.nlink = countLinks(tree, ino);
    }
    if (node.type === "file") {
      stat.size = node.content?.size ?? 0;
      stat.content = node.content ?? { size: 0 };
    }
    if (node.type === "symlink") {
      stat.target = node.target!;
      stat.size = utf8.encode(node.target!).length;
    }
    if (node.atimeMs !== undefined) stat.atimeMs = node.atimeMs;
    if (node.mtimeMs !== undefined) stat.mtimeMs = node.mtimeMs;
    return stat;
  }

  private readTarget(path: string, at: ModelAt | undefined, follow: boolean): ModelInode {
    const comps = this.parse(path);
    const tree = this.treeAt(at);
    return inode(tree, walk(tree, comps, follow, this.options));
  }

  private target(t: ModelTree, comps: string[], follow: boolean): ModelInode {
    return inode(t, walk(t, comps, follow, this.options));
  }

  /** The directory that holds the final component, and that component; root and ./.. are `special`. */
  private locate(
    t: ModelTree,
    comps: string[],
  ): { dir: ModelInode; name: string; ino?: number } | { special: string } {
    const name = comps.at(-1);
    if (name === undefined) return { special: "/" };
    const dir = inode(t, walk(t, comps.slice(0, -1), true, this.options));
    if (dir.type !== "dir") fail("ENOTDIR", "a path component is not a directory");
    if (isSpecial(name)) return { special: name };
    return { dir, name, ino: dir.entries!.get(name) };
  }

  private allocate(t: ModelTree, fields: Omit<ModelInode, "ino" | "xattrs" | "tags">): ModelInode {
    const node: ModelInode = { ino: this.nextIno++, xattrs: new Map(), tags: new Map(), ...fields };
    t.inodes.set(node.ino, node);
    return node;
  }

  private doMkdir(
    t: ModelTree,
    comps: string[],
    o: { mode?: number; uid?: number; gid?: number; recursive?: boolean },
  ): number {
    if (o.recursive) {
      // mkdir -p: create what is missing, accept directories (or symlinks to them) that exist.
      let cur = t.root;
      for (const [i, c] of comps.entries()) {
        const dir = inode(t, cur);
        if (c === ".") continue;
        if (c === "..") {
          cur = parentOf(t, cur).ino;
          continue;
        }
        if (!dir.entries!.has(c)) {
          const node = this.allocate(t, {
            type: "dir",
            mode: o.mode ?? this.options.dirMode,
            uid: o.uid ?? 0,
            gid: o.gid ?? 0,
            entries: new Map(),
          });
          dir.entries!.set(c, node.ino);
          touched(dir);
          cur = node.ino;
          continue;
        }
        cur = walk(t, comps.slice(0, i + 1), true, this.options);
        if (inode(t, cur).type !== "dir") fail("EEXIST", `${c} exists and is not a directory`, ["ENOTDIR"]);
      }
      return cur;
    }
    const at = this.locate(t, comps);
    if ("special" in at) fail("EEXIST", `${at.special} exists`);
    if (at.ino !== undefined) fail("EEXIST", `${at.name} exists`);
    const node = this.allocate(t, {
      type: "dir",
      mode: o.mode ?? this.options.dirMode,
      uid: o.uid ?? 0,
      gid: o.gid ?? 0,
      entries: new Map(),
    });
    at.dir.entries!.set(at.name, node.ino);
    touched(at.dir);
    return node.ino;
  }

  private doCreate(t: ModelTree, comps: string[], o: CreateOptions): number {
    const at = this.locate(t, comps);
    if ("special" in at) fail("EEXIST", `${at.special} exists`, ["EISDIR"]);
    if (at.ino !== undefined) fail("EEXIST", `${at.name} exists`);
    const node = this.allocate(t, {
      type: "file",
      mode: o.mode ?? this.options.fileMode,
      uid: o.uid ?? 0,
      gid: o.gid ?? 0,
      content: structuredClone(o.content ?? { size: 0 }),
    });
    at.dir.entries!.set(at.name, node.ino);
    touched(at.dir);
    return node.ino;
  }

  private doWriteContent(t: ModelTree, comps: string[], content: FileContent): number {
    const node = this.target(t, comps, this.options.follow.writeContent);
    if (node.type === "dir") fail("EISDIR", "cannot write a directory");
    if (node.type !== "file") fail("EINVAL", "not a regular file");
    node.content = structuredClone(content);
    touched(node);
    return node.ino;
  }

  private doSymlink(t: ModelTree, target: string, comps: string[]): number {
    const at = this.locate(t, comps);
    if ("special" in at) fail("EEXIST", `${at.special} exists`);
    if (at.ino !== undefined) fail("EEXIST", `${at.name} exists`);
    const node = this.allocate(t, {
      type: "symlink",
      mode: this.options.symlinkMode,
      uid: 0,
      gid: 0,
      target,
    });
    at.dir.entries!.set(at.name, node.ino);
    touched(at.dir);
    return node.ino;
  }

  private doLink(t: ModelTree, existing: string[], comps: string[]): number {
    const source = walk(t, existing, false, this.options);
    const isDir = inode(t, source).type === "dir";
    let at: ReturnType<NamespaceModel["locate"]>;
    try {
      at = this.locate(t, comps);
    } catch (err) {
      // A directory source and a bad new path: POSIX allows either error.
      if (err instanceof StrataError && isDir) fail(err.code as ErrorCode, err.message, ["EISDIR"]);
      throw err;
    }
    if ("special" in at) fail("EEXIST", `${at.special} exists`, isDir ? ["EISDIR"] : undefined);
    if (at.ino !== undefined) fail("EEXIST", `${at.name} exists`, isDir ? ["EISDIR"] : undefined);
    const node = inode(t, source);
    if (isDir) fail("EISDIR", "cannot hard-link a directory");
    at.dir.entries!.set(at.name, source);
    touched(at.dir);
    touched(node);
    return source;
  }

  private doUnlink(t: ModelTree, comps: string[]): void {
    const at = this.locate(t, comps);
    if ("special" in at) fail("EISDIR", `cannot unlink ${at.special}`, ["EINVAL"]);
    if (at.ino === undefined) fail("ENOENT", `${at.name} does not exist`);
    if (inode(t, at.ino).type === "dir") fail("EISDIR", `${at.name} is a directory`);
    this.removeEntry(t, at.dir, at.name);
  }

  private doRmdir(t: ModelTree, comps: string[]): void {
    const at = this.locate(t, comps);
    if ("special" in at) {
      if (at.special === "..") fail("ENOTEMPTY", "cannot rmdir ..", ["EINVAL"]);
      fail("EINVAL", `cannot rmdir ${at.special}`);
    }
    if (at.ino === undefined) fail("ENOENT", `${at.name} does not exist`);
    const node = inode(t, at.ino);
    if (node.type !== "dir") fail("ENOTDIR", `${at.name} is not a directory`);
    if (node.entries!.size > 0) fail("ENOTEMPTY", `${at.name} is not empty`);
    this.removeEntry(t, at.dir, at.name);
  }

  /** rename(2), with Linux's order of checks (fs/namei.c do_renameat2, vfs_rename). */
  private doRename(t: ModelTree, from: string[], to: string[], noReplace: boolean): void {
    // Errors in locating either side, or a side that is / . or ..: all apply, any may be reported.
    const found: Array<[ErrorCode, string]> = [];
    const attempt = (comps: string[]) => {
      try {
        const at = this.locate(t, comps);
        if ("special" in at) found.push(["EINVAL", `cannot rename ${at.special}`]);
        else return at;
      } catch (err) {
        if (!(err instanceof StrataError)) throw err;
        found.push([err.code, err.message]);
      }
      return undefined;
    };
    const src = attempt(from);
    if (src && src.ino === undefined) found.push(["ENOENT", `${src.name} does not exist`]);
    const dst = attempt(to);
    if (!src || !dst || src.ino === undefined) {
      const [code, message] = found[0]!;
      fail(
        code,
        message,
        found.slice(1).map((e) => e[0]),
      );
    }
    // Every error that applies, in Linux's order; POSIX lets an implementation report any of them.
    const errors: Array<[ErrorCode, string]> = [];
    const srcNode = inode(t, src.ino);
    const dstNode = dst.ino === undefined ? undefined : inode(t, dst.ino);
    if (noReplace && dstNode) errors.push(["EEXIST", `${dst.name} exists`]);
    if (srcNode.type === "dir" && isAncestorOrSelf(t, src.ino, dst.dir.ino) && dst.ino !== src.ino)
      errors.push(["EINVAL", "cannot move a directory under itself"]);
    // The target is an ancestor of the source: it cannot be empty.
    if (dstNode && dst.ino !== src.ino && isAncestorOrSelf(t, dstNode.ino, src.dir.ino))
      errors.push(["ENOTEMPTY", "target is an ancestor of the source"]);
    if (dstNode && dst.ino !== src.ino) {
      if (srcNode.type === "dir" && dstNode.type !== "dir")
        errors.push(["ENOTDIR", "cannot replace a non-directory by a directory"]);
      if (srcNode.type !== "dir" && dstNode.type === "dir")
        errors.push(["EISDIR", "cannot replace a directory by a non-directory"]);
      if (dstNode.type === "dir" && dstNode.entries!.size > 0)
        errors.push(["ENOTEMPTY", `${dst.name} is not empty`]);
    }
    const first = errors[0];
    if (first) {
      const others = errors.slice(1).map((e) => e[0]);
      // A non-empty target directory may also be reported as EEXIST (POSIX).
      if (errors.some((e) => e[0] === "ENOTEMPTY")) others.push("EEXIST");
      fail(first[0], first[1], others);
    }
    if (dst.ino === src.ino) return; // same object (same entry, or two hard links): nothing to do
    if (dstNode) {
      this.removeEntry(t, dst.dir, dst.name);
    }
    src.dir.entries!.delete(src.name);
    dst.dir.entries!.set(dst.name, src.ino);
    touched(src.dir);
    touched(dst.dir);
    touched(srcNode);
  }

  private doSetattr(t: ModelTree, comps: string[], attrs: SetAttrs): number {
    const node = this.target(t, comps, this.options.follow.setattr);
    if (attrs.mode !== undefined) node.mode = attrs.mode;
    if (attrs.uid !== undefined) node.uid = attrs.uid;
    if (attrs.gid !== undefined) node.gid = attrs.gid;
    if (attrs.atimeMs !== undefined) node.atimeMs = attrs.atimeMs;
    if (attrs.mtimeMs !== undefined) node.mtimeMs = attrs.mtimeMs;
    return node.ino;
  }

  private doSetTag(t: ModelTree, comps: string[], key: string, value: string): void {
    if (key === "" || key.includes("\0")) fail("EINVAL", "bad tag key");
    const node = this.target(t, comps, this.options.follow.tags);
    node.tags.set(key, value);
    touched(node);
  }

  private doRemoveTag(t: ModelTree, comps: string[], key: string): void {
    const node = this.target(t, comps, this.options.follow.tags);
    if (!node.tags.delete(key) && this.options.removeMissingTag === "ENOENT") fail("ENOENT", `no tag ${key}`);
    touched(node);
  }

  /** Remove one entry; the inode goes away with its last link (a directory's subtree with it). */
  private removeEntry(t: ModelTree, dir: ModelInode, name: string): void {
    const ino = dir.entries!.get(name)!;
    dir.entries!.delete(name);
    touched(dir);
    const node = inode(t, ino);
    touched(node);
    if (node.type === "dir") {
      for (const child of [...node.entries!.keys()]) this.removeEntry(t, node, child);
      t.inodes.delete(ino);
    } else if (countLinks(t, ino) === 0) t.inodes.delete(ino);
  }

  private restoreAttrs(t: ModelTree, past: ModelTree, ino: number): void {
    const then = inode(past, ino);
    const now = inode(t, ino);
    now.mode = then.mode;
    now.uid = then.uid;
    now.gid = then.gid;
    if (then.target !== undefined) now.target = then.target;
    if (then.content !== undefined) now.content = structuredClone(then.content);
    now.xattrs = structuredClone(then.xattrs);
    now.tags = structuredClone(then.tags);
    touched(now);
  }

  private revertEntry(
    t: ModelTree,
    past: ModelTree,
    dirIno: number,
    name: string,
    pastIno: number | undefined,
    recursive: boolean,
  ): void {
    const dir = inode(t, dirIno);
    const cur = dir.entries!.get(name);
    if (cur !== pastIno) {
      if (cur !== undefined) {
        const node = inode(t, cur);
        if (node.type === "dir" && node.entries!.size > 0 && !recursive)
          fail("ENOTEMPTY", `${name} is not empty`);
        this.removeEntry(t, dir, name);
      }
      if (pastIno !== undefined) {
        const then = inode(past, pastIno);
        const now = t.inodes.get(pastIno);
        if (now === undefined) {
          const fields = structuredClone(then);
          if (fields.entries) fields.entries = new Map();
          delete fields.atimeMs;
          delete fields.mtimeMs;
          t.inodes.set(pastIno, fields);
        } else if (now.type === "dir") {
          if (isAncestorOrSelf(t, pastIno, dirIno))
            fail("EINVAL", "reverting would move a directory under itself");
          const parent = parentOf(t, pastIno);
          const [oldName] = [...parent.entries!].find(([, ino]) => ino === pastIno)!;
          parent.entries!.delete(oldName);
          touched(parent);
        }
        dir.entries!.set(name, pastIno);
        touched(dir);
      }
    }
    if (pastIno === undefined) return;
    this.restoreAttrs(t, past, pastIno);
    if (recursive && inode(t, pastIno).type === "dir") this.revertChildren(t, past, pastIno, recursive);
  }

  private revertChildren(t: ModelTree, past: ModelTree, ino: number, recursive: boolean): void {
    const then = inode(past, ino).entries!;
    const now = inode(t, ino).entries!;
    const names = new Set([...then.keys(), ...now.keys()]);
    for (const name of [...names].sort(compareNames))
      this.revertEntry(t, past, ino, name, then.get(name), recursive);
  }
}

function inode(tree: ModelTree, ino: number): ModelInode {
  const node = tree.inodes.get(ino);
  if (!node) throw new Error(`model bug: dangling ino ${ino}`);
  return node;
}

function sortedEntries(dir: ModelInode): Array<[string, number]> {
  return [...dir.entries!].sort((a, b) => compareNames(a[0], b[0]));
}

/** A change to an inode makes its times engine-assigned again. */
function touched(node: ModelInode): void {
  delete node.atimeMs;
  delete node.mtimeMs;
}

function countLinks(tree: ModelTree, ino: number): number {
  let n = 0;
  for (const node of tree.inodes.values())
    if (node.entries) for (const child of node.entries.values()) if (child === ino) n++;
  return n;
}

function parentOf(tree: ModelTree, ino: number): ModelInode {
  if (ino === tree.root) return inode(tree, tree.root);
  for (const node of tree.inodes.values())
    if (node.entries && [...node.entries.values()].includes(ino)) return node;
  throw new Error(`model bug: directory ${ino} has no parent`);
}

/** Is `ancestor` the directory `ino` or one of its ancestors? */
function isAncestorOrSelf(tree: ModelTree, ancestor: number, ino: number): boolean {
  let cur = ino;
  for (;;) {
    if (cur === ancestor) return true;
    if (cur === tree.root) return false;
    cur = parentOf(tree, cur).ino;
  }
}

/**
 * Resolve components from `start` (default the root). Symlinks met before the last component
 * are always followed, the last one only with `followFinal`; each hop counts against `limit`.
 */
function walk(
  tree: ModelTree,
  comps: string[],
  followFinal: boolean,
  options: { symlinkFollow: number; dotdot: "physical" | "lexical" },
  start = tree.root,
): number {
  if (options.dotdot === "lexical") {
    if (start !== tree.root) throw new Error("model bug: lexical walks start at the root");
    return walkLexical(tree, comps, followFinal, options.symlinkFollow);
  }
  const hops = { n: 0 };
  return walkFrom(tree, start, comps, followFinal, options.symlinkFollow, hops);
}

/** Lexical resolution: a symlink replaces the path walked so far (joined, cleaned) and the walk restarts. */
function walkLexical(tree: ModelTree, comps: string[], followFinal: boolean, limit: number): number {
  let path = comps;
  let hops = 0;
  restart: for (;;) {
    let cur = tree.root;
    for (let i = 0; i < path.length; i++) {
      const dir = inode(tree, cur);
      if (dir.type !== "dir") fail("ENOTDIR", "a path component is not a directory");
      const child = dir.entries!.get(path[i]!);
      if (child === undefined) fail("ENOENT", `${path[i]} does not exist`);
      const node = inode(tree, child);
      if (node.type === "symlink" && (i < path.length - 1 || followFinal)) {
        if (++hops > limit) fail("ELOOP", "too many levels of symbolic links");
        const target = node.target!.split("/");
        const joined = node.target!.startsWith("/") ? target : [...path.slice(0, i), ...target];
        path = [...clean(joined), ...path.slice(i + 1)];
        continue restart;
      }
      cur = child;
    }
    return cur;
  }
}

function walkFrom(
  tree: ModelTree,
  start: number,
  comps: string[],
  followFinal: boolean,
  limit: number,
  hops: { n: number },
): number {
  let cur = start;
  comps.forEach((comp, i) => {
    const dir = inode(tree, cur);
    if (dir.type !== "dir") fail("ENOTDIR", "a path component is not a directory");
    if (comp === ".") return;
    if (comp === "..") {
      cur = parentOf(tree, cur).ino;
      return;
    }
    const child = dir.entries!.get(comp);
    if (child === undefined) fail("ENOENT", `${comp} does not exist`);
    const node = inode(tree, child);
    const last = i === comps.length - 1;
    if (node.type === "symlink" && (!last || followFinal)) {
      hops.n++;
      if (hops.n > limit) fail("ELOOP", "too many levels of symbolic links");
      const target = node.target!;
      const targetComps = target.split("/").filter((c) => c !== "");
      for (const c of targetComps)
        if (utf8.encode(c).length > NAME_MAX) fail("ENAMETOOLONG", "symlink target name > 255 bytes");
      cur = walkFrom(tree, target.startsWith("/") ? tree.root : cur, targetComps, true, limit, hops);
    } else cur = child;
  });
  return cur;
}
