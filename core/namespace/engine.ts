/**
 * The namespace engine: core/namespace/api.ts over any MetadataStore. Pure — the only I/O is the
 * store passed in; the clock, randomness and sleeping are injected.
 *
 * Design (docs/namespace.md): inode versions and directory entries are never overwritten — a
 * change ends the old record (delete_tid) and starts a new one in the same transaction; TIDs come
 * from a hybrid logical clock and every commit checks one of S "epoch" shards so that it lands
 * above the PFS's closed TID; as-of reads first close their TID, which makes them final.
 */
import { isStrataError, StrataError, strataError } from "../errors.ts";
import type { Condition, Item, Key, MetadataStore, TransactOp, Value } from "../metadata/port.ts";
import { compareUtf8, keyId, utf8Length } from "../metadata/values.ts";
import type {
  AsOf,
  BatchOp,
  CreateOptions,
  DirEntry,
  FileContent,
  FileSystem,
  FileType,
  Namespace,
  ObjectId,
  PfsInfo,
  ReadableFileSystem,
  ReaddirPage,
  ReadOptions,
  SetAttrs,
  Snapshot,
  Stat,
  Tid,
  Version,
} from "./api.ts";
import { followTarget, formatPath, isWithin, PATH_MAX, parsePath } from "./path.ts";
import {
  allocKey,
  changePk,
  ctlKey,
  dirPk,
  entryKey,
  epochKey,
  HIGH,
  historyKey,
  historyPk,
  inoPk,
  REGISTRY_PK,
  registryKey,
  seal,
  snapshotPk,
  VERSION_PREFIX,
  verify,
  versionKey,
} from "./records.ts";
import { dateToTid, HybridClock, invertTid, isTid, maxTid, tidToDate, ZERO_TID } from "./tid.ts";
import { type PfsContext, Tx } from "./tx.ts";

/** Bounds the engine enforces (docs/namespace.md, "Size bounds"). */
export const NS_LIMITS = {
  /** Symlinks followed while resolving one path before ELOOP (Linux's MAXSYMLINKS). */
  symlinkFollow: 40,
  tagKeyBytes: 128,
  tagValueBytes: 1024,
  tagsPerInode: 64,
  xattrNameBytes: 255,
  xattrValueBytes: 64 * 1024,
  /** Sum of xattr name + value bytes per inode (keeps a version inside the 400 KB item limit). */
  xattrTotalBytes: 192 * 1024,
  /** Inline content bytes per file version. */
  inlineBytes: 64 * 1024,
  extentsPerVersion: 1000,
  symlinkTargetBytes: PATH_MAX,
} as const;

export interface NamespaceOptions {
  /** Closed-TID shards per new PFS (1..64, default 8). A commit checks one; a close updates all. */
  epochShards?: number;
  /** Object ids leased per allocator UpdateItem (default 1,000). */
  idBlock?: number;
  /** Attempts of a write transaction before ECONFLICT reaches the caller (default 8). */
  maxAttempts?: number;
  /** How long an rmdir lease blocks creates in the directory, ms (default 30,000). */
  rmdirLeaseMs?: number;
  /** Backoff sleep between attempts (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
  /** Max entries of the immutable as-of lookup cache (default 10,000). */
  asOfCacheEntries?: number;
}

export interface CreateNamespaceParams {
  store: MetadataStore;
  /** Site number (0..65535): the top 16 bits of every object id this engine allocates. */
  site?: number;
  /** Wall clock in ms (default Date.now). */
  clock?: () => number;
  /** Uniform [0, 1) (default Math.random): epoch shard choice, change-index shard, jitter. */
  random?: () => number;
  options?: NamespaceOptions;
}

export function createNamespace(params: CreateNamespaceParams): Namespace {
  return new Engine(params);
}

interface EntryRef {
  ino: ObjectId;
  type: FileType;
}

/** Reads one point of view: live (through a Tx) or as of a closed TID. */
interface Reader {
  entry(dir: ObjectId, name: string): Promise<EntryRef | undefined>;
  /** The entry when known without a read (live transactions only), else "unknown". */
  peek?(dir: ObjectId, name: string): EntryRef | undefined | "unknown";
  inode(ino: ObjectId): Promise<Item | undefined>;
}

interface Resolved {
  /** Canonical components of the resolved path (after following symlinks). */
  comps: string[];
  /** Directories from the root to the parent (empty for the root itself). */
  chain: ObjectId[];
  parent?: ObjectId;
  name?: string;
  entry?: EntryRef;
}

const FILE_TYPES: ReadonlySet<string> = new Set(["file", "dir", "symlink"]);

/** A live entry record as a reference; tombstones (records with `dtid`) are absent names. */
function entryRef(item: Item | undefined, history = false): EntryRef | undefined {
  if (!item || (!history && item.dtid !== undefined)) return undefined;
  const type = String(item.type);
  if (!FILE_TYPES.has(type)) throw strataError("ECORRUPT", `entry ${item.pk} / ${item.sk} has type ${type}`);
  return { ino: String(item.ino), type: type as FileType };
}

async function resolve(
  reader: Reader,
  ctx: PfsContext,
  input: string[],
  followLast: boolean,
  path: string,
  /** Do not read the last component when the caller's write condition will check it (create). */
  blindLast = false,
): Promise<Resolved> {
  let comps = input;
  let hops = 0;
  restart: for (;;) {
    if (comps.length === 0) return { comps, chain: [], entry: { ino: ctx.root, type: "dir" } };
    let dir = ctx.root;
    const chain: ObjectId[] = [ctx.root];
    for (let i = 0; i < comps.length; i++) {
      const name = comps[i]!;
      const last = i === comps.length - 1;
      if (last && blindLast && reader.peek) {
        const known = reader.peek(dir, name);
        if (known !== "unknown")
          return { comps, chain, parent: dir, name, ...(known ? { entry: known } : {}) };
        return { comps, chain, parent: dir, name };
      }
      const entry = await reader.entry(dir, name);
      if (entry?.type === "symlink" && (!last || followLast)) {
        if (++hops > NS_LIMITS.symlinkFollow)
          throw strataError(
            "ELOOP",
            `more than ${NS_LIMITS.symlinkFollow} symlinks while resolving ${path}`,
            {
              path,
              pfs: ctx.name,
            },
          );
        const link = await reader.inode(entry.ino);
        if (!link || typeof link.target !== "string")
          throw strataError("ENOENT", `symlink ${formatPath(comps.slice(0, i + 1))} has no target`, { path });
        comps = followTarget(comps.slice(0, i), link.target, comps.slice(i + 1));
        continue restart;
      }
      if (last) return { comps, chain, parent: dir, name, ...(entry ? { entry } : {}) };
      if (!entry)
        throw strataError(
          "ENOENT",
          `${formatPath(comps.slice(0, i + 1))} does not exist (resolving ${path})`,
          {
            path,
            pfs: ctx.name,
          },
        );
      if (entry.type !== "dir")
        throw strataError(
          "ENOTDIR",
          `${formatPath(comps.slice(0, i + 1))} is not a directory (resolving ${path})`,
          {
            path,
            pfs: ctx.name,
          },
        );
      dir = entry.ino;
      chain.push(dir);
    }
  }
}

class TxReader implements Reader {
  constructor(private readonly tx: Tx) {}
  peek(dir: ObjectId, name: string): EntryRef | undefined | "unknown" {
    const p = this.tx.peek(entryKey(this.tx.ctx.id, dir, name));
    return p.known ? entryRef(p.item) : "unknown";
  }
  async entry(dir: ObjectId, name: string) {
    return entryRef(await this.tx.entry(dir, name));
  }
  inode(ino: ObjectId) {
    return this.tx.currentVersion(ino);
  }
}

class AsOfReader implements Reader {
  constructor(
    private readonly engine: Engine,
    private readonly ctx: PfsContext,
    readonly tid: Tid,
  ) {}

  /** 1 Query (or none, from the immutable cache): the entry version live at the TID. */
  async entry(dir: ObjectId, name: string): Promise<EntryRef | undefined> {
    const cacheKey = `${this.ctx.id}|${this.tid}|${dir}|${name}`;
    const cache = this.engine.asOfCache;
    if (cache.has(cacheKey)) return cache.get(cacheKey);
    const page = await this.engine.store.query(historyPk(this.ctx.id, dir), {
      sk: { op: "between", low: `${name}/${invertTid(this.tid)}`, high: `${name}/${HIGH}` },
      limit: 1,
    });
    const item = verify(page.items[0], this.ctx.name);
    const live =
      item && (item.dtid === undefined || String(item.dtid) > this.tid) ? entryRef(item, true) : undefined;
    if (cache.size >= this.engine.asOfCacheLimit) cache.clear();
    cache.set(cacheKey, live);
    return live;
  }

  /** 1 Query whatever the history depth: the newest version with ctid ≤ TID. */
  async inode(ino: ObjectId): Promise<Item | undefined> {
    const page = await this.engine.store.query(inoPk(this.ctx.id, ino), {
      sk: { op: "between", low: VERSION_PREFIX + invertTid(this.tid), high: VERSION_PREFIX + HIGH },
      limit: 1,
    });
    const item = verify(page.items[0], this.ctx.name);
    return item && (item.dtid === undefined || String(item.dtid) > this.tid) ? item : undefined;
  }
}

function toStat(pfs: string, ino: ObjectId, v: Item): Stat {
  const stat: Stat = {
    pfs,
    ino,
    type: String(v.type) as FileType,
    mode: Number(v.mode),
    uid: Number(v.uid),
    gid: Number(v.gid),
    size: Number(v.size),
    nlink: Number(v.nlink),
    atimeMs: Number(v.atime),
    mtimeMs: Number(v.mtime),
    ctimeMs: Number(v.ctime),
    birthtimeMs: Number(v.btime),
    tid: String(v.ctid),
  };
  if (typeof v.target === "string") stat.target = v.target;
  if (v.content && typeof v.content === "object")
    stat.content = decodeContent(v.content as Record<string, Value>);
  return stat;
}

