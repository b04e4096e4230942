/**
 * Path resolution over a point of view: live (through a Tx) or as of a closed TID.
 */
import { strataError } from "../errors.ts";
import type { Item, MetadataStore } from "../metadata/port.ts";
import type { DirEntry, FileType, ObjectId, ReaddirPage, Tid } from "./api.ts";
import type { EntryRef, NamespaceKernel } from "./kernel.ts";
import { followTarget, formatPath, isWithin } from "./path.ts";
import { ctlKey, entryKey, HIGH, historyPk, inoPk, VERSION_PREFIX, verify } from "./records.ts";
import { invertTid } from "./tid.ts";
import type { PfsContext, Tx } from "./tx.ts";
import { NS_LIMITS } from "./validate.ts";

export type { EntryRef } from "./kernel.ts";

/** Reads one point of view: live (through a Tx) or as of a closed TID. */
export interface Reader {
  entry(dir: ObjectId, name: string): Promise<EntryRef | undefined>;
  /** The entry when known without a read (live transactions only), else "unknown". */
  peek?(dir: ObjectId, name: string): EntryRef | undefined | "unknown";
  /**
   * Confined writes: require at commit that every directory of `chain` (root first) still has
   * the parent it had here, so a concurrent move cannot carry the target out of the scope
   * between resolution and commit, and that `last` (the entry resolved, when present) still
   * names the same object (live transactions only).
   */
  pin?(chain: readonly ObjectId[], last?: { dir: ObjectId; name: string; ino: ObjectId }): void;
  inode(ino: ObjectId): Promise<Item | undefined>;
}

export interface Resolved {
  /** Canonical components of the resolved path (after following symlinks). */
  comps: string[];
  /** Directories from the root to the parent (empty for the root itself). */
  chain: ObjectId[];
  parent?: ObjectId;
  name?: string;
  entry?: EntryRef;
}

export const FILE_TYPES: ReadonlySet<string> = new Set(["file", "dir", "symlink"]);

/** A live entry record as a reference; tombstones (records with `dtid`) are absent names. */
export function entryRef(item: Item | undefined, history = false): EntryRef | undefined {
  if (!item || (!history && item.dtid !== undefined)) return undefined;
  const type = String(item.type);
  if (!FILE_TYPES.has(type)) throw strataError("ECORRUPT", `entry ${item.pk} / ${item.sk} has type ${type}`);
  return { ino: String(item.ino), type: type as FileType };
}

/**
 * The error of a confined resolution that would leave its scope (docs/namespace.md, "Confinement").
 * `details.beneath` names the scope; rename and link turn it into EXDEV.
 */
export function escapes(ctx: PfsContext, path: string, why: string): Error {
  const prefix = formatPath(ctx.beneath ?? []);
  return strataError("EACCES", `${path}: ${why} (this view is confined to ${prefix})`, {
    path,
    pfs: ctx.name,
    beneath: prefix,
  });
}

/**
 * Resolve `input` from the PFS root. With `ctx.beneath` (a confined view) resolution stays
 * beneath that prefix like openat2(RESOLVE_BENEATH): the input and every path a symlink leads to
 * must lie within it, and no component of the prefix itself may be a symlink; otherwise EACCES
 * ({@link escapes}). The checks read nothing: the unconfined path costs exactly what it did.
 */
export async function resolve(
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
  const beneath = ctx.beneath;
  restart: for (;;) {
    if (beneath && !isWithin(comps, beneath))
      throw escapes(
        ctx,
        path,
        hops === 0 ? "outside the scope" : `a symlink leads to ${formatPath(comps)}, outside the scope`,
      );
    if (comps.length === 0) return { comps, chain: [], entry: { ino: ctx.root, type: "dir" } };
    let dir = ctx.root;
    const chain: ObjectId[] = [ctx.root];
    for (let i = 0; i < comps.length; i++) {
      const name = comps[i]!;
      const last = i === comps.length - 1;
      if (last && blindLast && reader.peek) {
        const known = reader.peek(dir, name);
        if (beneath) reader.pin?.(chain);
        if (known !== "unknown")
          return { comps, chain, parent: dir, name, ...(known ? { entry: known } : {}) };
        return { comps, chain, parent: dir, name };
      }
      const entry = await reader.entry(dir, name);
      // The scope's own path is walked, never redirected: a symlink there would move the scope.
      if (beneath && i < beneath.length && entry?.type === "symlink")
        throw escapes(
          ctx,
          path,
          `${formatPath(comps.slice(0, i + 1))} is a symlink on the path to the scope`,
        );
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
      if (last) {
        if (beneath) reader.pin?.(chain, entry && { dir, name, ino: entry.ino });
        return { comps, chain, parent: dir, name, ...(entry ? { entry } : {}) };
      }
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

export class TxReader implements Reader {
  constructor(private readonly tx: Tx) {}
  pin(chain: readonly ObjectId[], last?: { dir: ObjectId; name: string; ino: ObjectId }): void {
    const id = this.tx.ctx.id;
    for (let i = 1; i < chain.length; i++)
      this.tx.check(ctlKey(id, chain[i]!), { op: "eq", attr: "parent", value: chain[i - 1]! });
    if (last)
      this.tx.check(entryKey(id, last.dir, last.name), {
        op: "and",
        of: [
          { op: "eq", attr: "ino", value: last.ino },
          { op: "attrNotExists", attr: "dtid" },
        ],
      });
  }
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

export class AsOfReader implements Reader {
  constructor(
    private readonly engine: NamespaceKernel,
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

/**
 * As-of readdir of directory object `dir` (also revert's "entries of this object at T"): scans
 * the directory's entry history (cost grows with its history, not only its size).
 */
export async function readdirAsOf(
  store: MetadataStore,
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
    const page = await store.query(historyPk(ctx.id, dir), {
      ...(after !== undefined ? { sk: { op: "gt", value: `${after}/${HIGH}` } } : {}),
      ...(storeCursor ? { cursor: storeCursor } : {}),
    });
    for (const item of page.items) {
      verify(item, ctx.name);
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

export function encodeNameCursor(name: string): string {
  return `n:${encodeURIComponent(name)}`;
}

export function decodeNameCursor(cursor: string): string {
  if (!cursor.startsWith("n:"))
    throw strataError("EINVAL", "readdir cursor is not one this engine produced", { cursor });
  try {
    return decodeURIComponent(cursor.slice(2));
  } catch {
    throw strataError("EINVAL", "readdir cursor is not one this engine produced", { cursor });
  }
}
