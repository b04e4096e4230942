/**
 * The namespace engine: core/namespace/api.ts over any MetadataStore. Pure — the only I/O is the
 * store passed in; the clock, randomness and sleeping are injected.
 *
 * Design (docs/namespace.md): inode versions and directory entries are never overwritten — a
 * change ends the old record (delete_tid) and starts a new one in the same transaction; TIDs come
 * from a hybrid logical clock and every commit checks one of S "epoch" shards so that it lands
 * above the PFS's closed TID; as-of reads first close their TID, which makes them final.
 */
import { backoffDelay } from "../backoff.ts";
import { isStrataError, StrataError, strataError } from "../errors.ts";
import type { Condition, Item, Key, MetadataStore, TransactOp, Value } from "../metadata/port.ts";
import { canonicalText, keyId } from "../metadata/values.ts";
import type { AsOf, FileSystem, Namespace, ObjectId, PfsInfo, PfsOptions, Tid } from "./api.ts";
import {
  type Idempotency,
  isIdempotencyKey,
  recordFree,
  recordItem,
  recordKey,
  recordOutcome,
  tokenOf,
} from "./idempotency.ts";
import {
  allocKey,
  changePk,
  ctlKey,
  epochKey,
  mirrorKey,
  REGISTRY_PK,
  registryKey,
  seal,
  snapshotPk,
  verify,
} from "./records.ts";
import { dateToTid, HybridClock, isTid, maxTid, ZERO_TID } from "./tid.ts";
import { type PfsContext, Tx } from "./tx.ts";

export { NS_LIMITS } from "./validate.ts";

import { confinement } from "./confine.ts";
import { PfsFileSystem } from "./fs.ts";
import {
  type EntryRef,
  type HistoryFloor,
  type HistoryLease,
  KERNEL,
  type NamespaceKernel,
  type WriteOutcome,
} from "./kernel.ts";
import * as writes from "./record-writes.ts";
import { checkPfsName, checkSnapshotName, isNonNegInt } from "./validate.ts";

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
  /** Lifetime of a TID lease past each renewal, ms (default 60,000; core/retention/lease.ts). */
  tidLeaseMs?: number;
  /**
   * TEST ONLY: `false` makes long readers (revert, snapshot at a TID) read history without a TID
   * lease, so vacuum can prune under them — the counter-check of the lease tests.
   */
  tidLeases?: boolean;
  /**
   * Re-sends of the SAME planned transaction (same ops, same token) after an ambiguous or
   * transient store failure (ETIMEDOUT, EUNAVAIL, ETHROTTLED), default 3 (core/namespace/idempotency.ts).
   */
  commitResends?: number;
  /**
   * TEST-ONLY switch (counter-checks): false sends no transaction tokens and writes no
   * idempotency records, so a lost reply is misreported again. Default true; never turn it off
   * in a deployment.
   */
  idempotentCommits?: boolean;
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

/**
 * What the engine is built from: the caller's parameters and the retention floor, injected
 * (`createNamespace` in core/namespace/create.ts passes core/retention's).
 */
export interface EngineParams extends CreateNamespaceParams {
  /** The retention floor over the engine's store and clock. */
  history: (store: MetadataStore, clock: () => number) => HistoryFloor;
}

function tidsIn(item: Item | undefined): Tid[] {
  if (!item) return [];
  return ["ctid", "dtid", "closed"].map((a) => item[a]).filter(isTid);
}

