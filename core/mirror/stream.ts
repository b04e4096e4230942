/**
 * The queueless mirroring stream (HAMMER's mirror-read): the history records of a PFS with TID in
 * (since, upto], read from the change index — `chg#<pfs>#<shard>`, one item per commit naming
 * every key it wrote — merged across shards in TID order. Nothing is consumed: any number of
 * readers read from any TID at any time. `upto` is clamped to the PFS's closed TID (closing it
 * first, docs/namespace.md rule 2), so a page is final: no commit at or below its `upto` can
 * appear later.
 *
 * Cost of one page: 1 GetItem (the retention watermark) + S Queries (one per change-index shard;
 * S = the PFS's epoch shards, 8 by default) + ⌈distinct history keys / 100⌉ BatchGetItem, plus the
 * close of `upto` on the first page (0–3 requests). A no-op resync is one page of S empty Queries.
 * A `since` below the retention watermark's `exactFrom` is EPRUNED (vacuum may have removed
 * records and change-index items there): the mirror falls back to a full-state comparison.
 */
import { strataError } from "../errors.ts";
import type { Item, Key } from "../metadata/port.ts";
import { itemSize, keyId } from "../metadata/values.ts";
import type { Namespace, Tid } from "../namespace/api.ts";
import { kernelOf, type NamespaceKernel } from "../namespace/kernel.ts";
import { changePk, verify } from "../namespace/records.ts";
import { isTid, ZERO_TID } from "../namespace/tid.ts";
import type { PfsContext } from "../namespace/tx.ts";
import { readWatermark } from "../retention/store.ts";
import {
  decodeToken,
  encodeToken,
  makeRecord,
  type SourceInfo,
  STREAM_FORMAT,
  type StreamPage,
  type StreamRecord,
  type StreamRequest,
  stateAt,
  streamedPk,
} from "./format.ts";

/** Commits per page (the `limit` default) and the bytes of records a page stops after. */
export const STREAM_DEFAULTS = { pageCommits: 1000, pageBytes: 4 * 1024 * 1024 } as const;

/** The engine behind a Namespace from createNamespace (the stream reads its store and closes TIDs). */
export function engineOf(ns: Namespace): NamespaceKernel {
  const kernel = kernelOf(ns);
  if (!kernel)
    throw strataError("EINVAL", "mirroring needs a namespace made by createNamespace (core/namespace)");
  return kernel;
}

/** The source's identity and the highest TID a stream may reach now (closing it). */
export async function sourceInfo(ns: Namespace, pfs: string): Promise<SourceInfo> {
  const engine = engineOf(ns);
  const ctx = await engine.context(pfs);
  return infoOf(ctx, await engine.currentTid(ctx));
}

function infoOf(ctx: PfsContext, closed: Tid): SourceInfo {
  return { pfs: ctx.name, id: ctx.id, rootIno: ctx.root, createdTid: ctx.createdTid, closed };
}

interface ChangeItem {
  tid: Tid;
  sk: string;
  keys: Key[];
}

/** Keys sort by `<tid>#<8 hex>`, all the same length: `<tid>#g` sorts after every key of that TID. */
const afterTid = (tid: Tid) => `${tid}#g`;

/** One page of the stream. See the module header for semantics and cost. */
export async function readStream(
  ns: Namespace,
  pfs: string,
  request: StreamRequest = {},
): Promise<StreamPage> {
  const engine = engineOf(ns);
  const ctx = await engine.context(pfs);
  let since: Tid;
  let end: Tid;
  if (request.token !== undefined) {
    ({ since, end } = decodeToken(request.token));
  } else {
    since = request.since ?? ZERO_TID;
    if (!isTid(since)) throw strataError("EINVAL", `since ${String(since)} is not a TID`, { pfs });
    if (request.upto !== undefined && !isTid(request.upto))
      throw strataError("EINVAL", `upto ${String(request.upto)} is not a TID`, { pfs });
    end = request.upto === undefined ? await engine.currentTid(ctx) : await engine.readTid(ctx, request.upto);
  }
  const limit = request.limit ?? STREAM_DEFAULTS.pageCommits;
  if (!Number.isInteger(limit) || limit < 1) throw strataError("EINVAL", "limit must be a positive integer");
  const source = infoOf(ctx, end);
  // Retention (core/retention): below the watermark's exactFrom vacuum may have removed records
  // and change-index items, so a stream from there would silently miss commits.
  const watermark = await readWatermark(engine.store, ctx.id);
  if (watermark && since < watermark.exactFrom && since < end)
    throw strataError(
      "EPRUNED",
      `the history of PFS ${pfs} after ${since} was pruned by retention (complete from ${watermark.exactFrom}); resync with a full-state comparison`,
      { pfs, since, exactFrom: watermark.exactFrom },
    );
  if (since >= end)
    return { format: STREAM_FORMAT, source, since, upto: since > end ? since : end, records: [], commits: 0 };

  const merged = await mergeShards(engine, ctx, since, end, limit);
  let { changes, upto } = merged;
  let records = await recordsOf(engine, ctx, changes);
  // At most ~pageBytes of records (an HTTP reply, a Lambda's 6 MB): cut between TIDs, never
  // inside one; the first TID always goes whole.
  let bytes = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    bytes += itemSize({ pk: r.pk, sk: r.sk, ...r.item });
    if (bytes <= (request.pageBytes ?? STREAM_DEFAULTS.pageBytes)) continue;
    let start = i;
    while (start > 0 && records[start - 1]!.tid === r.tid) start--;
    if (start > 0) {
      upto = records[start - 1]!.tid;
      records = records.slice(0, start);
      changes = changes.filter((c) => c.tid <= upto);
    }
    break;
  }
  return {
    format: STREAM_FORMAT,
    source,
    since,
    upto,
    records,
    commits: changes.length,
    ...(upto < end ? { next: encodeToken(upto, end) } : {}),
  };
}

