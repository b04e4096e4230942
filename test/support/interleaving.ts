/**
 * The chunk lifecycle's interleaving harness (test/unit/chunk-lifecycle-interleaving.test.ts and
 * its SQLite / DynamoDB Local variants in test/adapters): a deterministic scheduler over the
 * MetadataStore and the Volume — every call a task makes is an await point the scheduler releases
 * — and scenarios, one per chunk writer, run with an applying vacuum and a second writer of the
 * same bytes injected at every await point of the writer, then checked:
 *
 *   - the writer and the second writer succeeded;
 *   - fsck is clean;
 *   - every committed file reads back byte-exact;
 *   - no `present` instance record lacks its object;
 *   - after the clock passes every intent and lease and two more vacuums run, every chunk object
 *     left on the volume is referenced (vacuum's `cref#`), and the files still read back.
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { nodeSha256 } from "../../adapters/data/sha256.ts";
import { crc32c } from "../../core/crc32c.ts";
import { chunkObjectKey, chunkPk, decodeInstance, instanceKey } from "../../core/data/chunk-items.ts";
import { presentItem } from "../../core/data/chunks.ts";
import { createDataPlane } from "../../core/data/plane.ts";
import { stagingKey } from "../../core/data/uploads.ts";
import { isStrataError, strataError } from "../../core/errors.ts";
import { crefPk } from "../../core/maintenance/common.ts";
import { fsck } from "../../core/maintenance/fsck.ts";
import { scrub } from "../../core/maintenance/scrub.ts";
import { vacuum } from "../../core/maintenance/vacuum.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import {
  createMirror,
  exchange,
  localSource,
  type MasterRef,
  promoteMirror,
  restoreBackup,
  runMirror,
  startExchange,
  writeBackup,
} from "../../core/mirror/index.ts";
import type { StreamSource } from "../../core/mirror/port.ts";
import { createNamespace, type Namespace } from "../../core/namespace/index.ts";
import { Placement } from "../../core/placement/index.ts";
import type { VolumeRecord } from "../../core/placement/placement-items.ts";
import { mulberry32 } from "../../core/random.ts";
import { setRetention } from "../../core/retention/store.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { fixedRegistry, type VolumeRegistry } from "../../core/volume/registry.ts";
import { Volume } from "../../core/volume/volume.ts";
import { invoke } from "../../functions/api/handle.ts";
import type { Services } from "../../functions/api/services.ts";
import { testPrincipal } from "./principals.ts";

const tasks = new AsyncLocalStorage<string>();

/**
 * Releases one gated task at a time. A task is started with `spawn`; every store/volume call it
 * makes waits at `gate` until the scheduler picks it. Calls outside any task pass straight through.
 */
export class Scheduler {
  /** Calls waiting at a gate, per task, first come first released (a task may run calls in parallel). */
  private readonly waiting = new Map<string, Array<{ resume: () => void; sleep: boolean }>>();
  /** Gate arrivals so far (quiescence: none for a few turns). */
  private arrivals = 0;
  private readonly alive = new Map<string, Promise<void>>();
  readonly errors = new Map<string, unknown>();
  /** Gates passed per task. */
  readonly passed = new Map<string, number>();
  /** Called as a task reaches each gate (before it waits), with how many it passed. */
  onGate: (task: string, count: number) => void = () => {};

  /** `sleep`: the task is waiting out time (a lease), not making a call. */
  async gate(sleep = false): Promise<void> {
    const task = tasks.getStore();
    if (!task || !this.alive.has(task)) return;
    const count = this.passed.get(task) ?? 0;
    this.passed.set(task, count + 1);
    this.onGate(task, count);
    this.arrivals++;
    await new Promise<void>((resolve) => {
      const list = this.waiting.get(task) ?? [];
      list.push({ resume: resolve, sleep });
      this.waiting.set(task, list);
    });
  }

  spawn(name: string, body: () => Promise<unknown>): void {
    this.alive.set(name, Promise.resolve()); // before its first call reaches a gate
    const run = tasks.run(name, async () => {
      try {
        await body();
      } catch (err) {
        this.errors.set(name, err);
      }
    });
    void run.finally(() => this.alive.delete(name));
  }

