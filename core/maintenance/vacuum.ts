/**
 * Vacuum: remove history records that no retained point can see, then garbage-collect chunks that
 * no remaining record and no live intent references. Design and safety rules: docs/maintenance.md.
 *
 *   1. cutoff      per PFS a closed TID (`currentTid`), and the time — taken before anything else
 *   2. intents     every PFS's intents and the deployment-wide ones read once (live ones protect
 *                  their chunks; expired ones make their chunks candidates)
 *   3. index       per PFS the change index from the stored cursor up to the cutoff: new versions
 *                  add chunk references (`cref#<sha>` / `<pfs>#<ino>`), ended records are queued
 *                  (`vq#<pfs>` by dtid). Cost ∝ commits since the last run.
 *   4. retention   per PFS with a policy: the next watermark is written BEFORE any deletion, then
 *                  vacuum waits `readerGraceMs` (readers cache the watermark ≤ 5 s); queued
 *                  records no complete point or snapshot sees are deleted (condition: unchanged).
 *                  Chunks a pruned version referenced lose that inode's cref when no remaining
 *                  version of the inode references them → `gcq` candidates.
 *   5. chunk GC    per candidate: no cref, no live intent → its instances are marked `deleting`
 *                  (a lease the data plane's writers wait out) → re-check: fresh intents of every
 *                  PFS, every commit after the cursors, crefs → still unreferenced: per instance
 *                  the object is deleted, then its record (condition: our mark).
 *
 * Any read or listing error aborts the run before anything more is deleted (the report says
 * `aborted`). Dry run by default: it reports what `apply` would delete (the index bookkeeping of
 * step 3 is written in both modes; it deletes nothing).
 */

import { groupsOf } from "../batches.ts";
import {
  chunkObjectKey,
  chunkPk,
  chunkRefsOf,
  decodeInstance,
  decodeIntent,
  instanceKey,
  intentPk,
} from "../data/chunk-items.ts";
import { deletedRecordCondition, deleteMarkedObject, intentPartitions } from "../data/chunks.ts";
import { decodeSession, stagedObjects } from "../data/uploads.ts";
import { isStrataError, strataError } from "../errors.ts";
import type { Item, Key, MetadataStore, TransactOp } from "../metadata/port.ts";
import type { Namespace, Tid } from "../namespace/api.ts";
import { changePk, inoPk, REGISTRY_PK, snapshotPk, VERSION_PREFIX, verify } from "../namespace/records.ts";
import { invertTid, nextTid, tidMs } from "../namespace/tid.ts";
import { liveLeases } from "../retention/lease.ts";
import { nextWatermark, visibleAtAny, type Watermark } from "../retention/policy.ts";
import { RETENTION_CACHE_MS, readPolicy, readWatermark, writeWatermark } from "../retention/store.ts";
import type { VolumeRegistry } from "../volume/registry.ts";
import type { Volume } from "../volume/volume.ts";
import {
  crefKey,
  crefPk,
  GCQ_PK,
  gcqKey,
  queryAll,
  queryPages,
  queuePk,
  refCheckPk,
  TimeBox,
  vacuumStateKey,
} from "./common.ts";

export interface VacuumParams {
  store: MetadataStore;
  /** Closes the cutoff TID of each PFS (`pfs(name).currentTid()`). */
  namespace: Namespace;
  /**
   * THE volume registry (by the names instance records use; objects are deleted there), asked at
   * each step, so a volume added while the run goes on is collected and a removed one is left alone.
   */
  volumes: VolumeRegistry;
  /** Delete for real (default false: a dry run that reports what would go). */
  apply?: boolean;
  /** Stop starting new work after this long (default 10 minutes); the next run resumes. */
  timeBudgetMs?: number;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Every deletion (and, in a dry run, every would-be deletion), as it happens. */
  log?: (entry: VacuumLogEntry) => void;
  /** Wait between advancing a watermark and the first deletion (default 2 × the readers' 5 s cache). */
  readerGraceMs?: number;
  /** How long a chunk instance stays marked `deleting` (default 2 minutes). */
  deleteLeaseMs?: number;
  /** Assumed bound on clock skew between vacuum and writers (default 1 minute). */
  clockSkewMs?: number;
}

export type VacuumLogEntry =
  | {
      action: "record";
      pfs: string;
      kind: QueueKind;
      pk: string;
      sk: string;
      ctid: Tid;
      dtid: Tid;
      applied: boolean;
    }
  | { action: "chunk"; chunk: string; volume: string; bytes: number; applied: boolean }
  | { action: "intent"; pfs: string; id: string; applied: boolean }
  | { action: "staged"; volume: string; key: string; applied: boolean };