function decodeContent(v: Record<string, Value>): FileContent {
  const out: FileContent = { size: Number(v.size) };
  if (v.inline instanceof Uint8Array) out.inline = new Uint8Array(v.inline);
  if (Array.isArray(v.extents))
    out.extents = v.extents.map((e) => {
      const x = e as Record<string, Value>;
      return {
        offset: Number(x.offset),
        length: Number(x.length),
        chunk: String(x.chunk),
        crc32c: Number(x.crc32c),
      };
    });
  return out;
}

function isNonNegInt(n: unknown, max = Number.MAX_SAFE_INTEGER): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= max;
}

function checkContent(content: FileContent, path: string): Record<string, Value> {
  if (!content || typeof content !== "object")
    throw strataError("EINVAL", "content must be an object", { path });
  if (!isNonNegInt(content.size))
    throw strataError("EINVAL", "content.size must be a non-negative integer", { path });
  const out: Record<string, Value> = { size: content.size };
  if (content.inline !== undefined) {
    if (!(content.inline instanceof Uint8Array))
      throw strataError("EINVAL", "content.inline must be a Uint8Array", { path });
    if (content.inline.length > NS_LIMITS.inlineBytes)
      throw strataError("E2BIG", `inline content is limited to ${NS_LIMITS.inlineBytes} bytes`, { path });
    if (content.inline.length !== content.size)
      throw strataError("EINVAL", "content.inline.length must equal content.size", { path });
    out.inline = new Uint8Array(content.inline);
  }
  if (content.extents !== undefined) {
    if (!Array.isArray(content.extents))
      throw strataError("EINVAL", "content.extents must be an array", { path });
    if (content.extents.length > NS_LIMITS.extentsPerVersion)
      throw strataError("E2BIG", `at most ${NS_LIMITS.extentsPerVersion} extents per version`, { path });
    out.extents = content.extents.map((e) => {
      if (
        !e ||
        !isNonNegInt(e.offset) ||
        !isNonNegInt(e.length) ||
        typeof e.chunk !== "string" ||
        e.chunk.length === 0 ||
        !isNonNegInt(e.crc32c, 0xffffffff)
      )
        throw strataError("EINVAL", "each extent needs offset, length, chunk and crc32c", { path });
      return { offset: e.offset, length: e.length, chunk: e.chunk, crc32c: e.crc32c };
    });
  }
  return out;
}

function checkMode(mode: unknown, path: string): number {
  if (!isNonNegInt(mode, 0o7777))
    throw strataError("EINVAL", "mode must be an integer in 0..0o7777", { path });
  return mode;
}

function checkId(id: unknown, what: string, path: string): number {
  if (!isNonNegInt(id, 0xffffffff))
    throw strataError("EINVAL", `${what} must be an integer in 0..2^32-1`, { path });
  return id;
}

function checkAttrs(attrs: SetAttrs, path: string): SetAttrs {
  if (!attrs || typeof attrs !== "object") throw strataError("EINVAL", "attrs must be an object", { path });
  const out: SetAttrs = {};
  if (attrs.mode !== undefined) out.mode = checkMode(attrs.mode, path);
  if (attrs.uid !== undefined) out.uid = checkId(attrs.uid, "uid", path);
  if (attrs.gid !== undefined) out.gid = checkId(attrs.gid, "gid", path);
  for (const t of ["atimeMs", "mtimeMs"] as const) {
    const v = attrs[t];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isFinite(v))
      throw strataError("EINVAL", `${t} must be a finite number`, { path });
    out[t] = v;
  }
  return out;
}

function checkTag(key: string, value: string | undefined, path: string): void {
  if (typeof key !== "string" || key.length === 0)
    throw strataError("EINVAL", "a tag key must be a non-empty string", { path });
  if (key.includes("\u0000")) throw strataError("EINVAL", "a tag key cannot contain NUL", { path });
  if (utf8Length(key) > NS_LIMITS.tagKeyBytes)
    throw strataError("E2BIG", `a tag key is limited to ${NS_LIMITS.tagKeyBytes} UTF-8 bytes`, { path, key });
  if (value === undefined) return;
  if (typeof value !== "string") throw strataError("EINVAL", "a tag value must be a string", { path, key });
  if (utf8Length(value) > NS_LIMITS.tagValueBytes)
    throw strataError("E2BIG", `a tag value is limited to ${NS_LIMITS.tagValueBytes} UTF-8 bytes`, {
      path,
      key,
    });
}

function checkXattrName(name: string, path: string): void {
  if (typeof name !== "string" || name.length === 0)
    throw strataError("EINVAL", "an xattr name must be a non-empty string", { path });
  if (name.includes("\u0000")) throw strataError("EINVAL", "an xattr name cannot contain NUL", { path });
  if (utf8Length(name) > NS_LIMITS.xattrNameBytes)
    throw strataError("ENAMETOOLONG", `an xattr name is limited to ${NS_LIMITS.xattrNameBytes} UTF-8 bytes`, {
      path,
      name,
    });
}

function checkTarget(target: string, path: string): void {
  if (typeof target !== "string") throw strataError("EINVAL", "a symlink target must be a string", { path });
  // Linux: symlink("") is ENOENT; a target of PATH_MAX bytes or more is ENAMETOOLONG.
  if (target.length === 0) throw strataError("ENOENT", "a symlink target cannot be empty", { path });
  if (target.includes("\u0000")) throw strataError("EINVAL", "a symlink target cannot contain NUL", { path });
  if (utf8Length(target) >= NS_LIMITS.symlinkTargetBytes)
    throw strataError(
      "ENAMETOOLONG",
      `a symlink target must be shorter than ${NS_LIMITS.symlinkTargetBytes} bytes`,
      {
        path,
      },
    );
}

function checkPfsName(name: string): void {
  if (typeof name !== "string" || name.length === 0 || name.includes("\u0000") || utf8Length(name) > 255)
    throw strataError("EINVAL", "a PFS name is 1..255 UTF-8 bytes without NUL", { pfs: name });
}

function checkSnapshotName(name: string, pfs: string): void {
  if (typeof name !== "string" || name.length === 0 || name.includes("\u0000") || utf8Length(name) > 255)
    throw strataError("EINVAL", "a snapshot name is 1..255 UTF-8 bytes without NUL", { pfs, snapshot: name });
}

/** A directory is live and not leased by an rmdir (leases expire; see docs). */
function dirOpen(now: number): Condition {
  return {
    op: "and",
    of: [
      { op: "exists" },
      {
        op: "or",
        of: [
          { op: "attrNotExists", attr: "rm" },
          { op: "lt", attr: "rm", value: now },
        ],
      },
    ],
  };
}

/** The live-entry slot is free for a commit at `tid`: never used, or a tombstone below `tid`. */
const entryFree = (tid: Tid): Condition => ({
  op: "or",
  of: [
    { op: "notExists" },
    {
      op: "and",
      of: [
        { op: "attrExists", attr: "dtid" },
        { op: "lt", attr: "dtid", value: tid },
      ],
    },
  ],
});

const versionLive = (ctid: string): Condition => ({
  op: "and",
  of: [
    { op: "attrNotExists", attr: "dtid" },
    { op: "eq", attr: "ctid", value: ctid },
  ],
});

function tidsIn(item: Item | undefined): Tid[] {
  if (!item) return [];
  return ["ctid", "dtid", "closed"].map((a) => item[a]).filter(isTid);
}

export class Engine implements Namespace {
  readonly store: MetadataStore;
  readonly site: number;
  readonly clock: () => number;
  readonly random: () => number;
  readonly hlc: HybridClock;
  readonly opts: Required<Omit<NamespaceOptions, "sleep">> & { sleep: (ms: number) => Promise<void> };
  readonly asOfCache = new Map<string, EntryRef | undefined>();
  readonly asOfCacheLimit: number;
  private readonly pfsCache = new Map<string, PfsContext>();
  /** Highest closed TID known per PFS id (closed TIDs only grow, so this is never stale-wrong). */
  private readonly closedCache = new Map<string, Tid>();
  private lease = { next: 0, end: 0 };
  private leasing: Promise<void> | undefined;
  /** Last TID this engine committed. */
  lastCommitted: Tid = ZERO_TID;

  constructor(params: CreateNamespaceParams) {
    if (!params?.store) throw strataError("EINVAL", "createNamespace needs a store");
    const site = params.site ?? 0;
    if (!isNonNegInt(site, 0xffff))
      throw strataError("EINVAL", "site must be an integer in 0..65535", { site });
    this.store = params.store;
    this.site = site;
    this.clock = params.clock ?? Date.now;
    this.random = params.random ?? Math.random;
    this.hlc = new HybridClock(this.clock);
    const o = params.options ?? {};
    const shards = o.epochShards ?? 8;
    if (!isNonNegInt(shards, 64) || shards < 1) throw strataError("EINVAL", "epochShards must be 1..64");
    this.opts = {
      epochShards: shards,
      idBlock: o.idBlock ?? 1000,
      maxAttempts: o.maxAttempts ?? 8,
      rmdirLeaseMs: o.rmdirLeaseMs ?? 30_000,
      asOfCacheEntries: o.asOfCacheEntries ?? 10_000,
      sleep: o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    };
    this.asOfCacheLimit = this.opts.asOfCacheEntries;
  }

  // ---- ids ----------------------------------------------------------------------------------

