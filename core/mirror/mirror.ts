/**
 * Mirrors: read-only PFSs that apply a source's stream (docs/mirroring.md).
 *
 *   createMirror  registry item (attribute `mirror` = source label, the source's root ino and
 *                 created TID, no epoch shards) + state item `mirror#<id>/state` (`sync` = 0,
 *                 source, volumes) + the root's `ctl` — one transaction.
 *   runMirror     pages of the stream from `sync` → chunks onto the mirror's volumes → applyPage.
 *                 Resumes from the stored `sync` after any failure. When the source no longer has
 *                 the history after `sync` (EPRUNED) it falls back to a full-state comparison.
 *   promoteMirror HAMMER's pfs-upgrade: the mirror becomes a writable master at its sync TID
 *                 (its epoch shards are created closed at it); optionally the former master is
 *                 fenced first and the mirror caught up to its very last commit, then the former
 *                 master becomes a mirror of the new one (demote) or stays read-only (retire).
 *   fenceMaster   HAMMER's pfs-downgrade: a master stops accepting commits (its epoch shards are
 *                 deleted, so every commit's shard check fails and the writer sees EROFS) and
 *                 becomes a read-only mirror whose sync TID is its last commit.
 */
import { isStrataError, strataError } from "../errors.ts";
import type { Item, TransactOp } from "../metadata/port.ts";
import type { Namespace, Tid } from "../namespace/api.ts";
import type { NamespaceKernel as Engine } from "../namespace/kernel.ts";
import {
  changePk,
  ctlKey,
  epochKey,
  mirrorKey,
  REGISTRY_PK,
  registryKey,
  seal,
  verify,
} from "../namespace/records.ts";
import { isTid, maxTid, ZERO_TID } from "../namespace/tid.ts";
import type { PfsContext } from "../namespace/tx.ts";
import { type ApplyStats, applyPage, type MirrorState } from "./apply.ts";
import { ensureChunks, recordChunks } from "./chunks.ts";
import { fullResync } from "./full.ts";
import type { MirrorTarget, StreamSource } from "./port.ts";
import { engineOf } from "./stream.ts";

export interface MirrorStatus {
  name: string;
  /** The mirror PFS's id on its deployment. */
  id: string;
  role: "mirror" | "promoted" | "retired";
  /** Label of the source (`local:<pfs>`, an URL, `bundle:<…>`). */
  source: string;
  /** Everything with a TID ≤ sync is applied; reads of the mirror stop here. */
  sync: Tid;
  syncTime: Date;
  /** A commit applied in parts whose last part has not landed (a run was interrupted). */
  pending?: Tid;
  /** Volumes the mirror's chunks are copied to. */
  volumes: string[];
}

export interface MirrorRunReport {
  name: string;
  source: string;
  /** incremental: O(changes since `from`); full: the source had pruned past `from`, so every retained record was compared. */
  mode: "incremental" | "full";
  from: Tid;
  to: Tid;
  pages: number;
  commits: number;
  records: number;
  transactions: number;
  chunksCopied: number;
  bytesCopied: number;
  /** Full mode: records that differed or were missing on the mirror. */
  differing?: number;
}

export interface RunOptions {
  /** Stop at this TID (default: the source's closed TID at the start of the run). */
  upto?: Tid;
  /** Commits per page (default 1,000). */
  limit?: number;
  /** Stop after this many pages (a time box; the next run resumes). */
  maxPages?: number;
  /**
   * No new page starts once `target.clock()` reaches this time (ms; a time box — the next run
   * resumes from `sync`). The first page always runs, and a full comparison is one step.
   */
  deadline?: number;
  /** Items per apply transaction (default and maximum 99; tests lower it). */
  maxItems?: number;
}

function statusOf(name: string, id: string, item: Item): MirrorStatus {
  const sync = String(item.sync);
  return {
    name,
    id,
    role: (item.role as MirrorStatus["role"]) ?? "mirror",
    source: String(item.source),
    sync,
    syncTime: new Date(Number.parseInt(sync.slice(0, 12), 16)),
    ...(isTid(item.pending) ? { pending: item.pending } : {}),
    volumes: Array.isArray(item.volumes) ? item.volumes.map(String) : [],
  };
}