export interface VacuumReport {
  apply: boolean;
  /** Cutoff time (ISO) and per-PFS cutoff TIDs, taken before anything was marked. */
  cutoff: { time: string; tids: Record<string, Tid> };
  records: { count: number; byKind: Record<QueueKind, number> };
  chunks: { count: number; instances: number; bytes: number };
  intents: number;
  /** Staging objects of expired HTTP upload sessions deleted (or, dry, to delete). */
  staged: number;
  /** Chunks that were candidates but turned out referenced at the re-check. */
  rechecked: { kept: number };
  /** False when the time budget ran out (or the run aborted) before every step finished. */
  complete: boolean;
  /** Set when a read/listing/write error stopped the run; nothing was deleted after it. */
  aborted?: { code: string; message: string };
}

type QueueKind = "version" | "history" | "tombstone";

interface PfsRow {
  name: string;
  id: string;
  ctid: Tid;
  /** Change-index shards (= the epoch shards it was created with). */
  shards: number;
}

function pfsRow(item: Item): PfsRow {
  verify(item);
  return { name: item.sk, id: String(item.id), ctid: String(item.ctid), shards: Number(item.shards) };
}

const MIN = 60_000;

/**
 * Run vacuum once (see the module comment). Bad options are EINVAL before anything is read; a run
 * that fails does not throw a StrataError — its report says `aborted`.
 */
export async function vacuum(params: VacuumParams): Promise<VacuumReport> {
  const run = new VacuumRun(params);
  try {
    await run.run();
  } catch (err) {
    if (!isStrataError(err)) throw err;
    run.report.aborted = { code: err.code, message: err.message };
    run.report.complete = false;
  }
  return run.report;
}

class VacuumRun {
  readonly store: MetadataStore;
  readonly apply: boolean;
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly box: TimeBox;
  readonly graceMs: number;
  readonly leaseMs: number;
  /** The lowest live floor lease per PFS id (range readers), read with the snapshots. */
  private readonly floors = new Map<string, Tid>();
  readonly skewMs: number;
  readonly report: VacuumReport;
  /** The cutoff time (ms): taken first, before any marking. */
  private now = 0;
  private pfss: PfsRow[] = [];
  /** Chunks named by live intents at the start of the run. */
  private liveIntentChunks = new Set<string>();
  private expiredIntents: Array<{
    pfs: string;
    id: string;
    chunks: string[];
    volumes: string[];
    expiresAt: number;
    /** An HTTP upload session's staging objects (core/data/uploads.ts), deleted with the intent. */
    staged: Array<{ volume: string; key: string }>;
  }> = [];
  /** Volumes expired intents uploaded each chunk to. */
  private readonly intentVolumes = new Map<string, Set<string>>();
  /** Dry run: crefs this run would have removed (`<sha>|<pfs>#<ino>`). */
  private readonly removedRefs = new Set<string>();
  /** Records this run deleted (or, dry, would delete): `<pk>|<sk>`. */
  private readonly prunedKeys = new Set<string>();
  /** Candidates found this run (apply also persists them in gcq). */
  private readonly candidates = new Set<string>();
  private cursors = new Map<string, Record<string, string>>();

  constructor(private readonly p: VacuumParams) {
    this.store = p.store;
    this.apply = p.apply === true;
    this.clock = p.clock ?? Date.now;
    this.sleep = p.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    const budget = p.timeBudgetMs ?? 10 * MIN;
    if (!(budget > 0))
      throw strataError("EINVAL", "vacuum: timeBudgetMs must be positive", { timeBudgetMs: budget });
    this.box = new TimeBox(this.clock, budget);
    this.graceMs = p.readerGraceMs ?? 2 * RETENTION_CACHE_MS;
    this.leaseMs = p.deleteLeaseMs ?? 2 * MIN;
    this.skewMs = p.clockSkewMs ?? MIN;
    if (this.leaseMs <= this.skewMs)
      throw strataError("EINVAL", "vacuum: deleteLeaseMs must exceed clockSkewMs", {
        deleteLeaseMs: this.leaseMs,
        clockSkewMs: this.skewMs,
      });
    this.report = {
      apply: this.apply,
      cutoff: { time: "", tids: {} },
      records: { count: 0, byKind: { version: 0, history: 0, tombstone: 0 } },
      chunks: { count: 0, instances: 0, bytes: 0 },
      intents: 0,
      staged: 0,
      rechecked: { kept: 0 },
      complete: false,
    };
  }

  private log(entry: VacuumLogEntry): void {
    this.p.log?.(entry);
  }

