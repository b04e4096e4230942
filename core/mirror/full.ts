/**
 * Full-state comparison: the resync used when the source pruned the history after a mirror's
 * sync TID (the stream answers EPRUNED). Cost O(size of the PFS) on both sides, reported by
 * `runMirror` as `mode: "full"`.
 *
 * Source side (`readFull`): every retained history record of the PFS, found by walking the entry
 * history from the root (every directory that ever held an entry, live or not), each in its state
 * as of `upto` (records created later are left out, ends later than `upto` stripped).
 *
 * Mirror side (`fullResync`): the same walk over the mirror; every record whose state differs is
 * put, the live entries and `ctl` items are derived from the newest entry-history record of each
 * name, and what is live on the mirror but absent at the source (its whole history pruned there)
 * is ended at `upto` — the source no longer knows when it really ended, so as-of reads of the
 * mirror between its old sync TID and `upto` may still show it. Ended history the mirror has and
 * the source pruned stays: the mirror's own retention decides about it.
 */
import { strataError } from "../errors.ts";
import type { Item, TransactOp, Value } from "../metadata/port.ts";
import { itemSize, keyId } from "../metadata/values.ts";
import type { Namespace, ObjectId, Tid } from "../namespace/api.ts";
import type { NamespaceKernel as Engine } from "../namespace/kernel.ts";
import {
  ctlKey,
  dirPk,
  entryKey,
  historyPk,
  inoPk,
  recordCrc,
  seal,
  VERSION_PREFIX,
  verify,
} from "../namespace/records.ts";
import { isTid } from "../namespace/tid.ts";
import type { PfsContext } from "../namespace/tx.ts";
import { APPLY_MAX_ITEMS, changeItemFor, type MirrorState, transactionParts } from "./apply.ts";
import { type ChunkTarget, ensureChunks, recordChunks } from "./chunks.ts";
import { makeRecord, relativePk, type SourceInfo, type StreamRecord, targetItem } from "./format.ts";
import type { MirrorTarget } from "./mirror.ts";
import { engineOf } from "./stream.ts";
import type { StreamSource } from "./transport.ts";

export interface FullState {
  source: SourceInfo;
  upto: Tid;
  /** Every retained history record, as of `upto` (`tid` = the TID of that state). */
  records: StreamRecord[];
}