async function mirrorContext(engine: Engine, name: string): Promise<{ ctx: PfsContext; state: MirrorState }> {
  engine.forget(name);
  const ctx = await engine.context(name);
  const item = verify(await engine.store.get(mirrorKey(ctx.id)), name);
  if (!ctx.mirror || !item)
    throw strataError("EINVAL", `PFS ${name} is not a mirror; create one with createMirror`, { pfs: name });
  return { ctx, state: { id: ctx.id, shards: ctx.shards, item } };
}

/** Create the mirror PFS `name` of `source` on the target (nothing applied yet: run it). */
export async function createMirror(
  target: MirrorTarget,
  params: { name: string; source: StreamSource; volumes: string[] },
): Promise<MirrorStatus> {
  const engine = engineOf(target.ns);
  if (!Array.isArray(params.volumes) || params.volumes.length === 0)
    throw strataError("EINVAL", "a mirror needs at least one volume of its own for its chunks", {
      pfs: params.name,
    });
  for (const v of params.volumes)
    if (!(await target.volumes.lookup(v)))
      throw strataError("EINVAL", `volume ${v} is not configured on the mirror's deployment`, { volume: v });
  await engine.context(params.name).then(
    () => {
      throw strataError("EEXIST", `PFS ${params.name} already exists`, { pfs: params.name });
    },
    (err) => {
      if (!isStrataError(err, "ENOENT")) throw err;
    },
  );
  const info = await params.source.info();
  const id = await engine.allocId();
  const state = seal({
    ...mirrorKey(id),
    name: params.name,
    source: params.source.label,
    sourcePfs: info.pfs,
    sourceId: info.id,
    sync: ZERO_TID,
    volumes: params.volumes,
    role: "mirror",
  });
  try {
    await engine.store.transact([
      {
        kind: "put",
        item: seal({
          ...registryKey(params.name),
          id,
          root: info.rootIno,
          ctid: info.createdTid,
          shards: engine.opts.epochShards,
          mirror: params.source.label,
        }),
        condition: { op: "notExists" },
      },
      { kind: "put", item: state, condition: { op: "notExists" } },
      { kind: "put", item: seal({ ...ctlKey(id, info.rootIno), parent: "", name: "" }) },
    ]);
  } catch (err) {
    if (isStrataError(err, "ECONFLICT"))
      throw strataError("EEXIST", `PFS ${params.name} already exists`, { pfs: params.name });
    throw err;
  }
  return statusOf(params.name, id, state);
}

/** Status of one mirror, or of every mirror (and former mirror) on the target. */
export async function mirrorStatus(target: MirrorTarget, name?: string): Promise<MirrorStatus[]> {
  const engine = engineOf(target.ns);
  const names: Array<{ name: string; id: string }> = [];
  if (name !== undefined) {
    const ctx = await engine.context(name);
    names.push({ name, id: ctx.id });
  } else {
    let cursor: string | undefined;
    do {
      const page = await engine.store.query(REGISTRY_PK, cursor ? { cursor } : {});
      for (const item of page.items) names.push({ name: item.sk, id: String(item.id) });
      cursor = page.cursor;
    } while (cursor);
  }
  const states = await engine.store.batchGet(names.map((n) => mirrorKey(n.id)));
  const out: MirrorStatus[] = [];
  states.forEach((item, i) => {
    if (item) out.push(statusOf(names[i]!.name, names[i]!.id, verify(item)));
  });
  if (name !== undefined && out.length === 0)
    throw strataError("EINVAL", `PFS ${name} is not a mirror`, { pfs: name });
  return out;
}