  async run(): Promise<void> {
    // 1. Cutoff: TIDs closed and the time taken before anything is marked.
    this.pfss = (await queryAll(this.store, REGISTRY_PK)).map(pfsRow);
    for (const pfs of [...this.pfss]) {
      try {
        this.report.cutoff.tids[pfs.name] = await this.p.namespace.pfs(pfs.name).currentTid();
      } catch (err) {
        if (!isStrataError(err, "ENOENT")) throw err;
        this.pfss.splice(this.pfss.indexOf(pfs), 1); // deleted meanwhile: nothing to vacuum there
      }
    }
    this.now = this.clock();
    this.report.cutoff.time = new Date(this.now).toISOString();

    // 2. Intents of every PFS, read once before marking.
    for (const pfs of intentPartitions(this.pfss.map((p) => p.name)))
      for (const item of await queryAll(this.store, intentPk(pfs))) {
        const intent = decodeIntent(item);
        if (liveUntil(item) + this.skewMs > this.now)
          for (const c of intent.chunks) this.liveIntentChunks.add(c);
        else
          this.expiredIntents.push({
            pfs,
            id: intent.id,
            chunks: intent.chunks,
            volumes: intent.volumes,
            expiresAt: intent.expiresAt,
            staged: stagedObjects(item),
          });
      }

    // 3. Index every PFS up to its cutoff (chunk GC needs every reference of every PFS).
    for (const pfs of this.pfss) {
      if (!(await this.index(pfs, this.report.cutoff.tids[pfs.name]!))) return;
    }

    // 4. Retention: every watermark advanced first, one grace wait, then the deletions.
    const plans: Array<{ pfs: PfsRow; w: Watermark }> = [];
    let advanced = false;
    for (const pfs of this.pfss) {
      const plan = await this.watermark(pfs);
      if (plan) plans.push({ pfs, w: plan.w });
      advanced ||= plan?.advanced === true;
    }
    // Readers may hold the previous watermark for ≤ 5 s: let them finish before deleting.
    if (advanced) {
      await this.sleep(this.graceMs);
      this.box.extend(this.graceMs);
    }
    // Each step does at least one page or batch before it looks at the time box: a short budget
    // still makes progress, and the next run resumes from what is stored.
    for (const { pfs, w } of plans) if (!(await this.prune(pfs, w))) return;

    // 5. Chunk GC.
    if (!(await this.collect())) return;
    this.report.complete = true;
  }

  private async loadCursors(pfs: PfsRow): Promise<Record<string, string>> {
    const cached = this.cursors.get(pfs.id);
    if (cached) return cached;
    const item = await this.store.get(vacuumStateKey(pfs.id));
    const cursors = { ...((item?.cursors as Record<string, string> | undefined) ?? {}) };
    this.cursors.set(pfs.id, cursors);
    return cursors;
  }

  /** Index commits (cursor, cutoff] of every shard; false when the time box ran out. */
  private async index(pfs: PfsRow, cutoff: Tid): Promise<boolean> {
    const cursors = await this.loadCursors(pfs);
    for (let s = 0; s < pfs.shards; s++) {
      const low = cursors[s] ?? "";
      const high = `${cutoff}#g`;
      if (low >= high) continue;
      for await (const page of queryPages(this.store, changePk(pfs.id, s), {
        sk: low === "" ? { op: "le", value: high } : { op: "between", low: `${low}\u0000`, high },
      })) {
        if (page.length === 0) continue;
        await this.indexCommits(pfs, page);
        cursors[s] = page[page.length - 1]!.sk;
        await this.store.put({ ...vacuumStateKey(pfs.id), cursors: { ...cursors } });
        if (this.box.over) return false;
      }
    }
    return true;
  }

  /** One page of change-index items: crefs for new versions, queue items for ended records. */
  private async indexCommits(pfs: PfsRow, commits: Item[]): Promise<void> {
    const newVersions: Key[] = [];
    const queued: Item[] = [];
    for (const commit of commits) {
      verify(commit, pfs.name);
      const { versions, ended } = classify(pfs.id, commit);
      newVersions.push(...versions);
      for (const e of ended)
        queued.push({
          pk: queuePk(pfs.id),
          sk: `${e.dtid}#${e.pk}#${e.sk}`,
          kind: e.kind,
          rpk: e.pk,
          rsk: e.sk,
          ctid: e.ctid,
          dtid: e.dtid,
        });
    }
    const refs = new Map<string, Item>();
    const items = newVersions.length > 0 ? await this.store.batchGet(newVersions) : [];
    items.forEach((item, i) => {
      if (!item) return; // gone already (e.g. deletePfs); nothing to reference
      verify(item, pfs.name);
      const ino = newVersions[i]!.pk.slice(`ino#${pfs.id}#`.length);
      for (const { chunk: sha } of chunkRefsOf(item)) {
        const key = crefKey(sha, pfs.id, ino);
        refs.set(`${key.pk}|${key.sk}`, { ...key, ctid: String(item.ctid) });
      }
    });
    await this.writeAll([...refs.values(), ...queued].map((item) => ({ kind: "put" as const, item })));
  }

