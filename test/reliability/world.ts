/**
 * The reliability harness's world: durable stores that outlive simulated processes, and
 * processes (engine + data plane + SDK client) booted on them with fault points on every
 * adapter call.
 *
 * ```ts
 * const world = await World.create({ backend: "memory", seed: 7 });
 * const proc = world.boot({ crashAt: { call: 12, when: "after" } });   // a process that will die
 * await proc.client.writeFile("/a", bytes).catch(...)                   // CrashError at call 12
 * const fresh = world.boot();                                           // restart on the same stores
 * await world.stateHash();                                              // every item + every object
 * ```
 *
 * Deterministic: one process, a fake clock (`world.clock`, +1 ms per reading, so HLC TIDs are
 * reproducible), every sleep (engine backoff, volume retry) advances the fake clock instead of
 * waiting, and every random draw comes from mulberry32(seed). (The data plane's intent ids use
 * `crypto.getRandomValues` and its append backoff `Math.random`: neither changes an outcome.)
 *
 * Crash = the process's store and volume wrappers die together (every later call rejects with
 * CrashError, so nothing the dead process still has in flight reaches the stores), the harness
 * drops the process, and `boot()` starts a new one on the same stores. One call counter spans
 * the store and every volume, so "crash before/after adapter call #n" covers both.
 */
import { createHash } from "node:crypto";
import {
  type DynamoFaultInjector,
  type DynamoFaultPlan,
  injectDynamoDbFaults,
  pauselessRetryStrategy,
} from "../../adapters/metadata/dynamodb-faults.ts";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { type FaultPlan, type FaultyVolumeDriver, faultyVolume } from "../../adapters/volumes/faulty.ts";
import { createDataPlane, type DataPlane, type DataPlaneAdmin } from "../../core/data/index.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { Item, MetadataStore } from "../../core/metadata/port.ts";
import type { FileSystem, Namespace } from "../../core/namespace/api.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { mulberry32 } from "../../core/random.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import type { VolumeDriver } from "../../core/volume/port.ts";
import { Volume } from "../../core/volume/volume.ts";
import { createClient, type Deployment } from "../../sdk/client.ts";
import type { Strata } from "../../sdk/types.ts";
import { freshDynamoDbStore } from "../support/dynamodb.ts";
import {
  CrashError,
  type CrashPoint,
  type FaultyMetadataStore,
  faultyStore,
  type StoreFaultPlan,
} from "../support/faulty-store.ts";

export const PFS = "p";
/** Small chunks so a few KB make a multi-chunk file (the data plane's minimum chunk size). */
export const CHUNK = 64 * 1024;
/** Files above this many bytes go to chunks (kept small so most data steps use volumes). */
export const INLINE = 16;
export const START_MS = Date.UTC(2026, 10, 21);

export interface WorldOptions {
  /** "dynamodb" needs `endpoint` (a DynamoDB Local): each world is a fresh table, deleted on dispose. */
  backend: "memory" | "sqlite" | "dynamodb";
  /** DynamoDB Local endpoint (backend "dynamodb" only). */
  endpoint?: string;
  seed: number;
  /** Volume names; the data plane writes one instance of each chunk to every one of them. */
  volumes?: string[];
  /** Namespace engine attempts before ECONFLICT (default the engine's). */
  maxAttempts?: number;
  /** The engine's test-only idempotency switch (counter-checks; default on). */
  idempotentCommits?: boolean;
  /**
   * Backend "dynamodb": DynamoDB's own faults injected at the SDK client
   * (adapters/metadata/dynamodb-faults.ts); the SDK retries without pauses (6 attempts).
   */
  dynamoFaults?: DynamoFaultPlan;
  /** Backend "dynamodb": the adapter's test-only fault handling switch (counter-checks; default on). */
  dynamoFaultHandling?: boolean;
}