/** Apply the source's stream from the mirror's sync TID (see the module header). */
export async function runMirror(
  target: MirrorTarget,
  name: string,
  source: StreamSource,
  options: RunOptions = {},
): Promise<MirrorRunReport> {
  const engine = engineOf(target.ns);
  const { ctx, state } = await mirrorContext(engine, name);
  const clock = target.clock ?? Date.now;
  const from = String(state.item.sync);
  const report: MirrorRunReport = {
    name,
    source: source.label,
    mode: "incremental",
    from,
    to: from,
    pages: 0,
    commits: 0,
    records: 0,
    transactions: 0,
    chunksCopied: 0,
    bytesCopied: 0,
  };
  const chunkTarget = {
    store: engine.store,
    volumes: target.volumes,
    pfs: name,
    ...(target.sleep ? { sleep: target.sleep } : {}),
    place: (state.item.volumes as string[]).map(String),
    clock,
  };
  const stats: ApplyStats = { commits: 0, records: 0, transactions: 0 };
  let current = state;
  let token: string | undefined;
  try {
    do {
      const page = await source.read(
        token
          ? { token, ...(options.limit ? { limit: options.limit } : {}) }
          : {
              since: String(current.item.sync),
              ...(options.upto ? { upto: options.upto } : {}),
              ...(options.limit ? { limit: options.limit } : {}),
            },
      );
      if (report.pages === 0 && page.source.rootIno !== ctx.root)
        throw strataError(
          "EINVAL",
          `source ${source.label} is PFS ${page.source.pfs} (root ${page.source.rootIno}), not the one mirror ${name} follows (root ${ctx.root})`,
          { pfs: name, source: source.label },
        );
      const refs = recordChunks(page.records);
      const copied = await ensureChunks(chunkTarget, refs, (ref) => source.chunk(ref));
      report.chunksCopied += copied.copied;
      report.bytesCopied += copied.bytes;
      current = await applyPage(
        (ops) => engine.store.transact(ops),
        current,
        page,
        source.label,
        stats,
        options.maxItems,
      );
      await copied.release(); // the applied versions reference the chunks now
      report.pages++;
      token = page.next;
    } while (
      token &&
      (options.maxPages === undefined || report.pages < options.maxPages) &&
      (options.deadline === undefined || clock() < options.deadline)
    );
  } catch (err) {
    if (!isStrataError(err, "EPRUNED")) throw err;
    const full = await fullResync(target, ctx, current, source, chunkTarget);
    current = full.state;
    report.mode = "full";
    report.differing = full.differing;
    report.records += full.records;
    report.chunksCopied += full.chunksCopied;
    report.bytesCopied += full.bytesCopied;
    stats.transactions += full.transactions;
  }
  report.commits = stats.commits;
  report.records += stats.records;
  report.transactions = stats.transactions;
  report.to = String(current.item.sync);
  return report;
}

/**
 * HAMMER's pfs-downgrade: stop `pfs` accepting commits and make it a read-only mirror (of
 * `source`, a label) or retire it. Returns its final TID: every commit it ever acknowledged is
 * at or below it. Cost: 1 BatchGetItem + 1 TransactWriteItems + S Queries + 1 PutItem.
 */