  /** The watermark this run prunes by (written now when apply and it moved); undefined = keep all. */
  private async watermark(pfs: PfsRow): Promise<{ w: Watermark; advanced: boolean } | undefined> {
    const policy = await readPolicy(this.store, pfs.id);
    const prev = await readWatermark(this.store, pfs.id);
    const snaps = await this.snapshotTids(pfs);
    let next = nextWatermark(prev, policy, this.now, snaps, tidMs(pfs.ctid));
    if (!next) return undefined;
    // A range reader's floor lease: exactFrom stays at or below it (not below where it was).
    const floor = this.floors.get(pfs.id);
    if (floor !== undefined && next.exactFrom > floor) {
      const exactFrom = prev && prev.exactFrom > floor ? prev.exactFrom : floor;
      next = { ...next, exactFrom, points: next.points.filter((p) => p < exactFrom) };
    }
    if (prev && prev.exactFrom === next.exactFrom && prev.points.join() === next.points.join())
      return { w: prev, advanced: false };
    if (this.apply) await writeWatermark(this.store, pfs.id, prev, next);
    return { w: next, advanced: this.apply };
  }

  private async prune(pfs: PfsRow, w: Watermark): Promise<boolean> {
    // Snapshots read after the watermark moved and the grace passed: a snapshot created meanwhile
    // (at a point complete under the old watermark) pins too.
    const snaps = await this.snapshotTids(pfs);
    // Reference checks a previous run recorded but did not finish (it stopped or aborted).
    const touched = await this.pendingRefChecks(pfs); // ino → chunks of pruned versions
    await this.dropRefs(pfs, touched);
    // Only records ended at or before exactFrom can be invisible to every complete point.
    for await (const page of queryPages(this.store, queuePk(pfs.id), {
      sk: { op: "lt", value: nextTid(w.exactFrom) },
    })) {
      // A live floor lease (a range reader at `floor`): nothing that ended after it goes.
      const floor = this.floors.get(pfs.id);
      const due = page.filter(
        (q) =>
          !visibleAtAny(w, snaps, String(q.ctid), String(q.dtid)) &&
          !(floor !== undefined && String(q.dtid) > floor),
      );
      if (due.length > 0) await this.pruneRecords(pfs, due, touched);
      await this.dropRefs(pfs, touched);
      if (this.box.over) return false;
    }
    return true;
  }

  /** Apply: the `rchk#<pfs>` items (`<ino>#<sha>`) written before pruned versions were deleted. */
  private async pendingRefChecks(pfs: PfsRow): Promise<Map<string, Set<string>>> {
    const touched = new Map<string, Set<string>>();
    if (!this.apply) return touched;
    for (const item of await queryAll(this.store, refCheckPk(pfs.id))) {
      const [ino, sha] = item.sk.split("#") as [string, string];
      const set = touched.get(ino) ?? new Set<string>();
      set.add(sha);
      touched.set(ino, set);
    }
    return touched;
  }

  /**
   * Points that pin history like policy points: snapshots, and the TIDs of live leases of long
   * readers (core/retention/lease.ts). Read after the watermark was written (prune) so a lease
   * taken meanwhile is seen, or its holder sees the new watermark.
   */
  private async snapshotTids(pfs: PfsRow): Promise<Tid[]> {
    const snaps = (await queryAll(this.store, snapshotPk(pfs.id))).map((s) =>
      String(verify(s, pfs.name)!.tid),
    );
    // Liveness at the cutoff time: an earlier "now" only keeps more leases live.
    const leases = await liveLeases(this.store, pfs.id, this.now, this.skewMs, this.apply);
    if (leases.floor !== undefined) this.floors.set(pfs.id, leases.floor);
    else this.floors.delete(pfs.id);
    return [...snaps, ...leases.tids];
  }