  /** A fresh object id: site bits + a sequence leased in blocks (one UpdateItem ADD per block). */
  async allocId(): Promise<ObjectId> {
    while (this.lease.next >= this.lease.end) {
      if (!this.leasing) {
        this.leasing = (async () => {
          try {
            const item = await this.store.update(allocKey(this.site), { add: { next: this.opts.idBlock } });
            const end = Number(item.next);
            this.lease = { next: end - this.opts.idBlock, end };
          } finally {
            this.leasing = undefined;
          }
        })();
      }
      await this.leasing;
    }
    const seq = this.lease.next++;
    if (seq >= 2 ** 48) throw strataError("EIO", `site ${this.site} exhausted its 48-bit object-id space`);
    return this.site.toString(16).padStart(4, "0") + seq.toString(16).padStart(12, "0");
  }

  // ---- PFS registry ---------------------------------------------------------------------------

  private pfsFromItem(item: Item): PfsContext {
    return {
      name: item.sk,
      id: String(item.id),
      root: String(item.root),
      createdTid: String(item.ctid),
      shards: Number(item.shards),
    };
  }

  async context(name: string): Promise<PfsContext> {
    const cached = this.pfsCache.get(name);
    if (cached) return cached;
    checkPfsName(name);
    const item = verify(await this.store.get(registryKey(name)));
    if (!item)
      throw strataError("ENOENT", `PFS ${name} does not exist; create it with createPfs`, { pfs: name });
    const ctx = this.pfsFromItem(item);
    this.hlc.observe(ctx.createdTid);
    this.pfsCache.set(name, ctx);
    return ctx;
  }

  forget(name: string): void {
    this.pfsCache.delete(name);
  }

  async createPfs(name: string): Promise<PfsInfo> {
    checkPfsName(name);
    const id = await this.allocId();
    const root = await this.allocId();
    const shards = this.opts.epochShards;
    for (let attempt = 1; ; attempt++) {
      const tid = this.hlc.next();
      const now = this.clock();
      const ctx: PfsContext = { name, id, root, createdTid: tid, shards };
      const ops: TransactOp[] = [
        {
          kind: "put",
          item: seal({ ...registryKey(name), id, root, ctid: tid, shards }),
          condition: { op: "notExists" },
        },
      ];
      for (let s = 0; s < shards; s++)
        ops.push({
          kind: "put",
          item: { ...epochKey(id, s), closed: ZERO_TID },
          condition: { op: "notExists" },
        });
      const tx = new Tx(this.store, ctx, tid, now);
      tx.put({ ...ctlKey(id, root), parent: "", name: "" }, { op: "notExists" });
      this.putVersion(
        tx,
        root,
        { type: "dir", mode: 0o755, uid: 0, gid: 0, size: 0, nlink: 2 },
        "create",
        now,
      );
      const built = tx.build();
      ops.push(...built.ops, this.changeOp(ctx, tid, built.written));
      try {
        await this.store.transact(ops);
        this.lastCommitted = maxTid(this.lastCommitted, tid);
        return { name, id, rootIno: root, createdTid: tid };
      } catch (err) {
        if (!isStrataError(err, "ECONFLICT")) throw err;
        const reasons = (err.details.reasons ?? []) as Array<{ item?: Item } | null>;
        if (reasons[0]) throw strataError("EEXIST", `PFS ${name} already exists`, { pfs: name });
        if (attempt >= this.opts.maxAttempts) throw err;
      }
    }
  }

  async listPfs(): Promise<PfsInfo[]> {
    const out: PfsInfo[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.query(REGISTRY_PK, cursor ? { cursor } : {});
      for (const item of page.items) {
        const c = this.pfsFromItem(verify(item));
        out.push({ name: c.name, id: c.id, rootIno: c.root, createdTid: c.createdTid });
      }
      cursor = page.cursor;
    } while (cursor);
    return out;
  }

  async deletePfs(name: string): Promise<void> {
    await this.write(name, async (tx) => {
      const ctx = tx.ctx;
      await this.leaseDir(tx, ctx.root, "/");
      if (await tx.hasEntries(ctx.root))
        throw strataError("ENOTEMPTY", `PFS ${name} is not empty; remove its entries first`, { pfs: name });
      const reg = await tx.get(registryKey(name));
      if (!reg || reg.id !== ctx.id) throw strataError("ENOENT", `PFS ${name} does not exist`, { pfs: name });
      tx.delete(registryKey(name), { op: "eq", attr: "id", value: ctx.id });
      await this.endVersion(tx, ctx.root, "rmdir");
      this.deleteCtl(tx, ctx.root);
    });
    this.forget(name);
  }

  pfs(name: string): FileSystem {
    return new PfsFileSystem(this, name);
  }

  // ---- TIDs and closing -------------------------------------------------------------------------

  /**
   * Make `tid` final for the PFS: raise `closed` to ≥ tid on every epoch shard, in one
   * transaction, so no commit can land at or below it any more.
   *
   *   commits:     c1   c2        c3 (lost to the close: retried above)   c3'
   *   tids:   ─────┼────┼────┬──────x───────────────────────────────────────┼──
   *                          T = closed
   *   as-of(T) reads:  final ─┘  (any later commit has tid > T)
   *
   * Cost: 0 requests when the cached closed TID already covers it, else 1 GetItem (shard 0)
   * and, when still open, 1 BatchGetItem + 1 TransactWriteItems.
   */
  async ensureClosed(ctx: PfsContext, tid: Tid): Promise<void> {
    this.hlc.observe(tid);
    const known = this.closedCache.get(ctx.id) ?? ZERO_TID;
    if (known >= tid) return;
    const first = await this.store.get(epochKey(ctx.id, 0));
    if (!first) throw strataError("ENOENT", `PFS ${ctx.name} was deleted`, { pfs: ctx.name });
    const closed0 = String(first.closed);
    this.noteClosed(ctx, closed0);
    if (closed0 >= tid) return;
    for (let attempt = 1; ; attempt++) {
      const keys = Array.from({ length: ctx.shards }, (_, s) => epochKey(ctx.id, s));
      const shards = await this.store.batchGet(keys);
      const ops: TransactOp[] = [];
      shards.forEach((item, s) => {
        if (!item) return;
        if (String(item.closed) < tid)
          ops.push({
            kind: "update",
            key: keys[s]!,
            update: { set: { closed: tid } },
            condition: { op: "lt", attr: "closed", value: tid },
          });
      });
      try {
        if (ops.length > 0) await this.store.transact(ops);
        this.noteClosed(ctx, tid);
        return;
      } catch (err) {
        if (!isStrataError(err, "ECONFLICT") || attempt >= this.opts.maxAttempts) throw err;
        await this.backoff(attempt);
      }
    }
  }

  private noteClosed(ctx: PfsContext, tid: Tid): void {
    this.hlc.observe(tid);
    if (tid > (this.closedCache.get(ctx.id) ?? ZERO_TID)) this.closedCache.set(ctx.id, tid);
  }

  /** The TID a read at `point` uses: snapshots and dates resolved, future clamped to now, closed. */
  async readTid(ctx: PfsContext, point: AsOf): Promise<Tid> {
    let tid: Tid;
    if (typeof point === "string") {
      if (!isTid(point)) throw strataError("EINVAL", `asOf ${point} is not a TID (16 lowercase hex digits)`);
      tid = point;
    } else if (point instanceof Date) {
      tid = dateToTid(point);
    } else if (point && typeof point === "object" && typeof point.snapshot === "string") {
      checkSnapshotName(point.snapshot, ctx.name);
      const snap = verify(await this.store.get({ pk: snapshotPk(ctx.id), sk: point.snapshot }), ctx.name);
      if (!snap)
        throw strataError("ENOENT", `snapshot ${point.snapshot} does not exist`, {
          pfs: ctx.name,
          snapshot: point.snapshot,
        });
      tid = String(snap.tid);
    } else {
      throw strataError("EINVAL", "asOf must be a TID, a Date or { snapshot }");
    }
    const now = this.nowTid();
    if (tid > now) tid = now;
    await this.ensureClosed(ctx, tid);
    return tid;
  }

  /** max(HLC now, last TID this engine committed) — without closing it. */
  nowTid(): Tid {
    return maxTid(this.hlc.next(), this.lastCommitted);
  }

  async currentTid(ctx: PfsContext): Promise<Tid> {
    const tid = this.nowTid();
    await this.ensureClosed(ctx, tid);
    return tid;
  }

  // ---- the write loop -------------------------------------------------------------------------

  async backoff(attempt: number): Promise<void> {
    const ms = Math.min(200, 2 ** attempt) * (0.5 + this.random());
    await this.opts.sleep(ms);
  }

  private changeOp(ctx: PfsContext, tid: Tid, written: Key[]): TransactOp {
    const shard = Math.floor(this.random() * ctx.shards) % ctx.shards;
    const uniq = Math.floor(this.random() * 0xffffffff)
      .toString(16)
      .padStart(8, "0");
    return {
      kind: "put",
      item: seal({
        pk: changePk(ctx.id, shard),
        sk: `${tid}#${uniq}`,
        tid,
        keys: written.map((k) => [k.pk, k.sk]),
      }),
      condition: { op: "notExists" },
    };
  }