export class Engine implements Namespace, NamespaceKernel {
  readonly [KERNEL] = true as const;
  readonly store: MetadataStore;
  readonly site: number;
  readonly clock: () => number;
  readonly random: () => number;
  readonly hlc: HybridClock;
  readonly opts: Required<Omit<NamespaceOptions, "sleep">> & { sleep: (ms: number) => Promise<void> };
  readonly asOfCache = new Map<string, EntryRef | undefined>();
  /** Pruned-history watermark per PFS (cached 5 s), for as-of reads; TID leases. */
  readonly retention: HistoryFloor;
  readonly asOfCacheLimit: number;
  private readonly pfsCache = new Map<string, PfsContext>();
  /** Highest closed TID known per PFS id (closed TIDs only grow, so this is never stale-wrong). */
  private readonly closedCache = new Map<string, Tid>();
  private lease = { next: 0, end: 0 };
  private leasing: Promise<void> | undefined;
  /** Last TID this engine committed. */
  lastCommitted: Tid = ZERO_TID;
  /**
   * Makes this engine's transaction tokens unlike any other engine's (two engines may plan at
   * the same TID). Not drawn from `random`, so seeded runs keep their sequence of draws.
   */
  private readonly nonce = `${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;

  constructor(params: EngineParams) {
    if (!params?.store) throw strataError("EINVAL", "createNamespace needs a store");
    const site = params.site ?? 0;
    if (!isNonNegInt(site, 0xffff))
      throw strataError("EINVAL", "site must be an integer in 0..65535", { site });
    this.store = params.store;
    this.site = site;
    this.clock = params.clock ?? Date.now;
    this.random = params.random ?? Math.random;
    this.hlc = new HybridClock(this.clock);
    this.retention = params.history(this.store, this.clock);
    const o = params.options ?? {};
    const shards = o.epochShards ?? 8;
    if (!isNonNegInt(shards, 64) || shards < 1) throw strataError("EINVAL", "epochShards must be 1..64");
    this.opts = {
      epochShards: shards,
      idBlock: o.idBlock ?? 1000,
      maxAttempts: o.maxAttempts ?? 8,
      rmdirLeaseMs: o.rmdirLeaseMs ?? 30_000,
      asOfCacheEntries: o.asOfCacheEntries ?? 10_000,
      tidLeaseMs: o.tidLeaseMs ?? this.retention.leaseTtlMs,
      tidLeases: o.tidLeases ?? true,
      commitResends: o.commitResends ?? 3,
      idempotentCommits: o.idempotentCommits ?? true,
      sleep: o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    };
    this.asOfCacheLimit = this.opts.asOfCacheEntries;
    if (!(this.opts.tidLeaseMs >= 3_000))
      throw strataError("EINVAL", "tidLeaseMs must be at least 3,000 ms (renewals come every third of it)", {
        tidLeaseMs: this.opts.tidLeaseMs,
      });
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
      ...(item.mirror !== undefined ? { mirror: true } : {}),
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
        await this.commit(ops, tokenOf("", this.nonce, tid));
        this.lastCommitted = maxTid(this.lastCommitted, tid);
        return { name, id, rootIno: root, createdTid: tid };
      } catch (err) {
        if (!isStrataError(err, "ECONFLICT")) throw err;
        const reasons = err.details.reasons ?? [];
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

  pfs(name: string, options: PfsOptions = {}): FileSystem {
    const key = options.idempotencyKey;
    if (key !== undefined && !isIdempotencyKey(key))
      throw strataError("EINVAL", "an idempotency key is 1..255 printable ASCII characters (no spaces)", {
        pfs: name,
      });
    return new PfsFileSystem(this, name, confinement(options.beneath), key);
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
        // A lost reply (retryable) may have closed it: the next round re-reads the shards.
        const again = isStrataError(err, "ECONFLICT") || (isStrataError(err) && err.retryable);
        if (!again || attempt >= this.opts.maxAttempts) throw err;
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
    // Retention (core/retention): a point vacuum pruned snaps to the complete point before it, or EPRUNED.
    if (ctx.mirror) return this.retention.snap(ctx, await this.mirrorCeiling(ctx, tid));
    const now = this.nowTid();
    if (tid > now) tid = now;
    tid = await this.retention.snap(ctx, tid);
    await this.ensureClosed(ctx, tid);
    return tid;
  }

  /**
   * {@link readTid} for a long reader of history: the TID and a lease on it that vacuum honours
   * (core/retention/lease.ts). The watermark is re-read uncached AFTER the lease is written; a
   * point it no longer holds complete is re-snapped (or EPRUNED). The caller keeps the lease
   * (`keep()` per step, and before committing what it read) and releases it when done.
   */
  async leaseTid(ctx: PfsContext, point: AsOf): Promise<{ tid: Tid; lease?: HistoryLease }> {
    for (let attempt = 1; ; attempt++) {
      const tid = await this.readTid(ctx, point);
      if (!this.opts.tidLeases) return { tid };
      const lease = await this.retention.lease(ctx, tid, this.opts.tidLeaseMs);
      if (await this.retention.isComplete(ctx.id, tid)) return { tid, lease };
      await lease.release();
      this.retention.forget(ctx.id); // our cached watermark was stale: snap again
      if (attempt >= 3)
        throw strataError(
          "ECONFLICT",
          `vacuum kept pruning history of PFS ${ctx.name} while a lease was taken`,
          {
            pfs: ctx.name,
          },
        );
    }
  }

  /**
   * A mirror's closed TID is its sync TID (core/mirror): everything at or below it was applied
   * and is final; a later point reads as of it. 0 requests when the cached sync TID covers
   * `tid`, else 1 GetItem of the mirror's state item. Never closes anything.
   */
  async mirrorCeiling(ctx: PfsContext, tid: Tid): Promise<Tid> {
    if ((this.closedCache.get(ctx.id) ?? ZERO_TID) >= tid) return tid;
    const state = verify(await this.store.get(mirrorKey(ctx.id)), ctx.name);
    const sync = isTid(state?.sync) ? state.sync : ZERO_TID;
    this.noteClosed(ctx, sync);
    return tid > sync ? sync : tid;
  }

  /** The context of a PFS that accepts writes: EROFS for a mirror (re-read once: it may have been promoted). */
  private async writableContext(pfs: string): Promise<PfsContext> {
    let ctx = await this.context(pfs);
    if (!ctx.mirror) return ctx;
    this.forget(pfs);
    ctx = await this.context(pfs);
    if (ctx.mirror)
      throw strataError("EROFS", `PFS ${pfs} is a read-only mirror; write to its master or promote it`, {
        pfs,
      });
    return ctx;
  }

  /** max(HLC now, last TID this engine committed) — without closing it. */
  nowTid(): Tid {
    return maxTid(this.hlc.next(), this.lastCommitted);
  }

  async currentTid(ctx: PfsContext): Promise<Tid> {
    if (ctx.mirror) return this.mirrorCeiling(ctx, "ffffffffffffffff");
    const tid = this.nowTid();
    await this.ensureClosed(ctx, tid);
    return tid;
  }

  // ---- the write loop -------------------------------------------------------------------------

  async backoff(attempt: number): Promise<void> {
    await this.opts.sleep(backoffDelay(attempt, { baseMs: 1, capMs: 200, jitter: "around" }, this.random));
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
   * Send one planned transaction; after an ambiguous or transient failure send the same ops with
   * the same token again (a committed one then answers "done": core/namespace/idempotency.ts).
   */
  private async commit(ops: TransactOp[], token: string): Promise<void> {
    const options = this.opts.idempotentCommits ? { token } : undefined;
    let ambiguous = false;
    for (let resend = 0; ; resend++) {
      try {
        await this.store.transact(ops, options);
        return;
      } catch (err) {
        // Once the outcome is unknown, an EIO on a re-send leaves it unknown: send again.
        const again = isStrataError(err) && (err.retryable || (ambiguous && err.code === "EIO"));
        if (!again || resend >= this.opts.commitResends) throw err;
        ambiguous = true;
        await this.backoff(resend + 1);
      }
    }
  }

  /**
   * One conditional single-item write (no transaction) whose lost reply is recognised: after an
   * ambiguous failure it is sent again, and a failed condition that finds the item exactly as we
   * put it (or, for a delete, gone) means the first send was applied.
   */
  async writeOnce(
    op:
      | { kind: "put"; item: Item; condition: Condition }
      | { kind: "delete"; key: Key; condition: Condition },
  ): Promise<void> {
    let ambiguous = false;
    for (let resend = 0; ; resend++) {
      try {
        if (op.kind === "put") await this.store.put(op.item, { condition: op.condition });
        else await this.store.delete(op.key, { condition: op.condition });
        return;
      } catch (err) {
        if (ambiguous && this.opts.idempotentCommits && isStrataError(err, "ECONFLICT")) {
          const now = err.details.item;
          if (op.kind === "delete" ? now === undefined : now && canonicalText(now) === canonicalText(op.item))
            return;
        }
        if (!isStrataError(err) || !err.retryable || resend >= this.opts.commitResends) throw err;
        ambiguous = true;
        await this.backoff(resend + 1);
      }
    }
  }

  /**
   * The original outcome of an operation whose idempotency record exists (`seen`: the record as a
   * failed condition reported it, else it is read). EINVAL when the key named another request.
   * Undefined when there is none (or it cannot be read: the caller's own error then stands).
   */
  private async prior<T>(
    ctx: PfsContext,
    idem: Idempotency,
    seen?: Item,
  ): Promise<WriteOutcome<T> | undefined> {
    let item = seen;
    if (!item) {
      try {
        item = await this.store.get(recordKey(ctx.id, idem.key));
      } catch {
        return undefined;
      }
    }
    const outcome = recordOutcome(verify(item, ctx.name), this.clock());
    if (!outcome) return undefined;
    if (outcome.fingerprint !== idem.fingerprint)
      throw strataError(
        "EINVAL",
        `idempotency key ${idem.key} was already used for a different request on PFS ${ctx.name}; use a new key per operation`,
        { pfs: ctx.name, idempotency: "mismatch" },
      );
    this.hlc.observe(outcome.tid);
    return { result: outcome.result as T, tid: outcome.tid, answer: "replayed" };
  }

  /**
   * Plan and commit one transaction, re-planning on ECONFLICT (lost race, TransactionConflict,
   * or a close that overtook the TID) up to `maxAttempts` times with jittered backoff.
   *
   * With `idem` (the caller's idempotency key and request fingerprint) the commit also writes the
   * operation's idempotency record, and a call that finds its record returns the original result
   * (core/namespace/idempotency.ts).
   */
  async write<T>(
    pfs: string,
    plan: (tx: Tx) => Promise<T>,
    /**
     * A confined view's write: `beneath` confines every resolution of the plan
     * (PfsContext.beneath); `fence` runs after planning and may refuse what the plan would write.
     */
    confine?: { beneath: readonly string[]; fence?: (tx: Tx) => Promise<void> },
    idem?: Idempotency,
  ): Promise<WriteOutcome<T>> {
    const recorded = this.opts.idempotentCommits ? idem : undefined;
    for (let attempt = 1; ; attempt++) {
      const base = await this.writableContext(pfs);
      const ctx = confine ? { ...base, beneath: confine.beneath } : base;
      const tid = this.hlc.next();
      const tx = new Tx(this.store, ctx, tid, this.clock());
      let committed = false;
      let sent: TransactOp[] = [];
      try {
        const result = await plan(tx);
        if (confine?.fence) await confine.fence(tx);
        if (tx.maxSeen >= tid) {
          // A record we read is newer than our clock (another engine's clock runs ahead).
          this.hlc.observe(tx.maxSeen);
          throw strataError("ECONFLICT", "a record is newer than this engine's clock; retrying above it");
        }
        const built = tx.build();
        if (built.written.length === 0) {
          await this.releaseMarks(tx);
          // Nothing to do now may mean "done before": a replay returns the original outcome.
          return (recorded && (await this.prior<T>(ctx, recorded))) || { result, tid: undefined };
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
        const record = recorded && recordItem(ctx.id, recorded, result, tid, tx.now);
        if (record) ops.push({ kind: "put", item: seal(record), condition: recordFree(tx.now) });
        if (ops.length > 100)
          throw strataError(
            "E2BIG",
            `this change needs ${ops.length} items in one transaction; the limit is 100 (split the batch)`,
            { pfs },
          );
        sent = ops;
        await this.commit(ops, tokenOf(idem?.key ?? "", this.nonce, tid));
        committed = true;
        this.lastCommitted = maxTid(this.lastCommitted, tid);
        // The record holds the result (not too big to keep): a retry is answered from it.
        return record && record.big !== true ? { result, tid, answer: "recorded" } : { result, tid };
      } catch (err) {
        if (!committed) await this.releaseMarks(tx);
        if (recorded && isStrataError(err)) {
          // Failed (EEXIST, ENOENT, its own record's condition…) because it was done before?
          const reasons = err.details.reasons ?? [];
          const last = sent[sent.length - 1];
          const seen =
            last?.kind === "put" && last.item.pk === recordKey(ctx.id, recorded.key).pk
              ? reasons[sent.length - 1]?.item
              : undefined;
          const done = await this.prior<T>(ctx, recorded, seen);
          if (done) return done;
        }
        if (!isStrataError(err, "ECONFLICT")) throw err;
        for (const r of err.details.reasons ?? [])
          for (const t of tidsIn(r?.item ?? undefined)) this.hlc.observe(t);
        for (const t of tidsIn(err.details.item)) this.hlc.observe(t);
        // A blind create whose entry condition failed: the name is taken.
        const reasons = err.details.reasons ?? [];
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

  // ---- record writes used by the planners (core/namespace/record-writes.ts) ---------------------

  /** Start a new version of `ino` (ending the live one, if any) with `fields`. */
  putVersion(
    tx: Tx,
    ino: ObjectId,
    fields: Record<string, Value>,
    change: string,
    now: number,
    base?: Item,
  ): Item {
    return writes.putVersion(tx, ino, fields, change, now, base);
  }

  /** Replace the live version of `ino` by one with `changes` applied. */
  changeVersion(
    tx: Tx,
    ino: ObjectId,
    changes: Record<string, Value>,
    change: string,
    path: string,
  ): Promise<Item> {
    return writes.changeVersion(tx, ino, changes, change, path);
  }

  /** Replace the live version of `ino` (if any) by exactly `fields` (revert: nothing carried over). */
  replaceVersion(tx: Tx, ino: ObjectId, fields: Record<string, Value>, change: string): Promise<Item> {
    return writes.replaceVersion(tx, ino, fields, change);
  }

  endVersion(tx: Tx, ino: ObjectId, change: string): Promise<void> {
    return writes.endVersion(tx, ino, change);
  }

  addEntry(tx: Tx, dir: ObjectId, name: string, ref: EntryRef): void {
    writes.addEntry(tx, dir, name, ref);
  }

  removeEntry(tx: Tx, dir: ObjectId, name: string): Promise<void> {
    return writes.removeEntry(tx, dir, name);
  }

  deleteCtl(tx: Tx, ino: ObjectId): void {
    writes.deleteCtl(tx, ino);
  }

  /** Take the rmdir lease on a directory (record-writes.ts `leaseDir`). */
  leaseDir(tx: Tx, ino: ObjectId, path: string): Promise<void> {
    return writes.leaseDir(this.store, this.opts.rmdirLeaseMs, tx, ino, path);
  }
}