/**
 * Read each shard's change items in (since, end] (`perShard` per Query) and keep those up to the
 * highest TID every shard has been read past: a shard with more to read bounds the page at its
 * last TID read; shards whose last TID is that bound are read further until they pass it (equal
 * TIDs from different engines may sit in different shards).
 */
async function mergeShards(
  engine: NamespaceKernel,
  ctx: PfsContext,
  since: Tid,
  end: Tid,
  limit: number,
): Promise<{ changes: ChangeItem[]; upto: Tid }> {
  const perShard = Math.max(1, Math.ceil(limit / ctx.shards));
  const shards = Array.from({ length: ctx.shards }, (_, s) => ({
    pk: changePk(ctx.id, s),
    items: [] as ChangeItem[],
    cursor: undefined as string | undefined,
    done: false,
  }));
  const fetch = async (shard: (typeof shards)[number]) => {
    const page = await engine.store.query(shard.pk, {
      sk: { op: "between", low: afterTid(since), high: afterTid(end) },
      limit: perShard,
      ...(shard.cursor ? { cursor: shard.cursor } : {}),
    });
    for (const raw of page.items) {
      const item = verify(raw, ctx.name);
      const keys = Array.isArray(item.keys) ? item.keys : [];
      shard.items.push({
        tid: String(item.tid),
        sk: item.sk,
        keys: keys.map((k) => {
          const [pk, sk] = k as [string, string];
          return { pk, sk };
        }),
      });
    }
    shard.cursor = page.cursor;
    shard.done = !page.cursor || page.items.length === 0;
  };
  await Promise.all(shards.map(fetch));
  const lastTid = (s: (typeof shards)[number]) => s.items[s.items.length - 1]?.tid ?? since;
  let upto = end;
  for (const s of shards) if (!s.done && lastTid(s) < upto) upto = lastTid(s);
  for (const s of shards) while (!s.done && lastTid(s) <= upto) await fetch(s);
  let changes = shards
    .flatMap((s) => s.items.filter((c) => c.tid <= upto))
    .sort((a, b) => (a.tid < b.tid ? -1 : a.tid > b.tid ? 1 : a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0));
  // At most `limit` commits (more only when several share the last TID: a page ends between TIDs).
  if (changes.length > limit) {
    const cut = changes[limit - 1]!.tid;
    changes = changes.filter((c) => c.tid <= cut);
    upto = cut;
  }
  return { changes, upto };
}

/** The history records each commit wrote, each in its state as of that commit (one BatchGet per 100 keys). */
async function recordsOf(
  engine: NamespaceKernel,
  ctx: PfsContext,
  changes: ChangeItem[],
): Promise<StreamRecord[]> {
  const wanted = new Map<string, Key>();
  for (const c of changes)
    for (const k of c.keys) if (streamedPk(k.pk, k.sk, ctx.id) !== undefined) wanted.set(keyId(k), k);
  const keys = [...wanted.values()];
  const items = new Map<string, Item>();
  const got = await engine.store.batchGet(keys);
  got.forEach((item, i) => {
    if (item) items.set(keyId(keys[i]!), verify(item, ctx.name));
  });
  const out: StreamRecord[] = [];
  for (const c of changes)
    for (const k of c.keys) {
      const rel = streamedPk(k.pk, k.sk, ctx.id);
      if (rel === undefined) continue;
      const item = items.get(keyId(k));
      if (!item)
        throw strataError(
          "EPRUNED",
          `history record ${k.pk} / ${k.sk} of commit ${c.tid} in PFS ${ctx.name} is gone (pruned); resync with a full-state comparison`,
          { pfs: ctx.name, tid: c.tid, pk: k.pk, sk: k.sk },
        );
      const attrs = stateAt(item, c.tid);
      if (!attrs)
        throw strataError(
          "EPRUNED",
          `history record ${k.pk} / ${k.sk} no longer has the state commit ${c.tid} gave it (rewritten by retention); resync with a full-state comparison`,
          { pfs: ctx.name, tid: c.tid, pk: k.pk, sk: k.sk },
        );
      out.push(makeRecord(c.tid, rel, k.sk, attrs));
    }
  return out;
}