  /**
   * Plan and commit one transaction, re-planning on ECONFLICT (lost race, TransactionConflict,
   * or a close that overtook the TID) up to `maxAttempts` times with jittered backoff.
   */
  async write<T>(pfs: string, plan: (tx: Tx) => Promise<T>): Promise<{ result: T; tid: Tid | undefined }> {
    for (let attempt = 1; ; attempt++) {
      const ctx = await this.context(pfs);
      const tid = this.hlc.next();
      const tx = new Tx(this.store, ctx, tid, this.clock());
      let committed = false;
      let sent: TransactOp[] = [];
      try {
        const result = await plan(tx);
        if (tx.maxSeen >= tid) {
          // A record we read is newer than our clock (another engine's clock runs ahead).
          this.hlc.observe(tx.maxSeen);
          throw strataError("ECONFLICT", "a record is newer than this engine's clock; retrying above it");
        }
        const built = tx.build();
        if (built.written.length === 0) {
          await this.releaseMarks(tx);
          return { result, tid: undefined };
        }
        const shard = Math.floor(this.random() * ctx.shards) % ctx.shards;
        const ops: TransactOp[] = [
          ...built.ops,
          this.changeOp(ctx, tid, built.written),
          {
            kind: "check",
            key: epochKey(ctx.id, shard),
            condition: { op: "lt", attr: "closed", value: tid },
          },
        ];
        if (ops.length > 100)
          throw strataError(
            "E2BIG",
            `this change needs ${ops.length} items in one transaction; the limit is 100 (split the batch)`,
            { pfs },
          );
        sent = ops;
        await this.store.transact(ops);
        committed = true;
        this.lastCommitted = maxTid(this.lastCommitted, tid);
        return { result, tid };
      } catch (err) {
        if (!committed) await this.releaseMarks(tx);
        if (!isStrataError(err, "ECONFLICT")) throw err;
        for (const r of (err.details.reasons ?? []) as Array<{ item?: Item } | null>)
          for (const t of tidsIn(r?.item ?? undefined)) this.hlc.observe(t);
        for (const t of tidsIn(err.details.item as Item | undefined)) this.hlc.observe(t);
        // A blind create whose entry condition failed: the name is taken.
        const reasons = (err.details.reasons ?? []) as Array<{ code?: string; item?: Item } | null>;
        reasons.forEach((r, i) => {
          const op = sent[i];
          if (r?.code !== "ConditionalCheckFailed" || !op || op.kind !== "put") return;
          if (r.item?.dtid !== undefined) return; // a tombstone above our TID: retry higher
          const path = tx.blind.get(keyId(op.item));
          if (path !== undefined) throw strataError("EEXIST", `${path} already exists`, { path, pfs });
        });
        if (attempt >= this.opts.maxAttempts)
          throw new StrataError(
            "ECONFLICT",
            `gave up after ${attempt} attempts: concurrent changes kept winning`,
            {
              details: { pfs },
              cause: err,
            },
          );
        this.forget(pfs);
        await this.backoff(attempt);
      }
    }
  }

  private async releaseMarks(tx: Tx): Promise<void> {
    for (const mark of tx.marks.splice(0)) {
      try {
        await this.store.update(
          mark.key,
          { remove: ["rm"] },
          { condition: { op: "eq", attr: "rm", value: mark.until } },
        );
      } catch {
        // Someone else's lease now, or the directory is gone: nothing to release.
      }
    }
  }

  // ---- record helpers used by the planners --------------------------------------------------------

  /** Start a new version of `ino` (ending the live one, if any) with `fields`. */
  putVersion(
    tx: Tx,
    ino: ObjectId,
    fields: Record<string, Value>,
    change: string,
    now: number,
    base?: Item,
  ): Item {
    const key = versionKey(tx.ctx.id, ino, tx.tid);
    const item: Item = {
      tags: {},
      xattrs: {},
      atime: now,
      mtime: now,
      ctime: now,
      btime: now,
      ...(base ? stripVersion(base) : {}),
      ...fields,
      ...key,
      ctid: tx.tid,
      change,
    };
    const written = tx.put(item, tx.wrote(key) ? undefined : { op: "notExists" });
    tx.setCurrentVersion(ino, key);
    return written;
  }

  /** Replace the live version of `ino` by one with `changes` applied. */
  async changeVersion(
    tx: Tx,
    ino: ObjectId,
    changes: Record<string, Value>,
    change: string,
    path: string,
  ): Promise<Item> {
    const cur = await tx.currentVersion(ino);
    if (!cur) throw strataError("ENOENT", `${path} no longer exists`, { path, pfs: tx.ctx.name });
    if (cur.ctid !== tx.tid) this.endItem(tx, cur, change);
    return this.putVersion(tx, ino, { ...stripVersion(cur), ctime: tx.now, ...changes }, change, tx.now);
  }

  /** Replace the live version of `ino` (if any) by exactly `fields` (revert: nothing carried over). */
  async replaceVersion(tx: Tx, ino: ObjectId, fields: Record<string, Value>, change: string): Promise<Item> {
    const cur = await tx.currentVersion(ino);
    if (cur && cur.ctid !== tx.tid) this.endItem(tx, cur, change);
    return this.putVersion(tx, ino, fields, change, tx.now);
  }

  private endItem(tx: Tx, cur: Item, change: string): void {
    tx.put({ ...cur, dtid: tx.tid, dchange: change }, versionLive(String(cur.ctid)));
  }

  async endVersion(tx: Tx, ino: ObjectId, change: string): Promise<void> {
    const cur = await tx.currentVersion(ino);
    if (!cur) return;
    if (cur.ctid === tx.tid) tx.delete(cur);
    else this.endItem(tx, cur, change);
  }

  addEntry(tx: Tx, dir: ObjectId, name: string, ref: EntryRef): void {
    const id = tx.ctx.id;
    tx.check(ctlKey(id, dir), dirOpen(tx.now));
    const key = entryKey(id, dir, name);
    // The name's previous holder (a tombstone) must have ended below this TID.
    tx.put({ ...key, ino: ref.ino, type: ref.type, ctid: tx.tid }, entryFree(tx.tid));
    tx.put(
      { ...historyKey(id, dir, name, tx.tid), name, ino: ref.ino, type: ref.type, ctid: tx.tid },
      { op: "notExists" },
    );
  }

  async removeEntry(tx: Tx, dir: ObjectId, name: string): Promise<void> {
    const id = tx.ctx.id;
    const key = entryKey(id, dir, name);
    const entry = await tx.get(key);
    if (!entry || entry.dtid !== undefined) return;
    const ctid = String(entry.ctid);
    // A tombstone, not a delete: the next holder of the name must commit above this TID.
    tx.put(
      { ...key, dtid: tx.tid },
      {
        op: "and",
        of: [
          { op: "eq", attr: "ino", value: String(entry.ino) },
          { op: "eq", attr: "ctid", value: ctid },
        ],
      },
    );
    const hkey = historyKey(id, dir, name, ctid);
    if (ctid === tx.tid) tx.delete(hkey);
    else
      tx.put(
        { ...hkey, name, ino: String(entry.ino), type: String(entry.type), ctid, dtid: tx.tid },
        { op: "and", of: [{ op: "exists" }, { op: "attrNotExists", attr: "dtid" }] },
      );
  }

  deleteCtl(tx: Tx, ino: ObjectId): void {
    const key = ctlKey(tx.ctx.id, ino);
    const mark = tx.marks.find((m) => m.key.pk === key.pk);
    tx.delete(key, mark ? { op: "eq", attr: "rm", value: mark.until } : { op: "exists" });
  }

  /**
   * Take the rmdir lease on a directory (one UpdateItem, outside the transaction): from now on
   * creates into it fail their condition, so the emptiness check that follows cannot be raced.
   */
  async leaseDir(tx: Tx, ino: ObjectId, path: string): Promise<void> {
    const key = ctlKey(tx.ctx.id, ino);
    if (tx.wrote(key) || tx.marks.some((m) => m.key.pk === key.pk)) return;
    const until = tx.now + this.opts.rmdirLeaseMs;
    try {
      await this.store.update(key, { set: { rm: until } }, { condition: dirOpen(tx.now) });
    } catch (err) {
      if (isStrataError(err, "ECONFLICT") && err.details.item === undefined)
        throw strataError("ENOENT", `directory ${path} no longer exists`, { path, pfs: tx.ctx.name });
      throw err;
    }
    tx.marks.push({ key, until });
    // Our view of the ctl now carries the lease; the commit requires it unchanged.
    tx.check(key, { op: "eq", attr: "rm", value: until });
  }
}

function stripVersion(v: Item): Record<string, Value> {
  const { pk: _pk, sk: _sk, crc: _crc, ctid: _c, dtid: _d, dchange: _dc, change: _ch, ...rest } = v;
  return rest as Record<string, Value>;
}

type Op =
  | { op: "mkdir"; comps: string[]; path: string; mode: number; uid: number; gid: number }
  | {
      op: "create";
      comps: string[];
      path: string;
      mode: number;
      uid: number;
      gid: number;
      content?: Record<string, Value>;
    }
  | { op: "writeContent"; comps: string[]; path: string; content: Record<string, Value> }
  | { op: "unlink"; comps: string[]; path: string }
  | { op: "rmdir"; comps: string[]; path: string }
  | { op: "rename"; from: string[]; to: string[]; path: string; noReplace: boolean }
  | { op: "symlink"; target: string; comps: string[]; path: string }
  | { op: "link"; existing: string[]; comps: string[]; path: string }
  | { op: "setattr"; comps: string[]; path: string; attrs: SetAttrs }
  | { op: "setTag"; comps: string[]; path: string; key: string; value: string }
  | { op: "removeTag"; comps: string[]; path: string; key: string }
  | {
      op: "setXattr";
      comps: string[];
      path: string;
      name: string;
      value: Uint8Array;
      create: boolean;
      replace: boolean;
    }
  | { op: "removeXattr"; comps: string[]; path: string; name: string };