export interface BootOptions {
  store?: Omit<StoreFaultPlan, "crashAt" | "sleep">;
  volumes?: Record<string, FaultPlan>;
  crashAt?: CrashPoint;
  /** Log store calls (default false: the bulk tiers do not need it). */
  log?: boolean;
  /** Sleep behind the store's `latency` faults (default the fake clock's, which does not wait). */
  sleep?: (ms: number) => Promise<void>;
}

/** DynamoDB faults injected at the SDK client by every world disposed so far, for the figures. */
export const sdkFaultTotals = {
  injected: {} as Record<string, number>,
  appliedButFailed: 0,
  /** "PutItem ok", "TransactWriteItems TransactionCanceledException"…: commands after the SDK's retries. */
  outcomes: new Map<string, number>(),
};

/** A fake clock: each reading advances it 1 ms; sleeping advances it by the time asked. */
export class FakeClock {
  constructor(public ms = START_MS) {}
  readonly now = (): number => this.ms++;
  readonly sleep = async (ms: number): Promise<void> => {
    this.ms += Math.max(0, Math.ceil(ms));
    await Promise.resolve();
  };
}

/**
 * Below the fault wrappers: remembers every partition key a write touched, so the whole store can
 * be read back (the MetadataStore port has no scan) for state hashes and reference checks.
 */
class RecordingStore implements MetadataStore {
  readonly pks = new Set<string>();
  constructor(
    readonly inner: MetadataStore,
    readonly writes: { count: number },
  ) {}
  get kind() {
    return this.inner.kind;
  }
  get: MetadataStore["get"] = (k) => this.inner.get(k);
  put: MetadataStore["put"] = (item, o) => {
    this.writes.count++;
    this.pks.add(item.pk);
    return this.inner.put(item, o);
  };
  update: MetadataStore["update"] = (k, u, o) => {
    this.writes.count++;
    this.pks.add(k.pk);
    return this.inner.update(k, u, o);
  };
  delete: MetadataStore["delete"] = (k, o) => {
    this.writes.count++;
    return this.inner.delete(k, o);
  };
  transact: MetadataStore["transact"] = (ops, o) => {
    this.writes.count++;
    for (const op of ops) if (op.kind !== "check") this.pks.add(op.kind === "put" ? op.item.pk : op.key.pk);
    return this.inner.transact(ops, o);
  };
  transactGet: MetadataStore["transactGet"] = (k) => this.inner.transactGet(k);
  batchGet: MetadataStore["batchGet"] = (k) => this.inner.batchGet(k);
  query: MetadataStore["query"] = (pk, o) => this.inner.query(pk, o);
  requestCounts = () => this.inner.requestCounts();
  resetRequestCounts = () => this.inner.resetRequestCounts();
  close = () => this.inner.close();
}

/** One simulated process: everything that is lost in a crash. */
export interface Proc {
  store: FaultyMetadataStore;
  volumes: Record<string, FaultyVolumeDriver>;
  namespace: Namespace;
  data: DataPlane & DataPlaneAdmin;
  fs: FileSystem;
  client: Strata;
  deployment: Deployment;
  /** DynamoDB faults injected at the SDK client (backend "dynamodb" with `dynamoFaults`). */
  sdkFaults?: DynamoFaultInjector;
}

export class World {
  readonly clock = new FakeClock();
  readonly random: () => number;
  readonly drivers: Record<string, MemoryVolumeDriver>;
  /** Adapter calls of every process booted so far (store + volumes), for the figures. */
  callsSeen = 0;
  /** The SDK-level DynamoDB fault injector (WorldOptions.dynamoFaults). */
  sdkFaults?: DynamoFaultInjector;
  private readonly procs: Proc[] = [];

  private lastHash: { writes: number; hash: string } | undefined;
  /** Closes (and for DynamoDB deletes) the durable store. */
  private disposeStore: () => Promise<void> = () => this.store.inner.close();

