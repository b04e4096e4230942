/**
 * `faultyStore(inner, plan)`: a MetadataStore that injects faults into another one — the metadata
 * twin of adapters/volumes/faulty.ts. Used by the reliability harness (test/reliability/) for
 * error, throttle, timeout, lost-reply and crash testing, and by anyone who needs a store that
 * misbehaves on cue (e.g. vacuum's abort-on-listing-error rule).
 *
 * ```ts
 * const store = faultyStore(new MemoryMetadataStore(), {
 *   transact: [{ fault: "lostReply", times: 1 }],           // applied, then ETIMEDOUT
 *   query: [{ fault: "throttle", probability: 0.2 }],      // seeded, reproducible
 *   seed: 7,
 * });
 * store.injected.total; store.calls.transact; store.log;   // counters and the call log
 *
 * // Crash points: the Nth adapter call (counting every call of every kind from 0), before or
 * // after it reaches the inner store. The wrapper then "dies": that call and every later one
 * // reject with CrashError, so nothing of the dead process reaches the store any more.
 * const dying = faultyStore(inner, { crashAt: { call: 3, when: "after" } });
 * // ... run a workload until it rejects with CrashError, then restart on `inner` with a fresh
 * // engine (new faultyStore or the bare inner store): that is the recovery under test.
 * ```
 *
 * A rule fires when all its conditions hold: fewer than `times` firings so far (unbounded when
 * absent), `when(call)` (sees the op and its arguments), and a draw below `probability` from a
 * PRNG seeded with `plan.seed`. The first rule of an op that fires decides the call.
 *
 * Faults (codes as the real adapters report them after their own retries, core/metadata/port.ts):
 *   error        `code` (default EIO) before the inner call — nothing applied
 *   throttle     ETHROTTLED before the inner call — nothing applied
 *   unavailable  EUNAVAIL before the inner call — nothing applied
 *   timeout      ETIMEDOUT before the inner call — nothing applied (the request never arrived)
 *   lostReply    the call is APPLIED on the inner store, then ETIMEDOUT (or `code`) is thrown
 *                instead of its result: the caller cannot tell it from `timeout`
 *   latency      wait `ms` (through `plan.sleep`, default setTimeout) before the inner call
 *
 * Reads (get, query, batchGet, transactGet) can fail too but a lost reply of a read changes
 * nothing; the kinds matter for writes (put, update, delete, transact).
 */
import { type ErrorCode, StrataError } from "../../core/errors.ts";
import type {
  Condition,
  Item,
  Key,
  MetadataStore,
  QueryOptions,
  QueryPage,
  RequestCounts,
  TransactOp,
  Update,
} from "../../core/metadata/port.ts";
import { mulberry32 } from "../../core/random.ts";

export type StoreOp = "get" | "put" | "update" | "delete" | "transact" | "transactGet" | "batchGet" | "query";
export type StoreFaultKind = "error" | "throttle" | "unavailable" | "timeout" | "lostReply" | "latency";

export const STORE_OPS: readonly StoreOp[] = [
  "get",
  "put",
  "update",
  "delete",
  "transact",
  "transactGet",
  "batchGet",
  "query",
];
export const WRITE_OPS: ReadonlySet<StoreOp> = new Set(["put", "update", "delete", "transact"]);
const KINDS: StoreFaultKind[] = ["error", "throttle", "unavailable", "timeout", "lostReply", "latency"];

/** One call as the wrapper saw it: the op and its arguments (the same objects the caller passed). */
export type StoreCall =
  | { op: "get"; key: Key }
  | { op: "put"; item: Item; condition?: Condition }
  | { op: "update"; key: Key; update: Update; condition?: Condition }
  | { op: "delete"; key: Key; condition?: Condition }
  | { op: "transact"; ops: TransactOp[]; token?: string }
  | { op: "transactGet"; keys: Key[] }
  | { op: "batchGet"; keys: Key[] }
  | { op: "query"; pk: string; options?: QueryOptions };

export interface StoreFaultRule {
  fault: StoreFaultKind;
  /** Fire at most this many times (default: every matching call). */
  times?: number;
  /** Fire only for matching calls. */
  when?: (call: StoreCall) => boolean;
  /** Fire with this probability, drawn from the plan's seeded PRNG. */
  probability?: number;
  /** error / lostReply: the code thrown (error: EIO by default; lostReply: ETIMEDOUT). */
  code?: ErrorCode;
  /** latency: milliseconds to wait. */
  ms?: number;
}