/** Validate a public batch op into a planned op (throws before anything is read or written). */
function parseOp(op: BatchOp): Op {
  if (!op || typeof op !== "object") throw strataError("EINVAL", "a batch op must be an object");
  switch (op.op) {
    case "mkdir":
      return {
        op: "mkdir",
        comps: parsePath(op.path),
        path: op.path,
        mode: checkMode(op.mode ?? 0o755, op.path),
        uid: 0,
        gid: 0,
      };
    case "create": {
      const o = op.options ?? {};
      return {
        op: "create",
        comps: parsePath(op.path),
        path: op.path,
        mode: checkMode(o.mode ?? 0o644, op.path),
        uid: checkId(o.uid ?? 0, "uid", op.path),
        gid: checkId(o.gid ?? 0, "gid", op.path),
        ...(o.content ? { content: checkContent(o.content, op.path) } : {}),
      };
    }
    case "writeContent":
      return {
        op: "writeContent",
        comps: parsePath(op.path),
        path: op.path,
        content: checkContent(op.content, op.path),
      };
    case "unlink":
      return { op: "unlink", comps: parsePath(op.path), path: op.path };
    case "rmdir":
      return { op: "rmdir", comps: parsePath(op.path), path: op.path };
    case "rename":
      return {
        op: "rename",
        from: parsePath(op.from),
        to: parsePath(op.to),
        path: op.from,
        noReplace: false,
      };
    case "symlink":
      checkTarget(op.target, op.path);
      return { op: "symlink", target: op.target, comps: parsePath(op.path), path: op.path };
    case "link":
      return { op: "link", existing: parsePath(op.existing), comps: parsePath(op.path), path: op.path };
    case "setattr":
      return {
        op: "setattr",
        comps: parsePath(op.path),
        path: op.path,
        attrs: checkAttrs(op.attrs, op.path),
      };
    case "setTag":
      checkTag(op.key, op.value, op.path);
      return { op: "setTag", comps: parsePath(op.path), path: op.path, key: op.key, value: op.value };
    case "removeTag":
      checkTag(op.key, undefined, op.path);
      return { op: "removeTag", comps: parsePath(op.path), path: op.path, key: op.key };
    default:
      throw strataError("EINVAL", `unknown batch op ${JSON.stringify((op as { op: unknown }).op)}`);
  }
}

function lastName(r: Resolved, path: string, pfs: string): { parent: ObjectId; name: string } {
  if (r.parent === undefined || r.name === undefined)
    throw strataError("EEXIST", `${path} is the root directory`, { path, pfs });
  return { parent: r.parent, name: r.name };
}

/** Plans one op into `tx`. */
async function planOp(engine: Engine, tx: Tx, op: Op, blindOk = true): Promise<Stat | undefined> {
  const ctx = tx.ctx;
  const reader = new TxReader(tx);
  const pfs = ctx.name;
  const now = tx.now;
  const statOf = (ino: ObjectId, v: Item) => toStat(pfs, ino, v);
  const existing = async (comps: string[], path: string, follow: boolean) => {
    const r = await resolve(reader, ctx, comps, follow, path);
    if (!r.entry) throw strataError("ENOENT", `${path} does not exist`, { path, pfs });
    return r;
  };
  switch (op.op) {
    case "mkdir":
    case "create":
    case "symlink": {
      const r = await resolve(reader, ctx, op.comps, false, op.path, blindOk);
      const { parent, name } = lastName(r, op.path, pfs);
      if (r.entry) throw strataError("EEXIST", `${op.path} already exists`, { path: op.path, pfs });
      tx.blind.set(keyId(entryKey(ctx.id, parent, name)), op.path);
      const ino = await engine.allocId();
      let v: Item;
      if (op.op === "mkdir") {
        tx.put({ ...ctlKey(ctx.id, ino), parent, name }, { op: "notExists" });
        v = engine.putVersion(
          tx,
          ino,
          { type: "dir", mode: op.mode, uid: op.uid, gid: op.gid, size: 0, nlink: 2 },
          "mkdir",
          now,
        );
        engine.addEntry(tx, parent, name, { ino, type: "dir" });
      } else if (op.op === "create") {
        const fields: Record<string, Value> = {
          type: "file",
          mode: op.mode,
          uid: op.uid,
          gid: op.gid,
          size: op.content ? Number(op.content.size) : 0,
          nlink: 1,
        };
        if (op.content) fields.content = op.content;
        v = engine.putVersion(tx, ino, fields, "create", now);
        engine.addEntry(tx, parent, name, { ino, type: "file" });
      } else {
        v = engine.putVersion(
          tx,
          ino,
          {
            type: "symlink",
            mode: 0o777,
            uid: 0,
            gid: 0,
            size: utf8Length(op.target),
            nlink: 1,
            target: op.target,
          },
          "symlink",
          now,
        );
        engine.addEntry(tx, parent, name, { ino, type: "symlink" });
      }
      return statOf(ino, v);
    }
    case "writeContent": {
      const r = await existing(op.comps, op.path, true);
      if (r.entry!.type === "dir")
        throw strataError("EISDIR", `${op.path} is a directory`, { path: op.path, pfs });
      const v = await engine.changeVersion(
        tx,
        r.entry!.ino,
        { content: op.content, size: Number(op.content.size), mtime: now },
        "write",
        op.path,
      );
      return statOf(r.entry!.ino, v);
    }
    case "setattr": {
      const r = await existing(op.comps, op.path, true);
      const changes: Record<string, Value> = {};
      if (op.attrs.mode !== undefined) changes.mode = op.attrs.mode;
      if (op.attrs.uid !== undefined) changes.uid = op.attrs.uid;
      if (op.attrs.gid !== undefined) changes.gid = op.attrs.gid;
      if (op.attrs.atimeMs !== undefined) changes.atime = op.attrs.atimeMs;
      if (op.attrs.mtimeMs !== undefined) changes.mtime = op.attrs.mtimeMs;
      const v = await engine.changeVersion(tx, r.entry!.ino, changes, "setattr", op.path);
      return statOf(r.entry!.ino, v);
    }
    case "setTag":
    case "removeTag": {
      const r = await existing(op.comps, op.path, true);
      const cur = await tx.currentVersion(r.entry!.ino);
      if (!cur) throw strataError("ENOENT", `${op.path} no longer exists`, { path: op.path, pfs });
      const tags = { ...((cur.tags as Record<string, string>) ?? {}) };
      if (op.op === "setTag") {
        if (tags[op.key] === op.value) return statOf(r.entry!.ino, cur);
        tags[op.key] = op.value;
        if (Object.keys(tags).length > NS_LIMITS.tagsPerInode)
          throw strataError("E2BIG", `at most ${NS_LIMITS.tagsPerInode} tags per object`, {
            path: op.path,
            pfs,
          });
      } else {
        if (!(op.key in tags))
          throw strataError("ENOENT", `${op.path} has no tag ${op.key}`, { path: op.path, pfs, key: op.key });
        delete tags[op.key];
      }
      const v = await engine.changeVersion(tx, r.entry!.ino, { tags }, "tag", op.path);
      return statOf(r.entry!.ino, v);
    }
    case "setXattr":
    case "removeXattr": {
      const r = await existing(op.comps, op.path, true);
      const cur = await tx.currentVersion(r.entry!.ino);
      if (!cur) throw strataError("ENOENT", `${op.path} no longer exists`, { path: op.path, pfs });
      const xattrs = { ...((cur.xattrs as Record<string, Uint8Array>) ?? {}) };
      const has = Object.hasOwn(xattrs, op.name);
      if (op.op === "setXattr") {
        if (op.create && has)
          throw strataError("EEXIST", `${op.path} already has xattr ${op.name}`, { path: op.path, pfs });
        if (op.replace && !has)
          throw strataError("ENOENT", `${op.path} has no xattr ${op.name}`, { path: op.path, pfs });
        xattrs[op.name] = op.value;
        let total = 0;
        for (const [k, v] of Object.entries(xattrs)) total += utf8Length(k) + v.length;
        if (total > NS_LIMITS.xattrTotalBytes)
          throw strataError(
            "E2BIG",
            `xattrs of one object are limited to ${NS_LIMITS.xattrTotalBytes} bytes`,
            {
              path: op.path,
              pfs,
            },
          );
      } else {
        if (!has) throw strataError("ENOENT", `${op.path} has no xattr ${op.name}`, { path: op.path, pfs });
        delete xattrs[op.name];
      }
      const v = await engine.changeVersion(tx, r.entry!.ino, { xattrs }, "xattr", op.path);
      return statOf(r.entry!.ino, v);
    }
    case "unlink": {
      const r = await existing(op.comps, op.path, false);
      if (r.entry!.type === "dir")
        throw strataError("EISDIR", `${op.path} is a directory (use rmdir)`, { path: op.path, pfs });
      const { parent, name } = lastName(r, op.path, pfs);
      await unlinkEntry(engine, tx, parent, name, r.entry!, op.path);
      return undefined;
    }
    case "rmdir": {
      const r = await existing(op.comps, op.path, false);
      if (r.parent === undefined)
        throw strataError("EINVAL", "the root directory cannot be removed", { path: op.path, pfs });
      if (r.entry!.type !== "dir")
        throw strataError("ENOTDIR", `${op.path} is not a directory`, { path: op.path, pfs });
      await rmdirEntry(engine, tx, r.parent, r.name!, r.entry!.ino, op.path);
      return undefined;
    }
    case "link": {
      const src = await existing(op.existing, op.path, false);
      if (src.entry!.type === "dir")
        throw strataError("EISDIR", `cannot hard-link directory ${formatPath(op.existing)}`, {
          path: op.path,
          pfs,
        });
      const r = await resolve(reader, ctx, op.comps, false, op.path, blindOk);
      const { parent, name } = lastName(r, op.path, pfs);
      if (r.entry) throw strataError("EEXIST", `${op.path} already exists`, { path: op.path, pfs });
      tx.blind.set(keyId(entryKey(ctx.id, parent, name)), op.path);
      const cur = await tx.currentVersion(src.entry!.ino);
      if (!cur)
        throw strataError("ENOENT", `${formatPath(op.existing)} no longer exists`, { path: op.path, pfs });
      const v = await engine.changeVersion(
        tx,
        src.entry!.ino,
        { nlink: Number(cur.nlink) + 1 },
        "link",
        op.path,
      );
      engine.addEntry(tx, parent, name, src.entry!);
      return statOf(src.entry!.ino, v);
    }
    case "rename":
      await planRename(engine, tx, reader, op);
      return undefined;
  }
}