  private async pruneRecords(pfs: PfsRow, due: Item[], touched: Map<string, Set<string>>): Promise<void> {
    for (const group of groupsOf(due)) {
      const records = await this.store.batchGet(group.map((q) => ({ pk: String(q.rpk), sk: String(q.rsk) })));
      // Re-check right before deleting: still the ended record the queue item describes.
      const victims = new Map<string, { q: Item; record: Item; key: Key; chunks: string[] }>();
      group.forEach((q, i) => {
        const record = records[i];
        if (!record || String(record.dtid) !== String(q.dtid)) return;
        verify(record, pfs.name);
        const key = { pk: String(q.rpk), sk: String(q.rsk) };
        const chunks = String(q.kind) === "version" ? chunkRefsOf(record).map((r) => r.chunk) : [];
        victims.set(`${key.pk}|${key.sk}`, { q, record, key, chunks });
      });
      const list = [...victims.values()];
      let deleted = list.map(() => !this.apply);
      if (this.apply) {
        // Before versions go: note which chunk references of their inodes to re-check, so a run
        // that stops after the deletions still drops them (else the chunks would leak).
        await this.writeAll(
          list.flatMap((v) =>
            v.chunks.map((sha) => ({
              kind: "put" as const,
              item: { pk: refCheckPk(pfs.id), sk: `${inoOf(pfs, v.key)}#${sha}` },
            })),
          ),
        );
        // Conditional: a record that changed meanwhile (a reused name's slot) stays.
        deleted = await this.conditionalAll(
          list.map((v) => ({
            kind: "delete" as const,
            key: v.key,
            condition: { op: "eq" as const, attr: "dtid", value: String(v.q.dtid) },
          })),
        );
      }
      list.forEach((v, i) => {
        if (!deleted[i]) return;
        const kind = String(v.q.kind) as QueueKind;
        this.prunedKeys.add(`${v.key.pk}|${v.key.sk}`);
        this.report.records.count++;
        this.report.records.byKind[kind]++;
        this.log({
          action: "record",
          pfs: pfs.name,
          kind,
          ...v.key,
          ctid: String(v.q.ctid),
          dtid: String(v.q.dtid),
          applied: this.apply,
        });
        if (v.chunks.length > 0) {
          const ino = inoOf(pfs, v.key);
          const set = touched.get(ino) ?? new Set<string>();
          for (const c of v.chunks) set.add(c);
          touched.set(ino, set);
        }
      });
      if (this.apply)
        await this.writeAll(group.map((q) => ({ kind: "delete" as const, key: { pk: q.pk, sk: q.sk } })));
    }
  }

  /** Remove crefs of pruned versions' chunks that no remaining version of the inode references. */
  private async dropRefs(pfs: PfsRow, touched: Map<string, Set<string>>): Promise<void> {
    const candidates: TransactOp[] = [];
    const drops: TransactOp[] = [];
    for (const [ino, chunks] of touched) {
      if (chunks.size === 0) continue;
      const remaining = new Set<string>();
      for (const v of await queryAll(this.store, inoPk(pfs.id, ino), {
        sk: { op: "beginsWith", value: VERSION_PREFIX },
      })) {
        if (this.prunedKeys.has(`${v.pk}|${v.sk}`)) continue; // dry run: would be gone
        verify(v, pfs.name);
        for (const { chunk: c } of chunkRefsOf(v)) remaining.add(c);
      }
      for (const sha of chunks) {
        const key = crefKey(sha, pfs.id, ino);
        if (!remaining.has(sha)) {
          candidates.push({ kind: "put", item: { ...gcqKey(sha), time: this.now } });
          drops.push({ kind: "delete", key });
          if (!this.apply) this.removedRefs.add(`${sha}|${key.sk}`);
          this.candidates.add(sha);
        }
        drops.push({ kind: "delete", key: { pk: refCheckPk(pfs.id), sk: `${ino}#${sha}` } });
      }
    }
    touched.clear();
    if (!this.apply) return;
    // Candidates first, then the references (and the notes): a crash in between only costs a check.
    await this.writeAll(candidates);
    await this.writeAll(drops);
  }

  /** Unconditional writes, ≤ 100 distinct items per transaction (one fsync each on SQLite). */
  private async writeAll(ops: TransactOp[]): Promise<void> {
    const unique = new Map<string, TransactOp>();
    for (const op of ops) {
      const k = op.kind === "put" ? op.item : op.key;
      unique.set(`${k.pk}|${k.sk}`, op);
    }
    const list = [...unique.values()];
    for (const group of groupsOf(list)) {
      if (group.length === 1) await this.one(group[0]!);
      else await this.store.transact(group);
    }
  }

  /**
   * Conditional writes on distinct items, ≤ 100 per transaction; when one condition fails the
   * group is retried op by op. Returns which ops were applied.
   */
  private async conditionalAll(ops: TransactOp[]): Promise<boolean[]> {
    const out: boolean[] = [];
    for (const group of groupsOf(ops)) {
      try {
        if (group.length === 1) await this.one(group[0]!);
        else await this.store.transact(group);
        out.push(...group.map(() => true));
        continue;
      } catch (err) {
        if (!isStrataError(err, "ECONFLICT")) throw err;
        if (group.length === 1) {
          out.push(false);
          continue;
        }
      }
      for (const op of group) {
        try {
          await this.one(op);
          out.push(true);
        } catch (err) {
          if (!isStrataError(err, "ECONFLICT")) throw err;
          out.push(false);
        }
      }
    }
    return out;
  }

  private async one(op: TransactOp): Promise<void> {
    const options = "condition" in op && op.condition ? { condition: op.condition } : {};
    if (op.kind === "put") await this.store.put(op.item, options);
    else if (op.kind === "delete") await this.store.delete(op.key, options);
    else if (op.kind === "update") await this.store.update(op.key, op.update, options);
    else throw strataError("EINVAL", "vacuum: a check is not a write");
  }

