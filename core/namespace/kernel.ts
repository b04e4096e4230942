/**
 * The namespace engine's internal contract, named: what the engine's own parts (the file system
 * view fs.ts, the planner ops.ts, revert.ts, the readers in resolve.ts, confine.ts) and its
 * privileged neighbours (core/mirror: the stream, full copy, apply, multi-master merge) use of it.
 * They depend on this interface, never on the concrete `Engine` (core/namespace/engine.ts), so the
 * engine's files import each other one way only; `kernelOf` replaces an `instanceof Engine`.
 *
 * `HistoryFloor` is the one thing the engine needs from retention (core/retention): the floor
 * as-of reads snap to, and leases long readers hold. It is injected (core/namespace/create.ts
 * wires core/retention's), so the engine does not import retention.
 */
import type { Condition, Item, Key, MetadataStore, Value } from "../metadata/port.ts";
import type { AsOf, FileSystem, FileType, Namespace, ObjectId, PfsOptions, Tid } from "./api.ts";
import type { Idempotency } from "./idempotency.ts";
import type { HybridClock } from "./tid.ts";
import type { PfsContext, Tx } from "./tx.ts";

/** A directory entry's target: the object and its type. */
export interface EntryRef {
  ino: ObjectId;
  type: FileType;
}

/** A lease on one TID of one PFS that vacuum honours (core/retention/lease.ts `TidLease`). */
export interface HistoryLease {
  /** At each step of the work and before committing what was read: renews; ECONFLICT once lapsed. */
  keep(): Promise<void>;
  /** Drop the lease (best effort: it expires on its own). */
  release(): Promise<void>;
}

/** The retention floor as the engine uses it (core/retention implements it). */
export interface HistoryFloor {
  /** A lease's lifetime past each renewal when `tidLeaseMs` is not given, ms. */
  readonly leaseTtlMs: number;
  /** `tid`, or the complete point at or before it when vacuum pruned it (EPRUNED when none); cached. */
  snap(pfs: { id: string; name: string }, tid: Tid): Promise<Tid>;
  /** Drop the cached floor of a PFS (a fresh read showed it stale). */
  forget(pfsId: string): void;
  /** Take a lease on `tid` (lifetime `ttlMs` past each renewal). */
  lease(ctx: PfsContext, tid: Tid, ttlMs: number): Promise<HistoryLease>;
  /** Whether `tid` is still a complete point, read fresh (not from the cache). */
  isComplete(pfsId: string, tid: Tid): Promise<boolean>;
}

/**
 * What one {@link NamespaceKernel.write} did: the plan's result and the commit's TID (undefined
 * when nothing was written). With an idempotency key, `answer` says whether an idempotency record
 * holding this result answers a retry of the same operation: "recorded" (committed with it) or
 * "replayed" (this call was answered from it: done before); absent when no record keeps it (no
 * key, nothing written, records off, or a result too big to keep: core/namespace/idempotency.ts).
 */
export interface WriteOutcome<T> {
  result: T;
  tid: Tid | undefined;
  answer?: "recorded" | "replayed";
}

/** Marks an object that implements {@link NamespaceKernel} (see {@link kernelOf}). */
export const KERNEL: unique symbol = Symbol("strata.namespaceKernel");

export interface NamespaceKernel {
  readonly [KERNEL]: true;
  readonly store: MetadataStore;
  readonly clock: () => number;
  readonly hlc: Pick<HybridClock, "observe">;
  readonly opts: { readonly epochShards: number; readonly idempotentCommits: boolean };
  /** The immutable as-of lookup cache (core/namespace/resolve.ts `AsOfReader`) and its bound. */
  readonly asOfCache: Map<string, EntryRef | undefined>;
  readonly asOfCacheLimit: number;

  /** A fresh object id: site bits + a sequence leased in blocks. */
  allocId(): Promise<ObjectId>;
  /** A PFS's context (cached); ENOENT when it does not exist. */
  context(name: string): Promise<PfsContext>;
  /** Drop a PFS's cached context (it changed: mirror state, promotion, deletion). */
  forget(name: string): void;
  /** A file-system view of a PFS. */
  pfs(name: string, options?: PfsOptions): FileSystem;

  /** The TID a read at `point` uses: snapshots and dates resolved, future clamped to now, closed. */
  readTid(ctx: PfsContext, point: AsOf): Promise<Tid>;
  /** {@link readTid} for a long reader of history, with a lease on it that vacuum honours. */
  leaseTid(ctx: PfsContext, point: AsOf): Promise<{ tid: Tid; lease?: HistoryLease }>;
  /** The PFS's current TID, closed (a mirror's: its sync TID). */
  currentTid(ctx: PfsContext): Promise<Tid>;

  /** Plan and commit one transaction, re-planning on ECONFLICT (core/namespace/engine.ts). */
  write<T>(
    pfs: string,
    plan: (tx: Tx) => Promise<T>,
    confine?: { beneath: readonly string[]; fence?: (tx: Tx) => Promise<void> },
    idem?: Idempotency,
  ): Promise<WriteOutcome<T>>;
  /** One conditional single-item write whose lost reply is recognised. */
  writeOnce(
    op:
      | { kind: "put"; item: Item; condition: Condition }
      | { kind: "delete"; key: Key; condition: Condition },
  ): Promise<void>;

  // The record helpers the planners use inside a transaction.
  putVersion(
    tx: Tx,
    ino: ObjectId,
    fields: Record<string, Value>,
    change: string,
    now: number,
    base?: Item,
  ): Item;
  changeVersion(
    tx: Tx,
    ino: ObjectId,
    changes: Record<string, Value>,
    change: string,
    path: string,
  ): Promise<Item>;
  replaceVersion(tx: Tx, ino: ObjectId, fields: Record<string, Value>, change: string): Promise<Item>;
  endVersion(tx: Tx, ino: ObjectId, change: string): Promise<void>;
  addEntry(tx: Tx, dir: ObjectId, name: string, ref: EntryRef): void;
  removeEntry(tx: Tx, dir: ObjectId, name: string): Promise<void>;
  deleteCtl(tx: Tx, ino: ObjectId): void;
  leaseDir(tx: Tx, ino: ObjectId, path: string): Promise<void>;
}

/** The kernel behind a Namespace made by createNamespace; undefined for any other Namespace. */
export function kernelOf(ns: Namespace): (Namespace & NamespaceKernel) | undefined {
  return (ns as Partial<NamespaceKernel>)[KERNEL] === true ? (ns as Namespace & NamespaceKernel) : undefined;
}