async function unlinkEntry(
  engine: Engine,
  tx: Tx,
  parent: ObjectId,
  name: string,
  entry: EntryRef,
  path: string,
) {
  await engine.removeEntry(tx, parent, name);
  const cur = await tx.currentVersion(entry.ino);
  if (!cur) return;
  const nlink = Number(cur.nlink);
  if (nlink > 1) await engine.changeVersion(tx, entry.ino, { nlink: nlink - 1 }, "unlink", path);
  else await engine.endVersion(tx, entry.ino, "unlink");
}

async function rmdirEntry(
  engine: Engine,
  tx: Tx,
  parent: ObjectId,
  name: string,
  ino: ObjectId,
  path: string,
) {
  await engine.leaseDir(tx, ino, path);
  if (await tx.hasEntries(ino))
    throw strataError("ENOTEMPTY", `directory ${path} is not empty`, { path, pfs: tx.ctx.name });
  await engine.removeEntry(tx, parent, name);
  await engine.endVersion(tx, ino, "rmdir");
  engine.deleteCtl(tx, ino);
}

async function planRename(
  engine: Engine,
  tx: Tx,
  reader: Reader,
  op: { from: string[]; to: string[]; path: string; noReplace: boolean },
): Promise<void> {
  const ctx = tx.ctx;
  const pfs = ctx.name;
  const from = formatPath(op.from);
  const to = formatPath(op.to);
  if (op.from.length === 0 || op.to.length === 0)
    throw strataError("EINVAL", "the root directory cannot be renamed or replaced", { path: op.path, pfs });
  const src = await resolve(reader, ctx, op.from, false, from);
  if (!src.entry) throw strataError("ENOENT", `${from} does not exist`, { path: from, pfs });
  const dst = await resolve(reader, ctx, op.to, false, to);
  const srcRef = src.entry;
  const srcParent = src.parent!;
  const dstParent = dst.parent!;
  const dstName = dst.name!;
  if (dst.entry && op.noReplace) throw strataError("EEXIST", `${to} already exists`, { path: to, pfs });
  if (dst.entry && dst.entry.ino === srcRef.ino) return; // rename(2): same object, nothing to do
  if (srcRef.type === "dir" && (dst.chain.includes(srcRef.ino) || isWithin(dst.comps, src.comps)))
    throw strataError("EINVAL", `cannot move directory ${from} under itself (${to})`, { path: from, pfs });
  if (dst.entry) {
    if (dst.entry.ino === srcRef.ino) return; // rename(2): same object, nothing to do
    if (op.noReplace) throw strataError("EEXIST", `${to} already exists`, { path: to, pfs });
    if (srcRef.type === "dir" && dst.entry.type !== "dir")
      throw strataError("ENOTDIR", `cannot replace non-directory ${to} by directory ${from}`, {
        path: to,
        pfs,
      });
    if (srcRef.type !== "dir" && dst.entry.type === "dir")
      throw strataError("EISDIR", `cannot replace directory ${to} by non-directory ${from}`, {
        path: to,
        pfs,
      });
    if (dst.entry.type === "dir") await rmdirEntry(engine, tx, dstParent, dstName, dst.entry.ino, to);
    else await unlinkEntry(engine, tx, dstParent, dstName, dst.entry, to);
  }
  await engine.removeEntry(tx, srcParent, src.name!);
  engine.addEntry(tx, dstParent, dstName, srcRef);
  if (srcRef.type === "dir") {
    // Ancestors of the target keep their parents: a racing opposite move fails one of us.
    for (let i = 1; i < dst.chain.length; i++)
      tx.check(ctlKey(ctx.id, dst.chain[i]!), { op: "eq", attr: "parent", value: dst.chain[i - 1]! });
    const key = ctlKey(ctx.id, srcRef.ino);
    const ctl = await tx.get(key);
    if (!ctl) throw strataError("ENOENT", `${from} no longer exists`, { path: from, pfs });
    tx.put({ ...ctl, parent: dstParent, name: dstName }, { op: "eq", attr: "parent", value: srcParent });
  }
}

class PfsFileSystem implements FileSystem {
  constructor(
    readonly engine: Engine,
    readonly pfs: string,
  ) {}

  private async run(op: Op): Promise<{ stat: Stat | undefined; tid: Tid | undefined }> {
    const { result, tid } = await this.engine.write(this.pfs, (tx) => planOp(this.engine, tx, op));
    return { stat: result, tid };
  }

  /** A reader for `options.asOf`, or a live read-only transaction. */
  private async reader(options?: ReadOptions): Promise<{ reader: Reader; ctx: PfsContext; live: boolean }> {
    const ctx = await this.engine.context(this.pfs);
    if (options?.asOf !== undefined) {
      const tid = await this.engine.readTid(ctx, options.asOf);
      return { reader: new AsOfReader(this.engine, ctx, tid), ctx, live: false };
    }
    const tx = new Tx(this.engine.store, ctx, ZERO_TID, this.engine.clock());
    return { reader: new TxReader(tx), ctx, live: true };
  }

  private async inodeAt(
    path: string,
    follow: boolean,
    options?: ReadOptions,
  ): Promise<{ ino: ObjectId; v: Item; reader: Reader; ctx: PfsContext }> {
    const comps = parsePath(path);
    const { reader, ctx } = await this.reader(options);
    const r = await resolve(reader, ctx, comps, follow, path);
    if (!r.entry) throw strataError("ENOENT", `${path} does not exist`, { path, pfs: this.pfs });
    const v = await reader.inode(r.entry.ino);
    if (!v) {
      if (comps.length === 0) this.engine.forget(this.pfs);
      throw strataError("ENOENT", `${path} does not exist`, { path, pfs: this.pfs });
    }
    return { ino: r.entry.ino, v, reader, ctx };
  }

  async stat(path: string, options?: ReadOptions): Promise<Stat> {
    const { ino, v } = await this.inodeAt(path, true, options);
    return toStat(this.pfs, ino, v);
  }

  async lstat(path: string, options?: ReadOptions): Promise<Stat> {
    const { ino, v } = await this.inodeAt(path, false, options);
    return toStat(this.pfs, ino, v);
  }

