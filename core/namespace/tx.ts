/**
 * One namespace transaction being planned: reads go through an overlay of the writes planned so
 * far (so a batch's later ops see its earlier ops), and the writes collapse per item into at most
 * one TransactWriteItems op each. Conditions given while an item is still as read (or as assumed)
 * describe the stored item and are sent; conditions given after this transaction already wrote
 * the item were checked against the overlay and are dropped.
 */
import { strataError } from "../errors.ts";
import type { Condition, Item, Key, MetadataStore, TransactOp } from "../metadata/port.ts";
import { keyId } from "../metadata/values.ts";
import type { ObjectId, Tid } from "./api.ts";
import { ctlKey, dirPk, entryKey, seal, VERSION_PREFIX, verify } from "./records.ts";
import { isTid, ZERO_TID } from "./tid.ts";

interface Touched {
  key: Key;
  /** The item as it was read (undefined = absent), or "unknown" when written blind. */
  orig: Item | undefined | "unknown";
  /** The first write assumed the item absent (put with notExists). */
  assumedAbsent: boolean;
  cur: Item | undefined;
  written: boolean;
  conds: Condition[];
}

export interface PfsContext {
  name: string;
  id: string;
  root: ObjectId;
  createdTid: Tid;
  shards: number;
  /** A read-only mirror (registry attribute `mirror`): writes are EROFS, reads stop at its sync TID. */
  mirror?: boolean;
  /**
   * A confined view's scope: canonical components of its prefix. Resolution through this context
   * stays beneath it (core/namespace/resolve.ts; docs/namespace.md "Confinement").
   */
  beneath?: readonly string[];
}

export class Tx {
  private readonly items = new Map<string, Touched>();
  /** Key of each inode's current version as this transaction sees it (null = none). */
  private readonly currentVersions = new Map<ObjectId, Key | null>();
  /** Highest TID seen in any record read. A commit must be above it. */
  maxSeen: Tid = ZERO_TID;
  /** rmdir leases taken while planning (store writes); released if the transaction fails. */
  readonly marks: Array<{ key: Key; until: number }> = [];

  constructor(
    readonly store: MetadataStore,
    readonly ctx: PfsContext,
    readonly tid: Tid,
    /** Wall-clock milliseconds for inode times and leases. */
    readonly now: number,
  ) {}

  private observe(item: Item | undefined): void {
    if (!item) return;
    for (const attr of ["ctid", "dtid"]) {
      const v = item[attr];
      if (isTid(v) && v > this.maxSeen) this.maxSeen = v;
    }
  }

  private touch(key: Key): Touched {
    const id = keyId(key);
    let t = this.items.get(id);
    if (!t) {
      t = { key, orig: "unknown", assumedAbsent: false, cur: undefined, written: false, conds: [] };
      this.items.set(id, t);
    }
    return t;
  }

  /** Register an item read elsewhere (query) as this transaction's view of it. */
  private remember(item: Item): Item | undefined {
    const id = keyId(item);
    const t = this.items.get(id);
    if (t && (t.written || t.orig !== "unknown")) return t.cur;
    verify(item, this.ctx.name);
    this.observe(item);
    this.items.set(id, {
      key: { pk: item.pk, sk: item.sk },
      orig: item,
      assumedAbsent: false,
      cur: item,
      written: false,
      conds: t?.conds ?? [],
    });
    return item;
  }

  async get(key: Key): Promise<Item | undefined> {
    const t = this.items.get(keyId(key));
    if (t && (t.written || t.orig !== "unknown")) return t.cur;
    const item = verify(await this.store.get(key), this.ctx.name);
    this.observe(item);
    this.items.set(keyId(key), {
      key,
      orig: item,
      assumedAbsent: false,
      cur: item,
      written: false,
      conds: t?.conds ?? [],
    });
    return item;
  }

  /** Require `condition` of the stored item when the transaction commits. */
  check(key: Key, condition: Condition): void {
    const t = this.touch(key);
    if (!t.written) t.conds.push(condition);
  }

  put(item: Item, condition?: Condition): Item {
    const t = this.touch(item);
    if (!t.written && condition) {
      t.conds.push(condition);
      if (condition.op === "notExists" && t.orig === "unknown") t.assumedAbsent = true;
    }
    t.cur = seal(item);
    t.written = true;
    return t.cur;
  }

  delete(key: Key, condition?: Condition): void {
    const t = this.touch(key);
    if (!t.written && condition) t.conds.push(condition);
    t.cur = undefined;
    t.written = true;
  }

  /** The inode's live version as of this transaction, or undefined. Cost: ≤ 1 Query. */
  async currentVersion(ino: ObjectId): Promise<Item | undefined> {
    let key = this.currentVersions.get(ino);
    if (key === undefined) {
      const page = await this.store.query(ctlKey(this.ctx.id, ino).pk, {
        sk: { op: "beginsWith", value: VERSION_PREFIX },
        limit: 1,
      });
      const item = page.items[0];
      if (!item) {
        this.currentVersions.set(ino, null);
        return undefined;
      }
      key = { pk: item.pk, sk: item.sk };
      this.currentVersions.set(ino, key);
      const seen = this.remember(item);
      return seen && seen.dtid === undefined ? seen : undefined;
    }
    if (key === null) return undefined;
    const item = await this.get(key);
    return item && item.dtid === undefined ? item : undefined;
  }