  private constructor(
    readonly options: WorldOptions,
    readonly store: RecordingStore,
    /** Write calls that reached the store or a volume (successful or not), for the hash cache. */
    readonly writes: { count: number },
  ) {
    this.random = mulberry32(options.seed);
    this.drivers = Object.fromEntries(
      (options.volumes ?? ["v1"]).map((name) => [name, new MemoryVolumeDriver(name)]),
    );
  }

  /** A world with an empty store and (unless `empty`: for copying another world in) the PFS `p`. */
  static async create(options: WorldOptions, empty = false): Promise<World> {
    let inner: MetadataStore;
    let disposeStore: (() => Promise<void>) | undefined;
    let sdkFaults: DynamoFaultInjector | undefined;
    if (options.backend === "dynamodb") {
      if (!options.endpoint) throw new Error("World: backend dynamodb needs an endpoint (DynamoDB Local)");
      const fresh = await freshDynamoDbStore(options.endpoint, "strata-reliability", {
        ...(options.dynamoFaults ? { clientConfig: { retryStrategy: pauselessRetryStrategy(6) } } : {}),
        ...(options.dynamoFaultHandling === false ? { faultHandling: false } : {}),
      });
      inner = fresh.store;
      disposeStore = fresh.dispose;
      if (options.dynamoFaults) sdkFaults = injectDynamoDbFaults(fresh.store.client, options.dynamoFaults);
    } else
      inner =
        options.backend === "sqlite"
          ? new SqliteMetadataStore({ path: ":memory:" })
          : new MemoryMetadataStore();
    const writes = { count: 0 };
    const world = new World(options, new RecordingStore(inner, writes), writes);
    if (disposeStore) world.disposeStore = disposeStore;
    world.sdkFaults = sdkFaults;
    if (!empty) await world.boot().namespace.createPfs(PFS);
    return world;
  }

  /** Start a process on the world's stores (fault-free unless a plan says otherwise). */
  boot(options: BootOptions = {}): Proc {
    const store = faultyStore(this.store, {
      ...options.store,
      crashAt: options.crashAt,
      sleep: options.sleep ?? this.clock.sleep,
      log: options.log ?? false,
    });
    const volumes: Record<string, FaultyVolumeDriver> = {};
    const entries: Record<string, { volume: Volume }> = {};
    for (const [name, driver] of Object.entries(this.drivers)) {
      const crashable = crashableDriver(driver, store, this.writes);
      volumes[name] = faultyVolume(crashable, { seed: this.options.seed, ...options.volumes?.[name] });
      entries[name] = {
        volume: new Volume(volumes[name], { sleep: this.clock.sleep, random: this.random }),
      };
    }
    const namespace = createNamespace({
      store,
      clock: this.clock.now,
      random: this.random,
      options: {
        sleep: this.clock.sleep,
        ...(this.options.maxAttempts ? { maxAttempts: this.options.maxAttempts } : {}),
        ...(this.options.idempotentCommits === false ? { idempotentCommits: false } : {}),
      },
    });
    const names = Object.keys(this.drivers);
    const data = createDataPlane({
      store,
      volumes: entries,
      defaultVolume: names[0]!,
      chooseVolumes: () => names,
      chunkSize: CHUNK,
      inlineThreshold: INLINE,
      clock: this.clock.now,
    });
    const fs = namespace.pfs(PFS);
    const deployment: Deployment = {
      namespace,
      data,
      openPfs: async (name) => namespace.pfs(name),
      close: async () => {},
    };
    const proc: Proc = {
      store,
      volumes,
      namespace,
      data,
      fs,
      client: createClient(deployment, PFS),
      deployment,
      ...(this.sdkFaults ? { sdkFaults: this.sdkFaults } : {}),
    };
    this.procs.push(proc);
    return proc;
  }