export async function fenceMaster(
  ns: Namespace,
  pfs: string,
  options: { role: "mirror" | "retired"; source?: string; volumes?: string[] },
): Promise<Tid> {
  const engine = engineOf(ns);
  engine.forget(pfs);
  const ctx = await engine.context(pfs);
  if (ctx.mirror) throw strataError("EINVAL", `PFS ${pfs} is already read-only`, { pfs });
  const keys = Array.from({ length: ctx.shards }, (_, s) => epochKey(ctx.id, s));
  const shards = await engine.store.batchGet(keys);
  let closed = ZERO_TID;
  const ops: TransactOp[] = [];
  shards.forEach((item, s) => {
    if (!item) return;
    closed = maxTid(closed, String(item.closed));
    ops.push({
      kind: "delete",
      key: keys[s]!,
      condition: { op: "eq", attr: "closed", value: String(item.closed) },
    });
  });
  const reg = verify(await engine.store.get(registryKey(pfs)), pfs);
  if (!reg || reg.id !== ctx.id) throw strataError("ENOENT", `PFS ${pfs} does not exist`, { pfs });
  const label = options.source ?? "retired";
  const stateItem = (sync: Tid) =>
    seal({
      ...mirrorKey(ctx.id),
      name: pfs,
      source: label,
      sync,
      volumes: options.volumes ?? [],
      role: options.role,
    });
  ops.push(
    {
      kind: "put",
      item: seal({ ...reg, mirror: label }),
      condition: {
        op: "and",
        of: [
          { op: "eq", attr: "id", value: ctx.id },
          { op: "attrNotExists", attr: "mirror" },
        ],
      },
    },
    { kind: "put", item: stateItem(closed) },
  );
  await engine.store.transact(ops);
  // Commits that landed before the fence may sit above the closed TID: the change index knows them.
  let last = closed;
  for (let s = 0; s < ctx.shards; s++) {
    const page = await engine.store.query(changePk(ctx.id, s), { reverse: true, limit: 1 });
    const tid = page.items[0]?.tid;
    if (isTid(tid)) last = maxTid(last, tid);
  }
  if (last > closed) await engine.store.put(stateItem(last));
  engine.forget(pfs);
  return last;
}

export interface PromoteOptions {
  /**
   * The current master, when reachable: it is fenced first, the mirror caught up to its last
   * commit through `source`, and it then becomes a mirror of the promoted PFS (`demote`, with
   * `newSource` as its source label) or stays read-only (`retire`).
   */
  former?: { ns: Namespace; pfs: string; becomes: "demote" | "retire"; newSource?: string };
  source?: StreamSource;
}

/** HAMMER's pfs-upgrade: the mirror becomes a writable master at its sync TID. */
export async function promoteMirror(
  target: MirrorTarget,
  name: string,
  options: PromoteOptions = {},
): Promise<{ name: string; tid: Tid; formerFinalTid?: Tid }> {
  const engine = engineOf(target.ns);
  let formerFinalTid: Tid | undefined;
  if (options.former) {
    if (!options.source)
      throw strataError("EINVAL", "promoting with the former master needs its stream source to catch up", {
        pfs: name,
      });
    const f = options.former;
    formerFinalTid = await fenceMaster(f.ns, f.pfs, {
      role: f.becomes === "demote" ? "mirror" : "retired",
      source: f.becomes === "demote" ? (f.newSource ?? `mirror-of:${name}`) : "retired",
    });
    await runMirror(target, name, options.source, { upto: formerFinalTid });
  }
  const { ctx, state } = await mirrorContext(engine, name);
  if (isTid(state.item.pending))
    throw strataError(
      "ECONFLICT",
      `mirror ${name} is in the middle of applying commit ${state.item.pending}; run it again before promoting`,
      { pfs: name, pending: state.item.pending },
    );
  const sync = String(state.item.sync);
  if (formerFinalTid !== undefined && sync < formerFinalTid)
    throw strataError("EIO", `mirror ${name} could not catch up to ${formerFinalTid} (at ${sync})`, {
      pfs: name,
    });
  const reg = verify(await engine.store.get(registryKey(name)), name)!;
  const { mirror: _mirror, crc: _crc, ...plain } = reg;
  const ops: TransactOp[] = [
    {
      kind: "put",
      item: seal(plain as Item),
      condition: {
        op: "and",
        of: [
          { op: "eq", attr: "id", value: ctx.id },
          { op: "attrExists", attr: "mirror" },
        ],
      },
    },
    {
      kind: "put",
      item: seal({ ...state.item, role: "promoted" }),
      condition: { op: "eq", attr: "sync", value: sync },
    },
  ];
  for (let s = 0; s < ctx.shards; s++)
    ops.push({ kind: "put", item: { ...epochKey(ctx.id, s), closed: sync } });
  await engine.store.transact(ops);
  engine.forget(name);
  engine.hlc.observe(sync);
  return { name, tid: sync, ...(formerFinalTid !== undefined ? { formerFinalTid } : {}) };
}