  /** Run every spawned task to its end, releasing gated ones in an order `pick` chooses. */
  async drain(pick: (gated: Array<{ task: string; sleeping: boolean }>) => string): Promise<void> {
    for (;;) {
      let spins = 0;
      let quiet = 0;
      const since = Date.now();
      let seen = this.arrivals;
      const waits = (t: string) => (this.waiting.get(t)?.length ?? 0) > 0;
      // Quiescent: every live task waits at a gate and nothing arrived for a few turns.
      while ([...this.alive.keys()].some((t) => !waits(t)) || quiet < 3) {
        spins++;
        if (this.arrivals === seen) quiet++;
        else {
          quiet = 0;
          seen = this.arrivals;
        }
        // Mostly in-memory promises; a task waiting on a real timer (a group-commit tick) needs a tick.
        if (spins % 200 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
        else await new Promise((resolve) => setImmediate(resolve));
        // A hang detector, not a speed check: many turns AND a long wall time (a real store —
        // DynamoDB Local on a loaded machine — can keep a task off its gate for 200k turns).
        if (spins > 200_000 && Date.now() - since > 120_000)
          throw new Error(`scheduler: tasks ${[...this.alive.keys()]} never reached a gate`);
      }
      if (this.alive.size === 0) return;
      const gated = [...this.alive.keys()]
        .sort()
        .map((task) => ({ task, sleeping: this.waiting.get(task)![0]!.sleep }));
      const task = pick(gated);
      this.waiting.get(task)!.shift()!.resume();
    }
  }
}

function gated<T extends object>(target: T, sched: Scheduler, methods: string[]): T {
  return new Proxy(target, {
    get(t, prop, receiver) {
      const value = Reflect.get(t, prop, receiver);
      if (typeof value !== "function") return value;
      if (typeof prop === "string" && methods.includes(prop))
        return async (...args: unknown[]) => {
          await sched.gate();
          return (value as (...a: unknown[]) => Promise<unknown>).apply(t, args);
        };
      return value.bind(t);
    },
  });
}

const STORE_METHODS = ["get", "put", "update", "delete", "transact", "batchGet", "query"];
const VOLUME_METHODS = ["put", "get", "getBytes", "head", "delete", "copy"];

export const CHUNK = 64 * 1024;
/** The bytes every scenario writes: two chunks (one full, one tail), also the garbage's bytes. */
export function theBytes(): Uint8Array {
  const b = new Uint8Array(70_000);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

export interface Env {
  sched: Scheduler;
  store: MetadataStore;
  raw: MetadataStore;
  volume: Volume;
  volumes: Record<string, Volume>;
  /** The same volumes as the deployment's one registry (what vacuum, scrub and mirror runs take). */
  registry: VolumeRegistry;
  ns: Namespace;
  data: ReturnType<typeof createDataPlane>;
  clock: () => number;
  advance: (ms: number) => void;
  /** Files that must read back, by PFS and path. */
  expected: Map<string, { pfs: string; path: string; bytes: Uint8Array }>;
  /** Chunks whose `present` records the checks look at besides those of listed objects and files. */
  watch: Set<string>;
}

/**
 * A fresh deployment on `raw` with PFS `main`, and PFS `g` whose file once held `theBytes()`
 * (unlinked, its history past retention): the next applying vacuum deletes those chunks unless
 * something protects them — the most dangerous start for any writer of the same bytes.
 */
export async function freshEnv(
  raw: MetadataStore,
  extraVolumes: string[] = [],
  start = Date.UTC(2026, 0, 5, 12),
): Promise<Env> {
  const sched = new Scheduler();
  let now = start;
  const clock = () => now;
  const advance = (ms: number) => {
    now += ms;
  };
  const store = gated(raw, sched, STORE_METHODS);
  const volume = gated(new Volume(new MemoryVolumeDriver("v")), sched, VOLUME_METHODS);
  const volumes: Record<string, Volume> = { v: volume };
  for (const name of extraVolumes)
    volumes[name] = gated(new Volume(new MemoryVolumeDriver(name)), sched, VOLUME_METHODS);
  const sleep = async (ms: number) => {
    now += ms;
    await sched.gate(true);
  };
  const ns = createNamespace({
    store,
    site: 1,
    clock,
    random: mulberry32(1),
    options: { sleep: async () => {} },
  });
  const data = createDataPlane({
    store,
    volumes,
    defaultVolume: "v",
    inlineThreshold: 16,
    chunkSize: CHUNK,
    clock,
    sleep,
  });
  await ns.createPfs("main");
  await ns.createPfs("g");
  const g = ns.pfs("g");
  await data.writeFile(g, "/x", theBytes());
  await g.unlink("/x");
  advance(3 * 3600_000);
  await setRetention(store, "g", "all 1h", clock);
  return {
    sched,
    store,
    raw,
    volume,
    volumes,
    registry: fixedRegistry(volumes),
    ns,
    data,
    clock,
    advance,
    expected: new Map(),
    watch: new Set(),
  };
}

export function applyingVacuum(env: Env) {
  return vacuum({
    store: env.store,
    namespace: env.ns,
    volumes: env.registry,
    apply: true,
    clock: env.clock,
    sleep: async () => {},
    readerGraceMs: 0,
  });
}

/** One chunk writer under test: `setup` (not scheduled), then `write` (scheduled). */
export interface Scenario {
  name: string;
  /** Volumes besides `v` (the data plane writes to `v`; vacuum and the checks see them all). */
  volumes?: string[];
  setup?: (env: Env) => Promise<Record<string, unknown>>;
  write: (env: Env, ctx: Record<string, unknown>) => Promise<void>;
  /**
   * Writer mode only (vacuum injected at the writer's await points): for a writer that moves the
   * clock by hours, which injected mid-vacuum would stall the vacuum between its lease check and
   * its delete — a breach of vacuum's own bound (it checks its lease only before each delete,
   * docs/maintenance.md), not the writer's.
   */
  writerModeOnly?: boolean;
}

const expect = (env: Env, pfs: string, path: string, bytes: Uint8Array) =>
  env.expected.set(`${pfs}:${path}`, { pfs, path, bytes });

export const SCENARIOS: Scenario[] = [
  {
    name: "data plane writeFile",
    write: async (env) => {
      expect(env, "main", "/w", theBytes());
      await env.data.writeFile(env.ns.pfs("main"), "/w", theBytes());
    },
  },
  {
    name: "data plane appendFile",
    setup: async (env) => {
      await env.data.writeFile(env.ns.pfs("main"), "/w", theBytes().subarray(0, 60_000));
      return {};
    },
    write: async (env) => {
      expect(env, "main", "/w", theBytes());
      await env.data.appendFile(env.ns.pfs("main"), "/w", theBytes().subarray(60_000));
    },
  },
  {
    name: "data plane truncate",
    setup: async (env) => {
      const longer = new Uint8Array(80_000);
      longer.set(theBytes());
      longer.fill(9, 70_000);
      await env.data.writeFile(env.ns.pfs("main"), "/w", longer);
      return {};
    },
    write: async (env) => {
      expect(env, "main", "/w", theBytes());
      await env.data.truncate(env.ns.pfs("main"), "/w", 70_000);
    },
  },
  {
    name: "mirror apply",
    setup: async (env) => {
      const source = await sourceDeployment(env);
      const target = { ns: env.ns, volumes: env.registry, clock: env.clock, sleep: sleepOf(env) };
      await createMirror(target, { name: "copy", source, volumes: ["v"] });
      return { source, target };
    },
    write: async (env, ctx) => {
      expect(env, "copy", "/a", theBytes());
      await runMirror(
        ctx.target as Parameters<typeof runMirror>[0],
        "copy",
        ctx.source as Parameters<typeof runMirror>[2],
      );
    },
  },
  {
    name: "backup restore",
    setup: async (env) => {
      // A bundle of another deployment's PFS on a volume of its own (not scheduled).
      const source = await sourceDeployment(env);
      const bundles = new Volume(new MemoryVolumeDriver("bundles"));
      const manifest = await writeBackup({ source, volume: bundles, prefix: "b", clock: env.clock });
      return { bundles, bundle: manifest.id };
    },
    write: async (env, ctx) => {
      expect(env, "restored", "/a", theBytes());
      await restoreBackup(
        { ns: env.ns, volumes: env.registry, clock: env.clock, sleep: sleepOf(env) },
        {
          name: "restored",
          volume: ctx.bundles as Volume,
          prefix: "b",
          bundle: String(ctx.bundle),
          volumes: ["v"],
        },
      );
    },
  },
  {
    // The source pruned past the mirror's sync TID: `read` answers EPRUNED (what a pruned source
    // says), so runMirror falls back to fullResync, which copies the chunks and applies the state.
    name: "mirror full resync",
    setup: async (env) => {
      const source = await sourceDeployment(env);
      const pruned: StreamSource = {
        ...source,
        read: async () => {
          throw strataError("EPRUNED", "pruned past the mirror's sync TID (test source)");
        },
      };
      const target = { ns: env.ns, volumes: env.registry, clock: env.clock, sleep: sleepOf(env) };
      await createMirror(target, { name: "copy", source, volumes: ["v"] });
      return { source: pruned, target };
    },
    write: async (env, ctx) => {
      expect(env, "copy", "/a", theBytes());
      const report = await runMirror(
        ctx.target as Parameters<typeof runMirror>[0],
        "copy",
        ctx.source as StreamSource,
      );
      if (report.mode !== "full") throw new Error(`expected a full resync, got ${report.mode}`);
    },
  },
  {
    // Two masters: `mm` here (a promoted mirror of the other deployment's `main`) exchanges with
    // the other side, which wrote /a twice after the promotion: the first version's chunk is
    // copied here but no merged version references it (the merge keeps the final state), so the
    // exchange must hand it to vacuum rather than leak it.
    name: "multi-master exchange",
    setup: async (env) => {
      const other = await otherDeployment(env);
      const source = localSource({
        ns: other.ns,
        pfs: "main",
        store: other.store,
        volumes: fixedRegistry(other.volumes),
      });
      const target = { ns: env.ns, volumes: env.registry, clock: env.clock, sleep: sleepOf(env) };
      await createMirror(target, { name: "mm", source, volumes: ["v"] });
      const run = await runMirror(target, "mm", source);
      await promoteMirror(target, "mm");
      await other.data.writeFile(other.ns.pfs("main"), "/a", new Uint8Array(1000).fill(5));
      await other.data.writeFile(other.ns.pfs("main"), "/a", theBytes());
      const local: MasterRef = {
        ns: env.ns,
        pfs: "mm",
        site: "here",
        volumes: env.registry,
        place: ["v"],
        clock: env.clock,
        sleep: sleepOf(env),
      };
      await startExchange(local, "there", run.to);
      return { local, source };
    },
    write: async (env, ctx) => {
      expect(env, "mm", "/a", theBytes());
      await exchange(ctx.local as MasterRef, ctx.source as StreamSource, "there");
    },
  },
  {
    // upload.commit through the API's invoke (admin principal): the chunks were staged on `v` by
    // upload.begin + upload.chunks + the client's PUTs (setup); the commit verifies, promotes and
    // records them, then commits main:/u.
    name: "upload.commit",
    setup: async (env) => {
      const services = apiServices(env);
      const call = (op: string, input: unknown) =>
        invoke(services, testPrincipal(), op, input, { pfs: "main" });
      const bytes = theBytes();
      const pieces = [bytes.subarray(0, CHUNK), bytes.subarray(CHUNK)];
      const extents = pieces.map((piece, i) => ({
        offset: i * CHUNK,
        length: piece.byteLength,
        chunk: String(nodeSha256(piece)),
        crc32c: crc32c(piece),
      }));
      const begun = (await call("upload.begin", { path: "/u" })) as { uploadId: string };
      await call("upload.chunks", {
        uploadId: begun.uploadId,
        chunks: extents.map((e) => ({ sha256: e.chunk, size: e.length, crc32c: e.crc32c })),
      });
      for (const [i, e] of extents.entries())
        await env.volumes.v!.put(stagingKey(begun.uploadId, e.chunk), pieces[i]!, {
          size: e.length,
          crc32c: e.crc32c,
        });
      return { call, uploadId: begun.uploadId, extents };
    },
    write: async (env, ctx) => {
      expect(env, "main", "/u", theBytes());
      const call = ctx.call as (op: string, input: unknown) => Promise<unknown>;
      await call("upload.commit", {
        path: "/u",
        uploadId: ctx.uploadId,
        content: { size: theBytes().byteLength, extents: ctx.extents },
      });
    },
  },
  {
    // Placement moves main:/p from `v` to `w` (site eu): copy → verify → commit → trim (of `v`).
    // The second writer of the same bytes writes to `v`, the volume trim empties.
    name: "placement copy/commit/trim",
    volumes: ["w"],
    setup: async (env) => {
      await env.data.writeFile(env.ns.pfs("main"), "/p", theBytes());
      const placement = placementOf(env);
      await placement.setObjectives("main", "/p", "place 1 on site:eu");
      return { placement };
    },
    write: async (env, ctx) => {
      expect(env, "main", "/p", theBytes());
      const placement = ctx.placement as Placement;
      let state = await placement.copy({ pfs: "main", path: "/p" });
      state = await placement.verify(state);
      state = await placement.commit(state);
      env.advance(placement.graceMs);
      await placement.trim(state);
    },
  },
  {
    // Placement's Commit resumed long after its Copy (a workflow paused for hours): the Copy's
    // intent has expired and the file was deleted and pruned meanwhile, so a vacuum may take the
    // copy on `w` while Commit records it. Only the record condition (rule 3) keeps Commit off a
    // live `deleting` mark, and `confirmRecorded` finds a copy vacuum deleted before Commit wrote
    // its record. Commit then fails EIO (nothing to place any more); it must leave no `present`
    // record without its object.
    name: "placement commit after its intent lapsed",
    volumes: ["w"],
    setup: async (env) => {
      const main = env.ns.pfs("main");
      await env.data.writeFile(main, "/p", theBytes());
      const placement = placementOf(env);
      await placement.setObjectives("main", "/p", "place 1 on site:eu");
      let state = await placement.copy({ pfs: "main", path: "/p" });
      state = await placement.verify(state);
      await main.unlink("/p");
      await setRetention(env.store, "main", "all 1h", env.clock);
      env.advance(7 * 3600_000); // past the Copy's intent (6 h, core/placement/steps.ts) and retention
      for (const sha of chunkShas(theBytes())) env.watch.add(sha);
      return { placement, state };
    },
    write: async (_env, ctx) => {
      const placement = ctx.placement as Placement;
      await placement.commit(ctx.state as Awaited<ReturnType<Placement["verify"]>>).catch((err: unknown) => {
        if (!isStrataError(err, "EIO")) throw err; // its copy was collected: nothing recorded
      });
    },
  },
  {
    // A data-plane writeFile whose upload outlives its intent: the fake clock jumps past the
    // intent's TTL (and vacuum's skew allowance) right after its first chunk's object is put.
    // One chunk in flight at a time, so the second chunk's announcement renews the lapsed intent
    // before the records: a vacuum that met the expired intent in between deleted the first
    // object. The bytes are new (no instance to reuse), so the writer's instance records are the
    // deferred ones; they must not be written after the lapse. The write fails ETIMEDOUT; a
    // writeFile of the same bytes after it must upload them again and read back.
    name: "data plane writeFile after its intent lapsed",
    writerModeOnly: true,
    setup: async (env) => {
      const bytes = theBytes().map((b) => b ^ 0x5a);
      let lapsed = false;
      const volume = new Proxy(env.volume, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver);
          if (prop === "put")
            return async (...args: Parameters<Volume["put"]>) => {
              const out = await target.put(...args);
              if (!lapsed && args[0].startsWith("chunks/")) {
                lapsed = true;
                env.advance(LAPSE_MS);
              }
              return out;
            };
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const slow = createDataPlane({
        store: env.store,
        volumes: { ...env.volumes, v: volume },
        defaultVolume: "v",
        inlineThreshold: 16,
        chunkSize: CHUNK,
        parallelism: 1,
        intentTtlMs: INTENT_TTL_MS,
        clock: env.clock,
        sleep: sleepOf(env),
      });
      for (const sha of chunkShas(bytes)) env.watch.add(sha);
      return { slow, bytes };
    },
    write: async (env, ctx) => {
      const bytes = ctx.bytes as Uint8Array;
      const main = env.ns.pfs("main");
      expect(env, "main", "/l", bytes); // a write that wrongly succeeds must read back too
      const failed = await (ctx.slow as Env["data"]).writeFile(main, "/l", bytes).then(
        () => undefined,
        (err: unknown) => err,
      );
      if (!isStrataError(failed, "ETIMEDOUT"))
        throw new Error(`the lapsed write should fail ETIMEDOUT, got ${String(failed ?? "success")}`);
      await env.data.writeFile(main, "/l", bytes);
    },
  },
  {
    // Scrub repairs the first chunk's copy on `w` (recorded `present`, object gone) from `v`. The
    // chunk is the garbage one (PFS g), so the vacuum deletes it meanwhile: the repair must not
    // leave an object nobody can find, nor a `present` record without its object.
    name: "scrub repair",
    volumes: ["w"],
    setup: async (env) => {
      const bytes = theBytes();
      const pieces = [bytes.subarray(0, CHUNK), bytes.subarray(CHUNK)];
      for (const piece of pieces) {
        const ref = { chunk: String(nodeSha256(piece)), size: piece.byteLength, crc32c: crc32c(piece) };
        await env.volumes.w!.put(chunkObjectKey(ref.chunk), piece, { size: ref.size, crc32c: ref.crc32c });
        await env.store.put(presentItem(ref, "w", env.clock()));
      }
      await env.volumes.w!.delete(chunkObjectKey(String(nodeSha256(pieces[0]!))));
      return {};
    },
    write: async (env) => {
      const run = async () => {
        const report = await scrub({
          store: env.store,
          volumes: env.registry,
          clock: env.clock,
          sleep: async () => {},
          restart: true,
        });
        if (!report.complete) throw new Error("scrub did not complete");
      };
      await run();
      // Scrub leaves an instance vacuum has marked `deleting` alone (the setup's stale `present`
      // stays if vacuum then keeps the chunk): the next scrub, after vacuum let go, repairs it.
      const key = instanceKey(String(nodeSha256(theBytes().subarray(0, CHUNK))), "w");
      let marked = false;
      while ((await env.store.get(key))?.state === "deleting") {
        marked = true;
        await sleepOf(env)(1);
      }
      if (marked) await run();
    },
  },
];

/** The lapsed-write scenario's intent TTL, and the clock jump past it and vacuum's skew allowance. */
const INTENT_TTL_MS = 3_600_000;
const LAPSE_MS = INTENT_TTL_MS + 5 * 60_000;

/** The SHA-256 of each CHUNK-sized piece of `bytes`. */
function chunkShas(bytes: Uint8Array): string[] {
  const out: string[] = [];
  for (let at = 0; at < bytes.byteLength; at += CHUNK)
    out.push(String(nodeSha256(bytes.subarray(at, at + CHUNK))));
  return out;
}

/** API services over the env (presigned URLs are never used: the test stages the objects itself). */
function apiServices(env: Env): Services {
  const presigner = {
    presign: async (r: { key: string; method: "GET" | "PUT" }) => ({
      url: `memory://${r.key}`,
      method: r.method,
      headers: {},
      expiresAt: new Date(env.clock() + 900_000).toISOString(),
    }),
  };
  const volumes = fixedRegistry(
    Object.fromEntries(
      Object.entries(env.volumes).map(([name, volume]) => [name, { volume, kind: "memory", presigner }]),
    ),
  );
  return {
    namespace: env.ns,
    data: env.data,
    store: env.store,
    volumes,
    clock: env.clock,
    sha256: nodeSha256,
    sleep: sleepOf(env),
    deployment: { name: "interleaving", startedAt: 0, runtime: "test" },
  } as unknown as Services;
}

/** Placement over the env's store and volumes (`w` is site eu). */
function placementOf(env: Env): Placement {
  const records: VolumeRecord[] = Object.keys(env.volumes).map((name) => ({
    name,
    kind: "memory",
    config: {},
    state: "active",
    cost: 1,
    created: 0,
    time: 0,
    ...(name === "w" ? { site: "eu" } : {}),
  }));
  return new Placement({
    store: env.store,
    namespace: env.ns,
    volumes: {
      list: async () => records,
      volume: async (name) => env.volumes[name]!,
      invalidate: () => {},
    },
    defaultVolume: async () => "v",
    clock: env.clock,
    random: mulberry32(3),
    graceMs: 1000,
    sleep: sleepOf(env),
  });
}

/** Another deployment (its own store and volume, not scheduled) with an empty PFS `main`. */
async function otherDeployment(env: Env) {
  const store = new MemoryMetadataStore();
  const volumes = { s: new Volume(new MemoryVolumeDriver("s")) };
  const ns = createNamespace({ store, site: 2, clock: env.clock, random: mulberry32(2) });
  const data = createDataPlane({
    store,
    volumes,
    defaultVolume: "s",
    inlineThreshold: 16,
    chunkSize: CHUNK,
    clock: env.clock,
  });
  await ns.createPfs("main");
  return { store, volumes, ns, data };
}

/** Another deployment whose PFS `main` holds `/a` = the bytes, as a mirror source. */
async function sourceDeployment(env: Env) {
  const other = await otherDeployment(env);
  await other.data.writeFile(other.ns.pfs("main"), "/a", theBytes());
  return localSource({
    ns: other.ns,
    pfs: "main",
    store: other.store,
    volumes: fixedRegistry(other.volumes),
  });
}

const sleepOf = (env: Env) => async (ms: number) => {
  env.advance(ms);
  await env.sched.gate(true);
};

export interface RunResult {
  ok: boolean;
  problems: string[];
}

/**
 * The first task of `order` that is gated on a call; else (all of them waiting out a lease) the
 * first gated at all — so a writer waiting out a vacuum's lease lets the vacuum go on.
 */
function byPriority(order: string[]) {
  return (gated: Array<{ task: string; sleeping: boolean }>) => {
    const rank = (t: string) => {
      const i = order.indexOf(t);
      return i < 0 ? order.length : i;
    };
    const sorted = [...gated].sort((a, b) => rank(a.task) - rank(b.task));
    return (sorted.find((g) => !g.sleeping) ?? sorted[0]!).task;
  };
}

/**
 * One run. Mode "writer": `scenario`'s writer runs alone until its `at`-th await point; there an
 * applying vacuum (and, by `seed % 3`, a second writer of the same bytes after or before it) joins
 * and runs first, then the writer goes on. Mode "vacuum": the vacuum runs alone until its `at`-th await
 * point; there the writer and the second writer join and run first (a lease wait yields to the
 * vacuum). `at` beyond the last point: the first task runs alone, then the others.
 */
export async function runOnce(
  makeStore: () => MetadataStore | Promise<MetadataStore>,
  scenario: Scenario,
  mode: "writer" | "vacuum",
  at: number,
  seed: number,
  start?: number,
): Promise<RunResult & { points: number; vacuumReport: unknown }> {
  const env = await freshEnv(await makeStore(), scenario.volumes, start);
  const ctx = scenario.setup ? await scenario.setup(env) : {};
  const { sched } = env;
  let vacuumReport: Awaited<ReturnType<typeof applyingVacuum>> | undefined;
  const spawn = {
    writer: () => sched.spawn("writer", () => scenario.write(env, ctx)),
    vacuum: () =>
      sched.spawn("vacuum", async () => {
        vacuumReport = await applyingVacuum(env);
      }),
    second: () =>
      sched.spawn("second", async () => {
        expect(env, "main", "/second", theBytes());
        await env.data.writeFile(env.ns.pfs("main"), "/second", theBytes());
      }),
  };
  const first = mode === "writer" ? "writer" : "vacuum";
  // seed % 3: 0 → the other alone, 1 → the other then the second writer, 2 → the second writer first.
  const other = mode === "writer" ? "vacuum" : "writer";
  const others = [[other], [other, "second"], ["second", other]][seed % 3]!;
  let joined = false;
  const join = () => {
    if (joined) return;
    joined = true;
    for (const t of others) spawn[t as keyof typeof spawn]();
  };
  sched.onGate = (task, count) => {
    if (task === first && count === at) join();
  };
  spawn[first]();
  const order = [...others, first];
  await sched.drain(byPriority(order));
  const points = sched.passed.get(first) ?? 0;
  if (!joined) {
    join();
    await sched.drain(byPriority(order));
  }
  const problems: string[] = [];
  for (const [task, err] of sched.errors) problems.push(`${task} failed: ${String(err)}`);
  problems.push(...(await check(env)));
  await (env.raw as { close?: () => unknown }).close?.();
  return { ok: problems.length === 0, problems, points, vacuumReport };
}

/** The run's invariants (module header), outside the scheduler. */
export async function check(env: Env): Promise<string[]> {
  const problems: string[] = [];
  const report = await fsck({ store: env.raw });
  if (!report.ok) problems.push(`fsck: ${JSON.stringify(report.problems.slice(0, 3))}`);
  const readAll = async (when: string) => {
    for (const f of env.expected.values()) {
      try {
        const got = await env.data.readFile(env.ns.pfs(f.pfs), f.path);
        if (Buffer.compare(Buffer.from(got), Buffer.from(f.bytes)) !== 0)
          problems.push(`${when}: ${f.pfs}:${f.path} reads other bytes`);
      } catch (err) {
        problems.push(
          `${when}: ${f.pfs}:${f.path} unreadable: ${isStrataError(err) ? err.code : String(err)}`,
        );
      }
    }
  };
  // No `present` record without its object (before reading: a reader marks a missing copy `missing`).
  const listed = new Set<string>();
  for (const volume of Object.values(env.volumes))
    for await (const page of volume.listAll("chunks/"))
      for (const o of page) listed.add(o.key.slice(o.key.lastIndexOf("/") + 1));
  const shas = new Set([...listed, ...env.watch]);
  for (const f of env.expected.values())
    for (const e of (
      await env.ns
        .pfs(f.pfs)
        .stat(f.path)
        .catch(() => undefined)
    )?.content?.extents ?? [])
      shas.add(e.chunk);
  for (const sha of shas) {
    for (const item of (await env.raw.query(chunkPk(sha), { sk: { op: "beginsWith", value: "inst#" } }))
      .items) {
      const r = decodeInstance(item);
      if (r.state !== "present") continue;
      const volume = env.volumes[r.volume];
      if (!volume) continue;
      const exists = await volume.head(chunkObjectKey(sha)).then(
        () => true,
        () => false,
      );
      if (!exists) problems.push(`instance ${sha.slice(0, 8)}@${r.volume} is present without its object`);
    }
  }
  await readAll("after the run");
  // Past every intent and lease: two vacuums leave only referenced objects, the files intact.
  env.advance(3 * 3600_000);
  for (let i = 0; i < 2; i++) {
    const r = await applyingVacuum(env);
    if (r.aborted) problems.push(`settling vacuum aborted: ${JSON.stringify(r.aborted)}`);
  }
  for (const [name, volume] of Object.entries(env.volumes))
    for await (const page of volume.listAll("chunks/"))
      for (const o of page) {
        const sha = o.key.slice(o.key.lastIndexOf("/") + 1);
        const refs = await env.raw.query(crefPk(sha), { limit: 1 });
        if (refs.items.length === 0)
          problems.push(`object ${sha.slice(0, 8)}@${name} is left unreferenced after two vacuums`);
      }
  await readAll("after two more vacuums");
  return problems;
}

/**
 * Every injection point of `scenario` in both modes (every `writerStride`-th await point of the
 * writer, default every one, with each of `seeds`; every `vacuumStride`-th await point of the
 * vacuum with each of `vacuumSeeds`). A stride starts at a point drawn from `sampleSeed` (fixed:
 * the same points every run), so a sampled tier still reaches late points. Returns the failing
 * runs (it stops after `stopAfter`), how many runs it made and which points ran.
 */
export async function explore(
  makeStore: () => MetadataStore | Promise<MetadataStore>,
  scenario: Scenario,
  options: {
    seeds: number[];
    vacuumSeeds: number[];
    vacuumStride?: number;
    writerStride?: number;
    sampleSeed?: number;
    /**
     * The fake clock's start (ms). A real table's TTL (DynamoDB Local sweeps items whose `ttl` is
     * past REAL time) would delete the items of a clock set months back: start near real time there.
     */
    start?: number;
    stopAfter?: number;
  },
): Promise<{
  runs: number;
  /** The injection points that ran, per mode. */
  ran: { writer: number[]; vacuum: number[] };
  points: { writer: number; vacuum: number };
  failures: Array<{ mode: string; at: number; seed: number; problems: string[] }>;
}> {
  const stopAfter = options.stopAfter ?? Number.POSITIVE_INFINITY;
  const failures: Array<{ mode: string; at: number; seed: number; problems: string[] }> = [];
  const points = { writer: 0, vacuum: 0 };
  const ran = { writer: [] as number[], vacuum: [] as number[] };
  const random = mulberry32(options.sampleSeed ?? 0);
  let runs = 0;
  for (const mode of ["writer", "vacuum"] as const) {
    if (mode === "vacuum" && scenario.writerModeOnly) continue;
    // Calibrate: how many await points the first task has when it runs alone.
    const alone = await runOnce(makeStore, scenario, mode, Number.POSITIVE_INFINITY, 0, options.start);
    runs++;
    points[mode] = alone.points;
    if (!alone.ok) failures.push({ mode, at: -1, seed: 0, problems: alone.problems });
    const seeds = mode === "writer" ? options.seeds : options.vacuumSeeds;
    const stride = mode === "vacuum" ? (options.vacuumStride ?? 1) : (options.writerStride ?? 1);
    const start = stride > 1 ? Math.floor(random() * Math.min(stride, alone.points)) : 0;
    for (let at = start; at < alone.points && failures.length < stopAfter; at += stride) {
      ran[mode].push(at);
      for (const seed of seeds) {
        const r = await runOnce(makeStore, scenario, mode, at, seed, options.start);
        runs++;
        if (!r.ok) failures.push({ mode, at, seed, problems: r.problems });
        if (failures.length >= stopAfter) break;
      }
    }
  }
  return { runs, points, ran, failures };
}