  async readdir(
    path: string,
    options: ReadOptions & { cursor?: string; limit?: number } = {},
  ): Promise<ReaddirPage> {
    const comps = parsePath(path);
    if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1))
      throw strataError("EINVAL", "limit must be a positive integer", { path });
    const { reader, ctx, live } = await this.reader(options);
    const r = await resolve(reader, ctx, comps, true, path);
    if (!r.entry) throw strataError("ENOENT", `${path} does not exist`, { path, pfs: this.pfs });
    if (r.entry.type !== "dir")
      throw strataError("ENOTDIR", `${path} is not a directory`, { path, pfs: this.pfs });
    const dir = r.entry.ino;
    if (comps.length === 0 && !(await reader.inode(dir)))
      throw strataError("ENOENT", `PFS ${this.pfs} root does not exist at that point`, {
        path,
        pfs: this.pfs,
      });
    if (live) {
      const page = await this.engine.store.query(dirPk(ctx.id, dir), {
        ...(options.limit ? { limit: options.limit } : {}),
        ...(options.cursor ? { cursor: options.cursor } : {}),
      });
      const entries: DirEntry[] = [];
      for (const item of page.items) {
        const ref = entryRef(verify(item, this.pfs));
        if (ref) entries.push({ name: item.sk, type: ref.type, ino: ref.ino });
      }
      return page.cursor ? { entries, cursor: page.cursor } : { entries };
    }
    return this.readdirAsOf(ctx, dir, (reader as AsOfReader).tid, options.cursor, options.limit);
  }

  /** As-of readdir scans the directory's entry history (cost grows with its history, not only its size). */
  private async readdirAsOf(
    ctx: PfsContext,
    dir: ObjectId,
    tid: Tid,
    cursor?: string,
    limit?: number,
  ): Promise<ReaddirPage> {
    const entries: DirEntry[] = [];
    let after = cursor === undefined ? undefined : decodeNameCursor(cursor);
    let storeCursor: string | undefined;
    const max = limit ?? Number.POSITIVE_INFINITY;
    for (;;) {
      const page = await this.engine.store.query(historyPk(ctx.id, dir), {
        ...(after !== undefined ? { sk: { op: "gt", value: `${after}/${HIGH}` } } : {}),
        ...(storeCursor ? { cursor: storeCursor } : {}),
      });
      for (const item of page.items) {
        verify(item, this.pfs);
        if (String(item.ctid) > tid || (item.dtid !== undefined && String(item.dtid) <= tid)) continue;
        const name = String(item.name);
        if (entries.length > 0 && entries[entries.length - 1]!.name === name) continue;
        if (entries.length === max)
          return { entries, cursor: encodeNameCursor(entries[entries.length - 1]!.name) };
        const ref = entryRef(item, true)!;
        entries.push({ name, type: ref.type, ino: ref.ino });
      }
      if (!page.cursor) return { entries };
      storeCursor = page.cursor;
      after = undefined;
    }
  }

  async readlink(path: string, options?: ReadOptions): Promise<string> {
    const { v } = await this.inodeAt(path, false, options);
    if (v.type !== "symlink" || typeof v.target !== "string")
      throw strataError("EINVAL", `${path} is not a symbolic link`, { path, pfs: this.pfs });
    return v.target;
  }

  async getXattr(path: string, name: string, options?: ReadOptions): Promise<Uint8Array> {
    checkXattrName(name, path);
    const { v } = await this.inodeAt(path, true, options);
    const value = (v.xattrs as Record<string, Uint8Array> | undefined)?.[name];
    if (!(value instanceof Uint8Array))
      throw strataError("ENOENT", `${path} has no xattr ${name}`, { path, pfs: this.pfs });
    return new Uint8Array(value);
  }

  async listXattrs(path: string, options?: ReadOptions): Promise<string[]> {
    const { v } = await this.inodeAt(path, true, options);
    return Object.keys((v.xattrs as Record<string, Value>) ?? {}).sort(compareUtf8);
  }

  async getTags(path: string, options?: ReadOptions): Promise<Record<string, string>> {
    const { v } = await this.inodeAt(path, true, options);
    const tags = (v.tags as Record<string, string>) ?? {};
    // Keys in UTF-8 byte order, whatever order the store kept the map in.
    const out: Record<string, string> = {};
    for (const k of Object.keys(tags).sort(compareUtf8)) out[k] = tags[k]!;
    return out;
  }

  async mkdir(
    path: string,
    options: { mode?: number; uid?: number; gid?: number; recursive?: boolean } = {},
  ): Promise<Stat> {
    const comps = parsePath(path);
    const mode = checkMode(options.mode ?? 0o755, path);
    const uid = checkId(options.uid ?? 0, "uid", path);
    const gid = checkId(options.gid ?? 0, "gid", path);
    if (!options.recursive) {
      if (comps.length === 0) throw strataError("EEXIST", "/ already exists", { path, pfs: this.pfs });
      return (await this.run({ op: "mkdir", comps, path, mode, uid, gid })).stat!;
    }
    // mkdir -p: one transaction per missing component (each idempotent under races).
    for (let i = 1; i <= comps.length; i++) {
      const prefix = comps.slice(0, i);
      try {
        await this.run({ op: "mkdir", comps: prefix, path: formatPath(prefix), mode, uid, gid });
      } catch (err) {
        if (!isStrataError(err, "EEXIST")) throw err;
        const st = await this.stat(formatPath(prefix));
        if (st.type !== "dir")
          throw strataError("ENOTDIR", `${formatPath(prefix)} exists and is not a directory`, {
            path,
            pfs: this.pfs,
          });
      }
    }
    return this.stat(path);
  }

  async create(path: string, options: CreateOptions = {}): Promise<Stat> {
    return (await this.run(parseOp({ op: "create", path, options }))).stat!;
  }

  async writeContent(path: string, content: FileContent): Promise<Stat> {
    return (await this.run(parseOp({ op: "writeContent", path, content }))).stat!;
  }

  async rename(from: string, to: string, options: { noReplace?: boolean } = {}): Promise<void> {
    await this.run({
      op: "rename",
      from: parsePath(from),
      to: parsePath(to),
      path: from,
      noReplace: options.noReplace === true,
    });
  }

  async unlink(path: string): Promise<void> {
    await this.run(parseOp({ op: "unlink", path }));
  }

  async rmdir(path: string): Promise<void> {
    await this.run(parseOp({ op: "rmdir", path }));
  }

  async symlink(target: string, path: string): Promise<Stat> {
    return (await this.run(parseOp({ op: "symlink", target, path }))).stat!;
  }

  async link(existing: string, path: string): Promise<Stat> {
    return (await this.run(parseOp({ op: "link", existing, path }))).stat!;
  }

  async setattr(path: string, attrs: SetAttrs): Promise<Stat> {
    return (await this.run(parseOp({ op: "setattr", path, attrs }))).stat!;
  }

  async setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options: { create?: boolean; replace?: boolean } = {},
  ): Promise<void> {
    const comps = parsePath(path);
    checkXattrName(name, path);
    if (!(value instanceof Uint8Array))
      throw strataError("EINVAL", "an xattr value must be a Uint8Array", { path });
    if (value.length > NS_LIMITS.xattrValueBytes)
      throw strataError("E2BIG", `an xattr value is limited to ${NS_LIMITS.xattrValueBytes} bytes`, {
        path,
        name,
      });
    if (options.create && options.replace)
      throw strataError("EINVAL", "create and replace cannot both be set", { path, name });
    await this.run({
      op: "setXattr",
      comps,
      path,
      name,
      value: new Uint8Array(value),
      create: options.create === true,
      replace: options.replace === true,
    });
  }

  async removeXattr(path: string, name: string): Promise<void> {
    const comps = parsePath(path);
    checkXattrName(name, path);
    await this.run({ op: "removeXattr", comps, path, name });
  }

  async setTag(path: string, key: string, value: string): Promise<void> {
    await this.run(parseOp({ op: "setTag", path, key, value }));
  }

  async removeTag(path: string, key: string): Promise<void> {
    await this.run(parseOp({ op: "removeTag", path, key }));
  }

  async history(path: string, options: { limit?: number } = {}): Promise<Version[]> {
    if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1))
      throw strataError("EINVAL", "limit must be a positive integer", { path });
    const { ino, ctx } = await this.inodeAt(path, false);
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const out: Version[] = [];
    let cursor: string | undefined;
    let newerCtid: Tid | undefined;
    do {
      const page = await this.engine.store.query(inoPk(ctx.id, ino), {
        sk: { op: "beginsWith", value: VERSION_PREFIX },
        ...(cursor ? { cursor } : {}),
      });
      for (const item of page.items) {
        verify(item, this.pfs);
        const ctid = String(item.ctid);
        if (item.dtid !== undefined && item.dtid !== newerCtid && out.length < limit)
          out.push({
            tid: String(item.dtid),
            time: tidToDate(String(item.dtid)),
            change: String(item.dchange ?? "delete"),
          });
        if (out.length < limit)
          out.push({
            tid: ctid,
            time: tidToDate(ctid),
            stat: toStat(this.pfs, ino, item),
            change: String(item.change),
          });
        newerCtid = ctid;
      }
      cursor = out.length < limit ? page.cursor : undefined;
    } while (cursor);
    return out;
  }

  async revert(path: string, asOf: AsOf, options: { recursive?: boolean } = {}): Promise<Tid> {
    const comps = parsePath(path);
    const ctx = await this.engine.context(this.pfs);
    const tid = await this.engine.readTid(ctx, asOf);
    const then = new AsOfReader(this.engine, ctx, tid);
    let last: Tid | undefined;
    const note = (t: Tid | undefined) => {
      if (t && (!last || t > last)) last = t;
    };
    await revertTree(this.engine, this.pfs, comps, path, then, options.recursive === true, note);
    return last ?? (await this.engine.currentTid(ctx));
  }

  async batch(ops: BatchOp[]): Promise<Tid> {
    if (!Array.isArray(ops) || ops.length === 0) throw strataError("EINVAL", "a batch needs at least one op");
    if (ops.length > 100) throw strataError("E2BIG", "a batch holds at most 100 ops (one transaction)");
    const parsed = ops.map(parseOp);
    const { tid } = await this.engine.write(this.pfs, async (tx) => {
      // Blind creates only for a single op: later ops must see what the name really holds.
      for (const op of parsed) await planOp(this.engine, tx, op, parsed.length === 1);
    });
    return tid ?? (await this.currentTid());
  }

  asOf(point: AsOf): ReadableFileSystem {
    return new AsOfView(this, point);
  }

  async createSnapshot(name: string, options: { asOf?: AsOf } = {}): Promise<Snapshot> {
    const ctx = await this.engine.context(this.pfs);
    checkSnapshotName(name, this.pfs);
    const tid =
      options.asOf !== undefined
        ? await this.engine.readTid(ctx, options.asOf)
        : await this.engine.currentTid(ctx);
    const createdAt = new Date(this.engine.clock());
    try {
      await this.engine.store.put(
        seal({ pk: snapshotPk(ctx.id), sk: name, tid, created: createdAt.getTime() }),
        {
          condition: { op: "notExists" },
        },
      );
    } catch (err) {
      if (isStrataError(err, "ECONFLICT"))
        throw strataError("EEXIST", `snapshot ${name} already exists`, { pfs: this.pfs, snapshot: name });
      throw err;
    }
    return { name, tid, createdAt };
  }

  async listSnapshots(): Promise<Snapshot[]> {
    const ctx = await this.engine.context(this.pfs);
    const out: Snapshot[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.engine.store.query(snapshotPk(ctx.id), cursor ? { cursor } : {});
      for (const item of page.items) {
        verify(item, this.pfs);
        out.push({ name: item.sk, tid: String(item.tid), createdAt: new Date(Number(item.created)) });
      }
      cursor = page.cursor;
    } while (cursor);
    return out;
  }

  async deleteSnapshot(name: string): Promise<void> {
    const ctx = await this.engine.context(this.pfs);
    checkSnapshotName(name, this.pfs);
    try {
      await this.engine.store.delete({ pk: snapshotPk(ctx.id), sk: name }, { condition: { op: "exists" } });
    } catch (err) {
      if (isStrataError(err, "ECONFLICT"))
        throw strataError("ENOENT", `snapshot ${name} does not exist`, { pfs: this.pfs, snapshot: name });
      throw err;
    }
  }

  async currentTid(): Promise<Tid> {
    return this.engine.currentTid(await this.engine.context(this.pfs));
  }
}