async function allOf(engine: Engine, pk: string, prefix?: string): Promise<Item[]> {
  const out: Item[] = [];
  let cursor: string | undefined;
  do {
    const page = await engine.store.query(pk, {
      ...(prefix ? { sk: { op: "beginsWith", value: prefix } } : {}),
      ...(cursor ? { cursor } : {}),
    });
    out.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  return out;
}

/** Every history record of a PFS (ids on `ctx`) reachable from its root through the entry history. */
async function walk(engine: Engine, ctx: PfsContext): Promise<Item[]> {
  const out: Item[] = [];
  const dirs: ObjectId[] = [ctx.root];
  const seenDirs = new Set(dirs);
  const seenInodes = new Set<ObjectId>([ctx.root]);
  const inodes: ObjectId[] = [ctx.root];
  while (dirs.length > 0) {
    const dir = dirs.pop()!;
    for (const item of await allOf(engine, historyPk(ctx.id, dir))) {
      out.push(verify(item, ctx.name));
      const ino = String(item.ino);
      if (!seenInodes.has(ino)) {
        seenInodes.add(ino);
        inodes.push(ino);
      }
      if (item.type === "dir" && !seenDirs.has(ino)) {
        seenDirs.add(ino);
        dirs.push(ino);
      }
    }
  }
  for (const ino of inodes)
    for (const item of await allOf(engine, inoPk(ctx.id, ino), VERSION_PREFIX))
      out.push(verify(item, ctx.name));
  return out;
}

/** Clip a stored history record to its state as of `upto` (undefined: created after it). */
function asOf(item: Item, upto: Tid): { tid: Tid; attrs: Record<string, Value> } | undefined {
  const { pk: _pk, sk: _sk, crc: _crc, ...attrs } = item;
  if (String(attrs.ctid) > upto) return undefined;
  if (attrs.dtid !== undefined && String(attrs.dtid) > upto) {
    delete attrs.dtid;
    delete attrs.dchange;
  }
  return { tid: String(attrs.dtid ?? attrs.ctid), attrs };
}

/** Source side: the PFS's whole retained state as of `upto` (closed first). */
export async function readFull(ns: Namespace, pfs: string, upto?: Tid): Promise<FullState> {
  const engine = engineOf(ns);
  const ctx = await engine.context(pfs);
  // The whole state can take long to read: under a TID lease vacuum honours (core/retention/lease.ts).
  const { tid: end, lease } = await engine.leaseTid(ctx, upto ?? (await engine.currentTid(ctx)));
  const records: StreamRecord[] = [];
  try {
    for (const item of await walk(engine, ctx)) {
      const state = asOf(item, end);
      if (state) records.push(makeRecord(state.tid, relativePk(item.pk, ctx.id)!, item.sk, state.attrs));
    }
    await lease?.keep(); // held all along: nothing visible at `end` was pruned under the walk
  } finally {
    await lease?.release();
  }
  return {
    source: { pfs: ctx.name, id: ctx.id, rootIno: ctx.root, createdTid: ctx.createdTid, closed: end },
    upto: end,
    records,
  };
}

/** One page of {@link readFullPage}: `next` resumes after its last record. */
export interface FullPage extends FullState {
  next?: string;
}

/** Bytes of records one full-state page stops after (the first record always goes). */
export const FULL_PAGE_BYTES = 512 * 1024;

/** Recent full states by PFS id and TID, so paging one costs one walk, not one per page. */
const fullCache = new WeakMap<Namespace, Map<string, FullState>>();
const FULL_CACHE_ENTRIES = 4;

const compareKeys = (a: { pk: string; sk: string }, b: { pk: string; sk: string }) =>
  a.pk < b.pk ? -1 : a.pk > b.pk ? 1 : a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0;

function decodeFullCursor(cursor: string): { upto: Tid; after: { pk: string; sk: string } } {
  let parsed: unknown;
  try {
    parsed = cursor.startsWith("f1:") ? JSON.parse(cursor.slice(3)) : undefined;
  } catch {
    parsed = undefined;
  }
  const c = parsed as { upto?: unknown; pk?: unknown; sk?: unknown } | undefined;
  if (!c || !isTid(c.upto) || typeof c.pk !== "string" || typeof c.sk !== "string")
    throw strataError("EINVAL", "not a full-state cursor (the `next` of a previous page)", {
      field: "cursor",
    });
  return { upto: c.upto, after: { pk: c.pk, sk: c.sk } };
}

/**
 * Source side, paged: the records of {@link readFull} as of one TID, in key order (pk, sk), at
 * most ~`maxBytes` per page; `cursor` (a page's `next`) names that TID and the last key sent, so
 * pages stay consistent and a record pruned between pages cannot shift the rest. The walk is
 * cached per process for a few (PFS, TID) pairs; a process that has not seen it walks again.
 */
export async function readFullPage(
  ns: Namespace,
  pfs: string,
  request: { cursor?: string; maxBytes?: number } = {},
): Promise<FullPage> {
  const resume = request.cursor === undefined ? undefined : decodeFullCursor(request.cursor);
  const engine = engineOf(ns);
  const ctx = await engine.context(pfs);
  const cache = fullCache.get(ns) ?? new Map<string, FullState>();
  fullCache.set(ns, cache);
  let state = resume ? cache.get(`${ctx.id}@${resume.upto}`) : undefined;
  if (!state) {
    const all = await readFull(ns, pfs, resume?.upto);
    state = { ...all, records: [...all.records].sort(compareKeys) };
    cache.delete(`${ctx.id}@${state.upto}`);
    cache.set(`${ctx.id}@${state.upto}`, state);
    while (cache.size > FULL_CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  }
  const { records } = state;
  let start = 0;
  if (resume) while (start < records.length && compareKeys(records[start]!, resume.after) <= 0) start++;
  const maxBytes = request.maxBytes ?? FULL_PAGE_BYTES;
  let end = start;
  let bytes = 0;
  while (end < records.length) {
    const r = records[end]!;
    bytes += itemSize({ pk: r.pk, sk: r.sk, ...r.item });
    if (bytes > maxBytes && end > start) break;
    end++;
  }
  const last = records[end - 1];
  return {
    source: state.source,
    upto: state.upto,
    records: records.slice(start, end),
    ...(end < records.length && last
      ? {
          next: `f1:${JSON.stringify({ upto: state.upto, pk: last.pk, sk: last.sk })}`,
        }
      : {}),
  };
}

/** Mirror side: see the module header. */
export async function fullResync(
  target: MirrorTarget,
  ctx: PfsContext,
  state: MirrorState,
  source: StreamSource,
  chunks: ChunkTarget,
): Promise<{
  state: MirrorState;
  records: number;
  differing: number;
  transactions: number;
  chunksCopied: number;
  bytesCopied: number;
}> {
  if (!source.full)
    throw strataError(
      "EPRUNED",
      `source ${source.label} pruned the history after the mirror's sync TID and cannot give its full state`,
      { source: source.label },
    );
  const engine = engineOf(target.ns);
  const full = await source.full();
  const upto = full.upto;
  const copied = await ensureChunks(chunks, recordChunks(full.records), (ref) => source.chunk(ref));

  const desired = new Map<string, Item | null>();
  const newest = new Map<string, StreamRecord>();
  for (const r of full.records) {
    const item = targetItem(r, ctx.id);
    desired.set(keyId(item), item);
    if (r.pk.startsWith("dh#")) {
      const name = `${r.pk.slice(3)}/${String(r.item.name)}`;
      const seen = newest.get(name);
      if (!seen || String(r.item.ctid) > String(seen.item.ctid)) newest.set(name, r);
    }
  }
  desired.set(keyId(ctlKey(ctx.id, ctx.root)), { ...ctlKey(ctx.id, ctx.root), parent: "", name: "" });
  for (const r of newest.values()) {
    const dir = r.pk.slice(3);
    const entry = entryKey(ctx.id, dir, String(r.item.name));
    if (r.item.dtid === undefined) {
      desired.set(keyId(entry), { ...entry, ino: r.item.ino!, type: r.item.type!, ctid: r.item.ctid! });
      if (r.item.type === "dir") {
        const ctl = ctlKey(ctx.id, String(r.item.ino));
        desired.set(keyId(ctl), { ...ctl, parent: dir, name: String(r.item.name) });
      }
    } else desired.set(keyId(entry), { ...entry, dtid: r.item.dtid });
  }

  // What the mirror has now: its history, live entries and ctl items.
  const existing = new Map<string, Item>();
  for (const item of await walk(engine, ctx)) existing.set(keyId(item), item);
  const dirs = new Set<string>();
  for (const item of existing.values())
    if (item.pk.startsWith("dh#")) dirs.add(item.pk.slice(`dh#${ctx.id}#`.length));
  for (const dir of dirs) {
    for (const item of await allOf(engine, dirPk(ctx.id, dir))) existing.set(keyId(item), item);
    const ctl = await engine.store.get(ctlKey(ctx.id, dir));
    if (ctl) existing.set(keyId(ctl), ctl);
  }

  // The mirror's own change index for what it imports (so it can be a source in turn).
  const byTid = new Map<Tid, Item[]>();
  for (const r of full.records) {
    const list = byTid.get(r.tid) ?? [];
    list.push(targetItem(r, ctx.id));
    byTid.set(r.tid, list);
  }
  for (const [tid, items] of byTid) {
    const change = changeItemFor(ctx.id, ctx.shards, tid, items);
    desired.set(keyId(change), change);
    const have = await engine.store.get(change);
    if (have) existing.set(keyId(have), have);
  }

  const ops: TransactOp[] = [];
  const same = (a: Item, b: Item) => recordCrc(a) === recordCrc(b);
  for (const [id, want] of desired) {
    const have = existing.get(id);
    if (want && (!have || !same(have, want))) ops.push({ kind: "put", item: seal(want) });
  }
  for (const [id, have] of existing) {
    if (desired.has(id)) continue;
    if (have.sk === "ctl") ops.push({ kind: "delete", key: { pk: have.pk, sk: have.sk } });
    else if (have.dtid === undefined) {
      // Live here, unknown at the source: its whole history was pruned there. End it at `upto`.
      const ended: Item = have.pk.startsWith("dir#")
        ? { pk: have.pk, sk: have.sk, dtid: upto }
        : { ...have, dtid: upto, ...(have.sk.startsWith(VERSION_PREFIX) ? { dchange: "pruned" } : {}) };
      ops.push({ kind: "put", item: seal(ended) });
    }
  }

  let current = state;
  let transactions = 0;
  // Transactions of ≤ 99 items and ≤ APPLY_MAX_BYTES; `pending` until the last one moves `sync`.
  const parts = transactionParts(ops, APPLY_MAX_ITEMS);
  for (let i = 0; i < parts.length; i++) {
    const last = i === parts.length - 1;
    const next: Item = { ...current.item, ...(last ? { sync: upto } : { pending: upto }) };
    if (last) delete next.pending;
    const sealed = seal(next);
    await engine.store.transact([
      ...parts[i]!,
      {
        kind: "put",
        item: sealed,
        condition: { op: "eq", attr: "sync", value: String(current.item.sync) },
      },
    ]);
    transactions++;
    current = { ...current, item: sealed };
  }
  await copied.release(); // the applied versions reference the chunks now
  return {
    state: current,
    records: full.records.length,
    differing: ops.length,
    transactions,
    chunksCopied: copied.copied,
    bytesCopied: copied.bytes,
  };
}