export interface CrashPoint {
  /** Index of the call (0-based, over every op kind) at which the process dies. */
  call: number;
  /** "before": the call never reaches the store; "after": it is applied, its reply is lost. */
  when: "before" | "after";
}

export type StoreFaultPlan = Partial<Record<StoreOp, StoreFaultRule | StoreFaultRule[]>> & {
  /** Seed of the PRNG behind `probability` (default 1). */
  seed?: number;
  crashAt?: CrashPoint;
  /** Sleep used by `latency` (default setTimeout): inject a fake clock's sleep to stay deterministic. */
  sleep?: (ms: number) => Promise<void>;
  /** Keep a log of every call (default true). */
  log?: boolean;
};

/** Thrown by every call once the simulated process has crashed. Not a StrataError on purpose:
 * nothing in strata may catch and "handle" a crash — it must unwind to the harness. */
export class CrashError extends Error {
  constructor(readonly point: CrashPoint) {
    super(`simulated crash ${point.when} adapter call #${point.call}`);
    this.name = "CrashError";
  }
}

export interface StoreFaultCounters {
  total: number;
  byKind: Record<StoreFaultKind, number>;
  byOp: Record<StoreOp, number>;
}

export interface LoggedCall {
  index: number;
  call: StoreCall;
  /** How it ended: "ok", the injected fault, "crash", or the inner store's error code. */
  outcome: "ok" | StoreFaultKind | "crash" | string;
}

export interface FaultyMetadataStore extends MetadataStore {
  readonly inner: MetadataStore;
  readonly injected: StoreFaultCounters;
  /** Calls received per op (including failed ones and the crashing one). */
  readonly calls: Record<StoreOp, number>;
  /** Calls received so far over all ops = the index the next call gets. */
  readonly callCount: number;
  /** Every call in order (when `plan.log` is not false). */
  readonly log: LoggedCall[];
  /** True once the crash point was hit (or `crash()` called): every call rejects with CrashError. */
  readonly crashed: boolean;
  /** The crash point that killed the process, once it died. */
  readonly crashPoint: CrashPoint | undefined;
  /**
   * Number one adapter call of another wrapper (e.g. a volume's) in this store's sequence and
   * apply the crash plan: "before" = reject it with CrashError now, "after" = make it, then call
   * `crash()` and reject; undefined = go on.
   */
  takeCall(): "before" | "after" | undefined;
  /** Crash now (e.g. from a volume wrapper), so the whole simulated process dies at once. */
  crash(point?: CrashPoint): void;
}

