/**
 * The record writes the planners (core/namespace/ops.ts, revert.ts, the engine's PFS registry,
 * core/mirror's merge) make inside one transaction: a version started, replaced or ended; a
 * directory entry added or removed (with its history record); a directory's ctl deleted; the
 * rmdir lease. Each writes into the `Tx` only (the lease: one UpdateItem before the commit).
 * The engine offers them as `NamespaceKernel` methods (core/namespace/kernel.ts).
 */
import { isStrataError, strataError } from "../errors.ts";
import type { Condition, Item, MetadataStore, Value } from "../metadata/port.ts";
import type { ObjectId, Tid } from "./api.ts";
import type { EntryRef } from "./kernel.ts";
import { ctlKey, entryKey, historyKey, versionKey } from "./records.ts";
import type { Tx } from "./tx.ts";
import { stripVersion } from "./validate.ts";

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

/** Start a new version of `ino` (ending the live one, if any) with `fields`. */
export function putVersion(
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
export async function changeVersion(
  tx: Tx,
  ino: ObjectId,
  changes: Record<string, Value>,
  change: string,
  path: string,
): Promise<Item> {
  const cur = await tx.currentVersion(ino);
  if (!cur) throw strataError("ENOENT", `${path} no longer exists`, { path, pfs: tx.ctx.name });
  if (cur.ctid !== tx.tid) endItem(tx, cur, change);
  return putVersion(tx, ino, { ...stripVersion(cur), ctime: tx.now, ...changes }, change, tx.now);
}

/** Replace the live version of `ino` (if any) by exactly `fields` (revert: nothing carried over). */
export async function replaceVersion(
  tx: Tx,
  ino: ObjectId,
  fields: Record<string, Value>,
  change: string,
): Promise<Item> {
  const cur = await tx.currentVersion(ino);
  if (cur && cur.ctid !== tx.tid) endItem(tx, cur, change);
  return putVersion(tx, ino, fields, change, tx.now);
}

function endItem(tx: Tx, cur: Item, change: string): void {
  tx.put({ ...cur, dtid: tx.tid, dchange: change }, versionLive(String(cur.ctid)));
}

export async function endVersion(tx: Tx, ino: ObjectId, change: string): Promise<void> {
  const cur = await tx.currentVersion(ino);
  if (!cur) return;
  if (cur.ctid === tx.tid) tx.delete(cur);
  else endItem(tx, cur, change);
}

export function addEntry(tx: Tx, dir: ObjectId, name: string, ref: EntryRef): void {
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

export async function removeEntry(tx: Tx, dir: ObjectId, name: string): Promise<void> {
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

export function deleteCtl(tx: Tx, ino: ObjectId): void {
  const key = ctlKey(tx.ctx.id, ino);
  const mark = tx.marks.find((m) => m.key.pk === key.pk);
  tx.delete(key, mark ? { op: "eq", attr: "rm", value: mark.until } : { op: "exists" });
}

/**
 * Take the rmdir lease on a directory (one UpdateItem, outside the transaction): from now on
 * creates into it fail their condition, so the emptiness check that follows cannot be raced.
 */
export async function leaseDir(
  store: MetadataStore,
  leaseMs: number,
  tx: Tx,
  ino: ObjectId,
  path: string,
): Promise<void> {
  const key = ctlKey(tx.ctx.id, ino);
  if (tx.wrote(key) || tx.marks.some((m) => m.key.pk === key.pk)) return;
  const until = tx.now + leaseMs;
  try {
    await store.update(key, { set: { rm: until } }, { condition: dirOpen(tx.now) });
  } catch (err) {
    if (isStrataError(err, "ECONFLICT") && err.details.item === undefined)
      throw strataError("ENOENT", `directory ${path} no longer exists`, { path, pfs: tx.ctx.name });
    throw err;
  }
  tx.marks.push({ key, until });
  // Our view of the ctl now carries the lease; the commit requires it unchanged.
  tx.check(key, { op: "eq", attr: "rm", value: until });
}