  /** The volume of that name now (undefined: not reachable from here; its objects are left alone). */
  private async volume(name: string): Promise<Volume | undefined> {
    return (await this.p.volumes.lookup(name))?.volume;
  }

  private async collect(): Promise<boolean> {
    const candidates = new Set(this.candidates);
    if (this.apply) for (const item of await queryAll(this.store, GCQ_PK)) candidates.add(item.sk);
    for (const intent of this.expiredIntents)
      for (const c of intent.chunks) {
        candidates.add(c);
        // A writer that died between its uploads and its instance records left objects with no
        // record: the intent's volumes are where to look.
        const set = this.intentVolumes.get(c) ?? new Set<string>();
        for (const v of intent.volumes) set.add(v);
        this.intentVolumes.set(c, set);
      }
    const groups = groupsOf([...candidates].sort());
    for (const [i, group] of groups.entries()) {
      await this.collectBatch(group);
      if (this.box.over && i + 1 < groups.length) return false;
    }
    // Expired intents: their chunks are settled (deleted, or referenced and kept).
    for (const [i, intent] of this.expiredIntents.entries()) {
      if (i > 0 && this.box.over) return false;
      // Staging objects of an upload session first (never chunk keys: nothing references them).
      const volumes = await Promise.all(intent.staged.map((o) => this.volume(o.volume)));
      if (volumes.some((v) => v === undefined)) continue; // left for a vacuum that has the volume
      if (intent.staged.length > 0 && this.apply) {
        // Re-check right before deleting: still the same expired session.
        const now = await this.store.get({ pk: intentPk(intent.pfs), sk: intent.id });
        if (!now || Number(now.expiresAt) !== intent.expiresAt || liveUntil(now) + this.skewMs > this.clock())
          continue;
      }
      for (const [j, o] of intent.staged.entries()) {
        if (this.apply) await volumes[j]!.delete(o.key);
        this.report.staged++;
        this.log({ action: "staged", volume: o.volume, key: o.key, applied: this.apply });
      }
      if (this.apply) {
        try {
          await this.store.delete(
            { pk: intentPk(intent.pfs), sk: intent.id },
            { condition: { op: "eq", attr: "expiresAt", value: intent.expiresAt } },
          );
        } catch (err) {
          if (!isStrataError(err, "ECONFLICT")) throw err; // renewed or gone: not ours to delete
          continue;
        }
      }
      this.report.intents++;
      this.log({ action: "intent", pfs: intent.pfs, id: intent.id, applied: this.apply });
    }
    return true;
  }

  /** crefs of a chunk (excluding those this dry run would have removed). */
  private async referenced(sha: string): Promise<boolean> {
    for await (const page of queryPages(this.store, crefPk(sha), { limit: 100 }))
      for (const ref of page) if (!this.removedRefs.has(`${sha}|${ref.sk}`)) return true;
    return false;
  }