  /** Every item of the store (partitions any write touched), sorted. */
  async items(): Promise<Item[]> {
    const out: Item[] = [];
    for (const pk of [...this.store.pks].sort()) {
      let cursor: string | undefined;
      do {
        const page = await this.store.inner.query(pk, cursor === undefined ? {} : { cursor });
        out.push(...page.items);
        cursor = page.cursor;
      } while (cursor !== undefined);
    }
    return out;
  }

  /** Every object of every volume: volume → key → bytes. */
  objects(): Map<string, Map<string, Uint8Array>> {
    const out = new Map<string, Map<string, Uint8Array>>();
    for (const [name, driver] of Object.entries(this.drivers)) {
      out.set(name, new Map([...driver.objects].map(([key, stored]) => [key, stored.bytes])));
    }
    return out;
  }

  /**
   * A digest of the whole durable state: every item of the store + every volume object. Cached
   * until the next write call reaches the store or a volume through this world (a state no write
   * reached cannot have changed); poking `drivers[...].objects` directly bypasses the cache.
   */
  async stateHash(): Promise<string> {
    if (this.lastHash?.writes === this.writes.count) return this.lastHash.hash;
    const writes = this.writes.count;
    const hash = await this.computeHash();
    this.lastHash = { writes, hash };
    return hash;
  }

  private async computeHash(): Promise<string> {
    const h = createHash("sha256");
    for (const item of await this.items()) h.update(`${stableJson(item)}\n`);
    for (const [volume, objects] of this.objects()) {
      for (const key of [...objects.keys()].sort()) {
        h.update(`${volume}/${key}\n`);
        h.update(objects.get(key)!);
      }
    }
    return h.digest("hex");
  }

  async dispose(): Promise<void> {
    this.procs.length = 0;
    if (this.sdkFaults) {
      for (const [k, v] of Object.entries(this.sdkFaults.injected))
        sdkFaultTotals.injected[k] = (sdkFaultTotals.injected[k] ?? 0) + v;
      sdkFaultTotals.appliedButFailed += this.sdkFaults.appliedButFailed.count;
      for (const [k, v] of this.sdkFaults.outcomes)
        sdkFaultTotals.outcomes.set(k, (sdkFaultTotals.outcomes.get(k) ?? 0) + v);
    }
    await this.disposeStore();
  }
}

/**
 * A volume driver that shares the store's fate: once the simulated process crashed every call
 * rejects with CrashError; each call takes a number from the store's call counter (so crash
 * points count volume calls too) and a crash point on that number kills the process.
 */
function crashableDriver(
  inner: VolumeDriver,
  store: FaultyMetadataStore,
  writes: { count: number },
): VolumeDriver {
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    const point = store.takeCall();
    if (point === "before") throw new CrashError(store.crashPoint!);
    try {
      const result = await fn();
      if (point === "after") throw new CrashError(store.crashPoint ?? { call: -1, when: "after" });
      return result;
    } finally {
      // Applied (or failed) — either way the process is dead now and its reply is lost.
      if (point === "after") store.crash();
    }
  };
  const driver: VolumeDriver = {
    name: inner.name,
    capabilities: inner.capabilities,
    put: (key, body, options) =>
      guard(() => {
        writes.count++;
        return inner.put(key, body, options);
      }),
    get: (key, options) => guard(() => inner.get(key, options)),
    head: (key, options) => guard(() => inner.head(key, options)),
    list: (prefix, options) => guard(() => inner.list(prefix, options)),
    delete: (key, options) =>
      guard(() => {
        writes.count++;
        return inner.delete(key, options);
      }),
  };
  if (inner.copy) {
    const copy = inner.copy.bind(inner);
    driver.copy = (source, target, options) =>
      guard(() => {
        writes.count++;
        return copy(source, target, options);
      });
  }
  return driver;
}

/** JSON with sorted keys and bytes as hex, so equal items always serialise the same. */
export function stableJson(value: unknown): string {
  if (value instanceof Uint8Array) return `"b:${Buffer.from(value).toString("hex")}"`;
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(obj[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "undefined";
}