  setCurrentVersion(ino: ObjectId, key: Key): void {
    this.currentVersions.set(ino, key);
  }

  entry(dir: ObjectId, name: string): Promise<Item | undefined> {
    return this.get(entryKey(this.ctx.id, dir, name));
  }

  /**
   * True when the directory has at least one live entry, as this transaction sees it. Skips
   * tombstones (ended names), so its cost grows with the tombstones vacuum has not pruned yet.
   */
  async hasEntries(dir: ObjectId): Promise<boolean> {
    const pk = dirPk(this.ctx.id, dir);
    for (const t of this.items.values())
      if (t.key.pk === pk && t.written && t.cur && t.cur.dtid === undefined) return true;
    let cursor: string | undefined;
    do {
      const page = await this.store.query(pk, { limit: 100, ...(cursor ? { cursor } : {}) });
      for (const item of page.items) {
        const t = this.items.get(keyId(item));
        const seen = t?.written ? t.cur : item;
        if (seen && seen.dtid === undefined) return true;
      }
      cursor = page.cursor;
    } while (cursor);
    return false;
  }

  /** Every live entry of a directory as this transaction sees it, by name. Cost: ⌈bytes / 1 MB⌉ Queries. */
  async liveEntries(dir: ObjectId): Promise<Map<string, Item>> {
    const pk = dirPk(this.ctx.id, dir);
    const out = new Map<string, Item>();
    let cursor: string | undefined;
    do {
      const page = await this.store.query(pk, cursor ? { cursor } : {});
      for (const item of page.items) {
        const t = this.items.get(keyId(item));
        const seen = t?.written || (t && t.orig !== "unknown") ? t.cur : verify(item, this.ctx.name);
        if (seen && seen.dtid === undefined) out.set(item.sk, seen);
      }
      cursor = page.cursor;
    } while (cursor);
    for (const t of this.items.values())
      if (t.key.pk === pk && t.written) {
        if (t.cur && t.cur.dtid === undefined) out.set(t.key.sk, t.cur);
        else out.delete(t.key.sk);
      }
    return out;
  }

  /** This transaction's view of an item without reading it: known = read or written before. */
  peek(key: Key): { known: boolean; item: Item | undefined } {
    const t = this.items.get(keyId(key));
    return t && (t.written || t.orig !== "unknown")
      ? { known: true, item: t.cur }
      : { known: false, item: undefined };
  }

  /** Directories in which this transaction read a live entry naming `ino` (as stored, before its writes). */
  readDirsNaming(ino: ObjectId): ObjectId[] {
    const prefix = dirPk(this.ctx.id, "");
    const out: ObjectId[] = [];
    for (const t of this.items.values()) {
      const o = t.orig;
      if (
        o &&
        o !== "unknown" &&
        o.dtid === undefined &&
        t.key.pk.startsWith(prefix) &&
        String(o.ino) === ino
      )
        out.push(t.key.pk.slice(prefix.length));
    }
    return out;
  }

  /** Keys written blind with notExists: a failed condition there means "already exists". */
  readonly blind = new Map<string, string>();

  /** True when this transaction already wrote the item. */
  wrote(key: Key): boolean {
    return this.items.get(keyId(key))?.written ?? false;
  }

  /** The item's state before this transaction touched it, when it was read. */
  original(key: Key): Item | undefined | "unknown" {
    return this.items.get(keyId(key))?.orig ?? "unknown";
  }

  /** The TransactWriteItems ops, plus the keys written (for the change index). */
  build(): { ops: TransactOp[]; written: Key[] } {
    const ops: TransactOp[] = [];
    const written: Key[] = [];
    for (const t of this.items.values()) {
      const condition: Condition | undefined =
        t.conds.length === 0 ? undefined : t.conds.length === 1 ? t.conds[0] : { op: "and", of: t.conds };
      if (t.written) {
        if (t.cur) {
          ops.push(condition ? { kind: "put", item: t.cur, condition } : { kind: "put", item: t.cur });
          written.push(t.key);
        } else if (t.assumedAbsent || t.orig === undefined) {
          // Created and removed inside this transaction: nothing reaches the store.
        } else {
          ops.push(condition ? { kind: "delete", key: t.key, condition } : { kind: "delete", key: t.key });
          written.push(t.key);
        }
      } else if (condition) {
        ops.push({ kind: "check", key: t.key, condition });
      }
    }
    return { ops, written };
  }
}

export function notFound(what: string, path: string, pfs: string): Error {
  return strataError("ENOENT", `${what} ${path} does not exist in PFS ${pfs}`, { path, pfs });
}