  private async collectBatch(batch: string[]): Promise<void> {
    type Marked = {
      sha: string;
      instances: Array<{ item: Item; prev: string }>;
      token: string;
      until: number;
    };
    const marked: Marked[] = [];
    const settled: TransactOp[] = []; // gcq items done with
    const marks: Array<{ m: Marked; item: Item; prev: string; op: TransactOp }> = [];
    for (const sha of batch) {
      if (this.liveIntentChunks.has(sha) || (await this.referenced(sha))) {
        settled.push({ kind: "delete", key: gcqKey(sha) });
        continue;
      }
      const instances = await queryAll(this.store, chunkPk(sha), {
        sk: { op: "beginsWith", value: "inst#" },
      });
      const recorded = new Set(instances.map((i) => decodeInstance(i).volume));
      const unrecorded = [...(this.intentVolumes.get(sha) ?? [])].filter((v) => !recorded.has(v));
      if (!this.apply) {
        this.countChunk(sha, instances, unrecorded);
        continue;
      }
      const token = `${this.now.toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
      const until = this.clock() + this.leaseMs;
      const m: Marked = { sha, instances: [], token, until };
      marked.push(m);
      for (const volume of unrecorded) {
        // No record to mark: a marker record fences writers the same way (prev "absent").
        const item: Item = {
          ...instanceKey(sha, volume),
          state: "deleting",
          size: 0,
          crc32c: 0,
          time: this.now,
          until,
          token,
          prev: "absent",
        };
        marks.push({ m, item, prev: "absent", op: { kind: "put", item, condition: { op: "notExists" } } });
      }
      for (const inst of instances) {
        const prev = String(inst.state) === "deleting" ? String(inst.prev ?? "present") : String(inst.state);
        const item: Item = { ...inst, state: "deleting", until, token, prev };
        marks.push({
          m,
          item,
          prev,
          op: {
            kind: "update",
            key: { pk: inst.pk, sk: inst.sk },
            update: { set: { state: "deleting", until, token, prev } },
            // Not over another vacuum's live mark.
            condition: {
              op: "or",
              of: [
                { op: "ne", attr: "state", value: "deleting" },
                { op: "lt", attr: "until", value: this.clock() },
              ],
            },
          },
        });
      }
    }
    // Mark every instance of the batch (a failed condition: recorded meanwhile, or another vacuum).
    const applied = await this.conditionalAll(marks.map((x) => x.op));
    // A mark that failed (an instance recorded meanwhile — e.g. by a writer whose intent had
    // lapsed — or another vacuum's mark): that chunk stays a candidate for the next run, else an
    // instance recorded after our listing would never be offered again (a leak).
    const again = new Set<string>();
    marks.forEach((x, i) => {
      if (applied[i]) x.m.instances.push({ item: x.item, prev: x.prev });
      else again.add(x.m.sha);
    });

    // Re-check after marking: fresh intents, every commit after the cursors, crefs.
    const records: TransactOp[] = []; // instance records whose objects are gone
    const gone = new Set<string>(); // instances whose object was deleted (or unmarked)
    try {
      const stillLive = marked.length > 0 ? await this.freshIntentChunks() : new Set<string>();
      const recent = marked.length > 0 ? await this.chunksCommittedSinceCursors() : new Set<string>();
      for (const m of marked) {
        settled.push(
          again.has(m.sha)
            ? { kind: "put", item: { ...gcqKey(m.sha), time: this.now } }
            : { kind: "delete", key: gcqKey(m.sha) },
        );
        const keep = stillLive.has(m.sha) || recent.has(m.sha) || (await this.referenced(m.sha));
        if (keep) {
          this.report.rechecked.kept++;
          for (const { item, prev } of m.instances) {
            await this.unmark(item, m.token, prev);
            gone.add(`${item.pk}|${item.sk}`);
          }
          continue;
        }
        for (const { item, prev } of m.instances) {
          // Delete only well inside the lease: after it, writers may upload this chunk again.
          if (this.clock() >= m.until - this.skewMs) {
            await this.unmark(item, m.token, prev);
            throw strataError("ETIMEDOUT", `vacuum: the deletion lease of chunk ${m.sha} ran out; stopped`, {
              chunk: m.sha,
            });
          }
          const inst = decodeInstance(item);
          const volume = await this.volume(inst.volume);
          if (!volume) {
            // Not reachable from here: leave the instance (and its bytes) for a vacuum that can.
            await this.unmark(item, m.token, prev);
            continue;
          }
          const size = prev === "absent" ? await sizeOrZero(volume, m.sha) : inst.size;
          await deleteMarkedObject(volume, m.sha); // the object first (its record below, after it)
          gone.add(`${item.pk}|${item.sk}`);
          records.push({
            kind: "delete",
            key: { pk: item.pk, sk: item.sk },
            condition: deletedRecordCondition(m.token),
          });
          this.report.chunks.instances++;
          this.report.chunks.bytes += size;
          this.log({ action: "chunk", chunk: m.sha, volume: inst.volume, bytes: size, applied: true });
        }
        this.report.chunks.count++;
      }
    } catch (err) {
      // Stopped: give back the marks of objects still there (best effort), so writers that need
      // those chunks do not wait for the leases to run out. Nothing is deleted from here on.
      for (const m of marked)
        for (const { item, prev } of m.instances)
          if (!gone.has(`${item.pk}|${item.sk}`)) await this.unmark(item, m.token, prev).catch(() => {});
      throw err;
    }
    // …then the records of the deleted objects, and the settled candidates.
    await this.conditionalAll(records);
    if (this.apply) await this.writeAll(settled);
  }

  /** Dry run: what deleting this chunk would free (unrecorded objects counted, sizes unknown = 0). */
  private countChunk(sha: string, instances: Item[], unrecorded: string[]): void {
    this.report.chunks.count++;
    for (const item of instances) {
      const inst = decodeInstance(item);
      this.report.chunks.instances++;
      this.report.chunks.bytes += inst.size;
      this.log({ action: "chunk", chunk: sha, volume: inst.volume, bytes: inst.size, applied: false });
    }
    for (const volume of unrecorded) {
      this.report.chunks.instances++;
      this.log({ action: "chunk", chunk: sha, volume, bytes: 0, applied: false });
    }
  }

  private async unmark(item: Item, token: string, prev: string): Promise<void> {
    try {
      if (prev === "absent") {
        await this.store.delete(item, { condition: { op: "eq", attr: "token", value: token } });
        return;
      }
      await this.store.update(
        item,
        { set: { state: prev }, remove: ["until", "token", "prev"] },
        { condition: { op: "eq", attr: "token", value: token } },
      );
    } catch (err) {
      if (!isStrataError(err, "ECONFLICT")) throw err; // a writer already re-recorded it
    }
  }

  /** Chunks named by intents that are live now (every PFS, and deployment-wide). */
  private async freshIntentChunks(): Promise<Set<string>> {
    const out = new Set<string>();
    const now = this.clock();
    const names = (await queryAll(this.store, REGISTRY_PK)).map((item) => item.sk);
    for (const pfs of intentPartitions(names)) {
      for (const it of await queryAll(this.store, intentPk(pfs))) {
        const intent = decodeIntent(it);
        if (liveUntil(it) + this.skewMs > now) for (const c of intent.chunks) out.add(c);
      }
    }
    return out;
  }

  /** Chunks referenced by versions committed after the index cursors (every PFS, to the end). */
  private async chunksCommittedSinceCursors(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const item of await queryAll(this.store, REGISTRY_PK)) {
      const pfs = pfsRow(item);
      const cursors = await this.loadCursors(pfs);
      for (let s = 0; s < pfs.shards; s++) {
        const low = cursors[s];
        const keys: Key[] = [];
        for (const commit of await queryAll(
          this.store,
          changePk(pfs.id, s),
          low ? { sk: { op: "gt", value: low } } : {},
        ))
          keys.push(...classify(pfs.id, verify(commit, pfs.name)!).versions);
        for (const group of groupsOf(keys))
          for (const v of await this.store.batchGet(group))
            for (const { chunk: c } of chunkRefsOf(v)) out.add(c);
      }
    }
    return out;
  }
}

/**
 * What one commit (change-index item) did: the new inode versions it put, and the records it
 * ended. Keys only — no read: a version key whose inverted TID is the commit's is new, any other
 * version or entry-history key was ended by it (dtid = its TID); a live-entry key is a tombstone
 * when the commit ended that name's history record without starting a new one.
 */
export function classify(
  pfsId: string,
  commit: Item,
): {
  versions: Key[];
  ended: Array<{ kind: QueueKind; pk: string; sk: string; ctid: Tid; dtid: Tid }>;
} {
  const tid = String(commit.tid);
  const inv = invertTid(tid);
  const versions: Key[] = [];
  const ended: Array<{ kind: QueueKind; pk: string; sk: string; ctid: Tid; dtid: Tid }> = [];
  const endedNames = new Set<string>();
  const startedNames = new Set<string>();
  const entries: Key[] = [];
  for (const pair of (commit.keys as string[][]) ?? []) {
    const [pk, sk] = pair as [string, string];
    if (pk.startsWith(`ino#${pfsId}#`) && sk.startsWith(VERSION_PREFIX)) {
      const ver = sk.slice(VERSION_PREFIX.length);
      if (ver === inv) versions.push({ pk, sk });
      else ended.push({ kind: "version", pk, sk, ctid: invertTid(ver), dtid: tid });
    } else if (pk.startsWith(`dh#${pfsId}#`)) {
      const slash = sk.lastIndexOf("/");
      const name = sk.slice(0, slash);
      const ver = sk.slice(slash + 1);
      const dir = pk.slice(`dh#${pfsId}#`.length);
      if (ver === inv) startedNames.add(`${dir}/${name}`);
      else {
        endedNames.add(`${dir}/${name}`);
        ended.push({ kind: "history", pk, sk, ctid: invertTid(ver), dtid: tid });
      }
    } else if (pk.startsWith(`dir#${pfsId}#`)) entries.push({ pk, sk });
  }
  for (const e of entries) {
    const id = `${e.pk.slice(`dir#${pfsId}#`.length)}/${e.sk}`;
    // A tombstone's dtid is this commit's TID; nothing is visible "in" it, so ctid = dtid.
    if (endedNames.has(id) && !startedNames.has(id))
      ended.push({ kind: "tombstone", ...e, ctid: tid, dtid: tid });
  }
  return { versions, ended };
}

async function sizeOrZero(volume: Volume, sha: string): Promise<number> {
  try {
    return (await volume.head(chunkObjectKey(sha))).size;
  } catch (err) {
    if (isStrataError(err, "ENOENT")) return 0;
    throw err;
  }
}

function inoOf(pfs: PfsRow, versionKey: Key): string {
  return versionKey.pk.slice(`ino#${pfs.id}#`.length);
}

/** Until when an intent protects its chunks: its expiry, or an upload session's last URL expiry if later. */
function liveUntil(item: Item): number {
  const session = decodeSession(item);
  return Math.max(Number(item.expiresAt), session?.urlsExpireAt ?? 0);
}