function encodeNameCursor(name: string): string {
  return `n:${encodeURIComponent(name)}`;
}

function decodeNameCursor(cursor: string): string {
  if (!cursor.startsWith("n:"))
    throw strataError("EINVAL", "readdir cursor is not one this engine produced", { cursor });
  try {
    return decodeURIComponent(cursor.slice(2));
  } catch {
    throw strataError("EINVAL", "readdir cursor is not one this engine produced", { cursor });
  }
}

/**
 * Restore `comps` to its state in `then`, one transaction per path: first the path itself
 * (removing what is there now when it differs), then, when recursive, every child name present
 * then or now. A subtree revert is therefore NOT atomic (docs/namespace.md).
 */
async function revertTree(
  engine: Engine,
  pfs: string,
  comps: string[],
  path: string,
  then: AsOfReader,
  recursive: boolean,
  note: (tid: Tid | undefined) => void,
): Promise<void> {
  const ctx = await engine.context(pfs);
  const thenRef = await resolve(then, ctx, comps, false, path).then(
    (r) => r.entry,
    (err) => {
      if (isStrataError(err, "ENOENT") || isStrataError(err, "ENOTDIR")) return undefined;
      throw err;
    },
  );
  // Children that exist now under a directory that must go (or be replaced) are removed first.
  if (recursive) {
    const fs = engine.pfs(pfs);
    const now = await fs.lstat(formatPath(comps)).catch((err) => {
      if (isStrataError(err, "ENOENT") || isStrataError(err, "ENOTDIR")) return undefined;
      throw err;
    });
    if (now?.type === "dir" && comps.length > 0 && (!thenRef || thenRef.ino !== now.ino))
      await removeTree(engine, pfs, comps, note);
  }
  const { tid } = await engine.write(pfs, (tx) =>
    revertOne(engine, tx, comps, path, then, thenRef, recursive),
  );
  note(tid);
  if (!recursive || thenRef?.type !== "dir") return;
  const names = new Set<string>();
  let cursor: string | undefined;
  const fs = engine.pfs(pfs) as PfsFileSystem;
  do {
    const page = await fs.readdir(formatPath(comps), { asOf: then.tid, ...(cursor ? { cursor } : {}) });
    for (const e of page.entries) names.add(e.name);
    cursor = page.cursor;
  } while (cursor);
  cursor = undefined;
  do {
    const page = await fs.readdir(formatPath(comps), cursor ? { cursor } : {});
    for (const e of page.entries) names.add(e.name);
    cursor = page.cursor;
  } while (cursor);
  for (const name of [...names].sort())
    await revertTree(engine, pfs, [...comps, name], formatPath([...comps, name]), then, true, note);
}

async function removeTree(
  engine: Engine,
  pfs: string,
  comps: string[],
  note: (tid: Tid | undefined) => void,
) {
  const fs = engine.pfs(pfs);
  const path = formatPath(comps);
  for (;;) {
    const page = await fs.readdir(path, { limit: 100 });
    if (page.entries.length === 0) break;
    for (const e of page.entries) {
      const child = [...comps, e.name];
      if (e.type === "dir") await removeTree(engine, pfs, child, note);
      else
        note(
          (
            await engine.write(pfs, (tx) =>
              planOp(engine, tx, { op: "unlink", comps: child, path: formatPath(child) }),
            )
          ).tid,
        );
    }
  }
  note((await engine.write(pfs, (tx) => planOp(engine, tx, { op: "rmdir", comps, path }))).tid);
}

async function revertOne(
  engine: Engine,
  tx: Tx,
  comps: string[],
  path: string,
  then: AsOfReader,
  thenRef: EntryRef | undefined,
  recursive: boolean,
): Promise<void> {
  const ctx = tx.ctx;
  const pfs = ctx.name;
  const reader = new TxReader(tx);
  const live = await resolve(reader, ctx, comps, false, path);
  const nowRef = live.entry;
  const attrsThen = async (ino: ObjectId) => {
    const v = await then.inode(ino);
    if (!v) throw strataError("EPRUNED", `the version of ${path} at ${then.tid} is gone`, { path, pfs });
    return stripVersion(v);
  };
  if (comps.length === 0) {
    // The root: restore its attributes only (children are handled by the recursion).
    const attrs = await attrsThen(ctx.root);
    await engine.replaceVersion(tx, ctx.root, { ...attrs, nlink: 2 }, "revert");
    return;
  }
  const parent = live.parent!;
  const name = live.name!;
  if (nowRef && thenRef && nowRef.ino === thenRef.ino) {
    const cur = await tx.currentVersion(nowRef.ino);
    const attrs = await attrsThen(nowRef.ino);
    await engine.replaceVersion(
      tx,
      nowRef.ino,
      { ...attrs, nlink: Number(cur?.nlink ?? attrs.nlink) },
      "revert",
    );
    return;
  }
  if (nowRef) {
    if (nowRef.type === "dir") {
      if (!recursive && (await tx.hasEntries(nowRef.ino)))
        throw strataError("ENOTEMPTY", `${path} is a non-empty directory now; revert it recursively`, {
          path,
          pfs,
        });
      await rmdirEntry(engine, tx, parent, name, nowRef.ino, path);
    } else await unlinkEntry(engine, tx, parent, name, nowRef, path);
  }
  if (!thenRef) return;
  const attrs = await attrsThen(thenRef.ino);
  if (thenRef.type === "dir") {
    if (live.chain.includes(thenRef.ino))
      throw strataError("EINVAL", `cannot revert ${path}: its directory now lies above it`, { path, pfs });
    const key = ctlKey(ctx.id, thenRef.ino);
    const ctl = await tx.get(key);
    if (ctl) {
      // The directory lives elsewhere now: move it back.
      await engine.removeEntry(tx, String(ctl.parent), String(ctl.name));
      for (let i = 1; i < live.chain.length; i++)
        tx.check(ctlKey(ctx.id, live.chain[i]!), { op: "eq", attr: "parent", value: live.chain[i - 1]! });
      tx.put({ ...ctl, parent, name }, { op: "eq", attr: "parent", value: String(ctl.parent) });
      await engine.replaceVersion(tx, thenRef.ino, { ...attrs, nlink: 2 }, "revert");
    } else {
      tx.put({ ...key, parent, name }, { op: "notExists" });
      await engine.replaceVersion(tx, thenRef.ino, { ...attrs, nlink: 2 }, "revert");
    }
  } else {
    const cur = await tx.currentVersion(thenRef.ino);
    await engine.replaceVersion(
      tx,
      thenRef.ino,
      { ...attrs, nlink: cur ? Number(cur.nlink) + 1 : 1 },
      "revert",
    );
  }
  engine.addEntry(tx, parent, name, thenRef);
}

/** A read-only view at a fixed point; its TID is fixed (and closed) on first use. */
class AsOfView implements ReadableFileSystem {
  private tid: Promise<Tid> | undefined;

  constructor(
    private readonly fs: PfsFileSystem,
    private readonly point: AsOf,
  ) {}

  get pfs(): string {
    return this.fs.pfs;
  }

  private async at(): Promise<ReadOptions> {
    if (!this.tid) {
      const p = (async () => {
        const engine = this.fs.engine;
        return engine.readTid(await engine.context(this.fs.pfs), this.point);
      })();
      this.tid = p;
      p.catch(() => {
        if (this.tid === p) this.tid = undefined;
      });
    }
    return { asOf: await this.tid };
  }

  async stat(path: string, options?: ReadOptions) {
    return this.fs.stat(path, { ...options, ...(await this.at()) });
  }
  async lstat(path: string, options?: ReadOptions) {
    return this.fs.lstat(path, { ...options, ...(await this.at()) });
  }
  async readdir(path: string, options: ReadOptions & { cursor?: string; limit?: number } = {}) {
    return this.fs.readdir(path, { ...options, ...(await this.at()) });
  }
  async readlink(path: string) {
    return this.fs.readlink(path, await this.at());
  }
  async getXattr(path: string, name: string) {
    return this.fs.getXattr(path, name, await this.at());
  }
  async listXattrs(path: string) {
    return this.fs.listXattrs(path, await this.at());
  }
  async getTags(path: string) {
    return this.fs.getTags(path, await this.at());
  }

  private readonly: () => never = () => {
    throw strataError("EROFS", `an as-of view of PFS ${this.fs.pfs} is read-only`, { pfs: this.fs.pfs });
  };
  mkdir = async (..._args: unknown[]): Promise<never> => this.readonly();
  create = async (..._args: unknown[]): Promise<never> => this.readonly();
  writeContent = async (..._args: unknown[]): Promise<never> => this.readonly();
  rename = async (..._args: unknown[]): Promise<never> => this.readonly();
  unlink = async (..._args: unknown[]): Promise<never> => this.readonly();
  rmdir = async (..._args: unknown[]): Promise<never> => this.readonly();
  symlink = async (..._args: unknown[]): Promise<never> => this.readonly();
  link = async (..._args: unknown[]): Promise<never> => this.readonly();
  setattr = async (..._args: unknown[]): Promise<never> => this.readonly();
  setXattr = async (..._args: unknown[]): Promise<never> => this.readonly();
  removeXattr = async (..._args: unknown[]): Promise<never> => this.readonly();
  setTag = async (..._args: unknown[]): Promise<never> => this.readonly();
  removeTag = async (..._args: unknown[]): Promise<never> => this.readonly();
  revert = async (..._args: unknown[]): Promise<never> => this.readonly();
  batch = async (..._args: unknown[]): Promise<never> => this.readonly();
  createSnapshot = async (..._args: unknown[]): Promise<never> => this.readonly();
  deleteSnapshot = async (..._args: unknown[]): Promise<never> => this.readonly();
}