export function faultyStore(inner: MetadataStore, plan: StoreFaultPlan = {}): FaultyMetadataStore {
  const random = mulberry32(plan.seed ?? 1);
  const sleep = plan.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const rules = new Map<StoreOp, { rule: StoreFaultRule; fired: number }[]>();
  for (const op of STORE_OPS) {
    const given = plan[op];
    const list = given === undefined ? [] : Array.isArray(given) ? given : [given];
    rules.set(
      op,
      list.map((rule) => ({ rule, fired: 0 })),
    );
  }
  const injected: StoreFaultCounters = {
    total: 0,
    byKind: Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<StoreFaultKind, number>,
    byOp: Object.fromEntries(STORE_OPS.map((o) => [o, 0])) as Record<StoreOp, number>,
  };
  const calls = Object.fromEntries(STORE_OPS.map((o) => [o, 0])) as Record<StoreOp, number>;
  const log: LoggedCall[] = [];
  let callCount = 0;
  let crashedAt: CrashPoint | undefined;

  const injectedError = (code: ErrorCode, call: StoreCall, what: string) =>
    new StrataError(code, `metadata store \`${inner.kind}\`: injected fault (${what}) on ${call.op}`, {
      details: { store: inner.kind, op: call.op, injected: true },
    });

  function firing(call: StoreCall): StoreFaultRule | undefined {
    for (const entry of rules.get(call.op) ?? []) {
      const { rule } = entry;
      if (rule.times !== undefined && entry.fired >= rule.times) continue;
      if (rule.when && !rule.when(call)) continue;
      if (rule.probability !== undefined && !(random() < rule.probability)) continue;
      entry.fired++;
      injected.total++;
      injected.byKind[rule.fault]++;
      injected.byOp[call.op]++;
      return rule;
    }
    return undefined;
  }

  /**
   * Number the next adapter call and apply the crash plan to it: "before" = reject it now (the
   * process is or becomes dead), "after" = let it through, then the caller must die
   * (`crash()`), undefined = a normal call. Wrappers of other adapters (volumes) call this too,
   * so one numbering spans every adapter of the simulated process.
   */
  function takeCall(): "before" | "after" | undefined {
    const index = callCount++;
    if (crashedAt) return "before";
    if (plan.crashAt?.call !== index) return undefined;
    if (plan.crashAt.when === "before") crashedAt = plan.crashAt;
    return plan.crashAt.when;
  }

  async function run<T>(call: StoreCall, fn: () => Promise<T>): Promise<T> {
    const index = callCount;
    const point = takeCall();
    calls[call.op]++;
    const entry: LoggedCall = { index, call, outcome: "ok" };
    if (plan.log !== false) log.push(entry);
    if (point === "before") {
      entry.outcome = "crash";
      throw new CrashError(crashedAt!);
    }
    const crash = point === "after" ? plan.crashAt : undefined;
    const rule = crash ? undefined : firing(call);
    if (rule) {
      switch (rule.fault) {
        case "error":
          entry.outcome = "error";
          throw injectedError(rule.code ?? "EIO", call, "error");
        case "throttle":
          entry.outcome = "throttle";
          throw injectedError("ETHROTTLED", call, "throttled");
        case "unavailable":
          entry.outcome = "unavailable";
          throw injectedError("EUNAVAIL", call, "unavailable");
        case "timeout":
          entry.outcome = "timeout";
          throw injectedError("ETIMEDOUT", call, "timed out before it was sent");
        case "latency":
          await sleep(rule.ms ?? 0);
          break;
        case "lostReply":
          break;
      }
    }
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      entry.outcome = (err as { code?: string }).code ?? "error";
      if (crash) {
        crashedAt = crash;
        entry.outcome = "crash";
        throw new CrashError(crash);
      }
      throw err;
    }
    if (crash) {
      crashedAt = crash;
      entry.outcome = "crash";
      throw new CrashError(crash);
    }
    if (rule?.fault === "lostReply") {
      entry.outcome = "lostReply";
      throw injectedError(rule.code ?? "ETIMEDOUT", call, "applied, reply lost");
    }
    return result;
  }

  const store: FaultyMetadataStore = {
    get kind() {
      return inner.kind;
    },
    inner,
    injected,
    calls,
    log,
    get callCount() {
      return callCount;
    },
    get crashed() {
      return crashedAt !== undefined;
    },
    get crashPoint() {
      return crashedAt;
    },
    takeCall,
    crash(point = plan.crashAt ?? { call: callCount, when: "before" }) {
      crashedAt ??= point;
    },
    get: (key) => run({ op: "get", key }, () => inner.get(key)),
    put: (item, options) =>
      run({ op: "put", item, condition: options?.condition }, () => inner.put(item, options)),
    update: (key, update, options) =>
      run({ op: "update", key, update, condition: options?.condition }, () =>
        inner.update(key, update, options),
      ),
    delete: (key, options) =>
      run({ op: "delete", key, condition: options?.condition }, () => inner.delete(key, options)),
    transact: (ops, options) =>
      run({ op: "transact", ops, token: options?.token }, () => inner.transact(ops, options)),
    transactGet: (keys) => run({ op: "transactGet", keys }, () => inner.transactGet(keys)),
    batchGet: (keys) => run({ op: "batchGet", keys }, () => inner.batchGet(keys)),
    query: (pk, options): Promise<QueryPage> =>
      run({ op: "query", pk, options }, () => inner.query(pk, options)),
    requestCounts: (): RequestCounts => inner.requestCounts(),
    resetRequestCounts: () => inner.resetRequestCounts(),
    // Closing is the harness's business (the inner store outlives the simulated process).
    close: async () => {},
  };
  return store;
}
