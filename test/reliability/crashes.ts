/**
 * Crash testing: every 1- and 2-operation workload over a small fixed tree, with the simulated
 * process killed before and after each adapter call (store and volumes, one numbering) the
 * workload makes, then a new process booted on the same stores. Afterwards:
 *
 * - lost: an acknowledged operation whose effect is not in the recovered state;
 * - half-visible: a recovered state that is none of "after the acknowledged prefix" and "after the
 *   acknowledged prefix + the operation in flight" (the states of a crash-free reference run);
 * - dangling: a chunk that some namespace record (live or historical) references without a
 *   `present` instance record and an object on a volume;
 * - unclaimed orphans: a chunk object or instance record no namespace record references and no
 *   intent names (vacuum, issue 7, reclaims orphans through intents; an orphan no intent names
 *   could never be collected).
 *
 * The recovered state is compared as a canonical dump: every path with its type, mode, link
 * target, tags, xattrs and bytes (read through the data plane), plus the snapshot names.
 */
import { isStrataError } from "../../core/errors.ts";
import { vacuum } from "../../core/maintenance/vacuum.ts";
import type { Item } from "../../core/metadata/port.ts";
import type { FileSystem } from "../../core/namespace/api.ts";
import { fixedRegistry } from "../../core/volume/registry.ts";
import { Volume } from "../../core/volume/volume.ts";
import { CrashError } from "../support/faulty-store.ts";
import { pattern } from "./sequences.ts";
import { CHUNK, type Proc, World, type WorldOptions } from "./world.ts";

/** One operation of a crash workload (applied through the data plane or the engine). */
export interface CrashOp {
  name: string;
  run(proc: Proc): Promise<unknown>;
}

const fsOp = (name: string, fn: (fs: FileSystem) => Promise<unknown>): CrashOp => ({
  name,
  run: (proc) => fn(proc.fs),
});

/** The fixed tree every workload starts from. */
export async function buildFixture(proc: Proc): Promise<void> {
  const { fs, data } = proc;
  await fs.mkdir("/a");
  await fs.mkdir("/a/b");
  await fs.mkdir("/e");
  await data.writeFile(fs, "/a/small", pattern(10, 1));
  await data.writeFile(fs, "/big", pattern(CHUNK + 100, 2));
  await fs.setTag("/big", "site", "eu");
  await fs.symlink("/a", "/l");
}

/** The single operations; workloads are each one alone and every ordered pair. */
export const CRASH_OPS: CrashOp[] = [
  {
    name: "writeFile new 2-chunk",
    run: ({ data, fs }) => data.writeFile(fs, "/a/new", pattern(CHUNK + 5, 3)),
  },
  {
    name: "overwrite with 1 chunk",
    run: ({ data, fs }) => data.writeFile(fs, "/big", pattern(CHUNK / 2, 4)),
  },
  { name: "writeFile small", run: ({ data, fs }) => data.writeFile(fs, "/a/small", pattern(5, 5)) },
  { name: "appendFile", run: ({ data, fs }) => data.appendFile(fs, "/big", pattern(300, 6)) },
  { name: "truncate to inline", run: ({ data, fs }) => data.truncate(fs, "/big", 8) },
  fsOp("rename dir", (fs) => fs.rename("/a", "/e/a2")),
  fsOp("unlink", (fs) => fs.unlink("/big")),
  fsOp("batch", (fs) =>
    fs.batch([
      { op: "mkdir", path: "/n" },
      { op: "rename", from: "/a/small", to: "/n/s" },
      { op: "setTag", path: "/n", key: "k", value: "v" },
    ]),
  ),
  fsOp("revert to the fixture", async (fs) =>
    fs.revert("/", (await fs.listSnapshots())[0]!.tid, { recursive: true }),
  ),
];

/** A canonical description of everything a user can see now. */
export async function dumpState(proc: Proc): Promise<string> {
  const { fs, data } = proc;
  const lines: string[] = [];
  const visit = async (path: string): Promise<void> => {
    const st = await fs.lstat(path);
    const tags = JSON.stringify(await fs.getTags(path).catch(() => ({})));
    let line = `${path} ${st.type} ${st.mode.toString(8)} ${tags}`;
    if (st.type === "symlink") line += ` -> ${st.target}`;
    if (st.type === "file") {
      const bytes = await data.readFile(fs, path);
      line += ` ${bytes.length}:${Buffer.from(bytes).toString("base64").slice(0, 64)}:${checksum(bytes)}`;
    }
    lines.push(line);
    if (st.type === "dir") {
      let cursor: string | undefined;
      do {
        const page = await fs.readdir(path, cursor === undefined ? {} : { cursor });
        for (const e of page.entries) await visit(`${path === "/" ? "" : path}/${e.name}`);
        cursor = page.cursor;
      } while (cursor !== undefined);
    }
  };
  await visit("/");
  lines.push(`snapshots ${(await fs.listSnapshots()).map((s) => s.name).join(",")}`);
  return lines.join("\n");
}

function checksum(bytes: Uint8Array): number {
  let h = 0;
  for (const b of bytes) h = (Math.imul(h, 31) + b) | 0;
  return h >>> 0;
}

const SHA = /^[0-9a-f]{64}$/;
/** Vacuum's bookkeeping partitions (core/maintenance/common.ts): they name chunks, they do not reference them. */
const MAINTENANCE = /^(vac#|vq#|cref#|rchk#|gcq$|maint$)/;

function chunkRefs(value: unknown, out: Set<string>): void {
  if (typeof value === "string") {
    if (SHA.test(value)) out.add(value);
  } else if (Array.isArray(value)) for (const v of value) chunkRefs(v, out);
  else if (value && typeof value === "object" && !(value instanceof Uint8Array))
    for (const v of Object.values(value)) chunkRefs(v, out);
}

export interface ReferenceCheck {
  /** Chunks referenced by namespace records without a present instance and its object. */
  dangling: string[];
  /** Chunk objects / instance records nothing references. */
  orphans: string[];
  /** Orphans no intent names (vacuum could not find them). */
  unclaimed: string[];
}

/** Reference integrity of the whole durable state (namespace records vs chunk records vs volumes). */
export async function checkReferences(world: World): Promise<ReferenceCheck> {
  const items = await world.items();
  const referenced = new Set<string>();
  const claimed = new Set<string>();
  const instances = new Map<string, Item[]>();
  for (const item of items) {
    if (item.pk.startsWith("chunk#")) {
      const sha = item.pk.slice("chunk#".length);
      instances.set(sha, [...(instances.get(sha) ?? []), item]);
    } else if (item.pk.startsWith("intent#")) {
      chunkRefs(item.chunks, claimed);
    } else if (!MAINTENANCE.test(item.pk)) {
      chunkRefs(item, referenced);
    }
  }
  const stored = new Map<string, string[]>();
  for (const [volume, objects] of world.objects()) {
    for (const key of objects.keys()) {
      const sha = key.split("/").at(-1)!;
      stored.set(sha, [...(stored.get(sha) ?? []), volume]);
    }
  }
  const dangling: string[] = [];
  for (const sha of referenced) {
    const present = (instances.get(sha) ?? []).filter((i) => i.state === "present");
    const ok = present.some((i) => stored.get(sha)?.includes(i.sk.slice("inst#".length)));
    if (!ok) dangling.push(sha);
  }
  const orphans = [...new Set([...instances.keys(), ...stored.keys()])].filter((sha) => !referenced.has(sha));
  return { dangling, orphans, unclaimed: orphans.filter((sha) => !claimed.has(sha)) };
}

export interface CrashFigures {
  workloads: number;
  crashPoints: number;
  lostOps: number;
  halfVisible: number;
  dangling: number;
  orphans: number;
  unclaimedOrphans: number;
  /** With `vacuum`: orphans a vacuum run (after the intents expired) removed, and those it left. */
  orphansCollected: number;
  orphansLeft: number;
  /** With `vacuum`: runs after which the visible state or a reference broke. */
  vacuumBroke: number;
  /** Human-readable failures (first few). */
  failures: string[];
}

/** Two hours later (every intent expired), one vacuum run that deletes for real. */
async function vacuumAfterExpiry(world: World): Promise<void> {
  world.clock.ms += 2 * 60 * 60 * 1000;
  const proc = world.boot();
  const report = await vacuum({
    store: proc.store,
    namespace: proc.namespace,
    volumes: fixedRegistry(
      Object.fromEntries(
        Object.entries(proc.volumes).map(([name, driver]) => [
          name,
          new Volume(driver, { sleep: world.clock.sleep }),
        ]),
      ),
    ),
    apply: true,
    clock: world.clock.now,
    sleep: world.clock.sleep,
  });
  if (report.aborted) throw new Error(`vacuum aborted: ${report.aborted.code} ${report.aborted.message}`);
}

/** A world holding the fixture, and a way to copy it (replaying its items and objects is cheaper than rebuilding). */
async function fixtureWorld(options: Pick<WorldOptions, "backend" | "seed">): Promise<World> {
  const world = await World.create({ ...options, volumes: ["v1"] });
  const proc = world.boot();
  await buildFixture(proc);
  await proc.fs.createSnapshot("fixture");
  return world;
}

async function copyWorld(from: World, backend: WorldOptions["backend"], seed: number): Promise<World> {
  const world = await World.create({ backend, seed, volumes: Object.keys(from.drivers) }, true);
  for (const item of await from.items()) await world.store.put(item);
  for (const [name, driver] of Object.entries(from.drivers))
    for (const [key, stored] of driver.objects) world.drivers[name]!.objects.set(key, { ...stored });
  world.clock.ms = from.clock.ms;
  return world;
}

/** Run `ops` on `proc`; returns how many were acknowledged and whether the process crashed. */
async function runWorkload(
  proc: Proc,
  ops: CrashOp[],
): Promise<{ acked: number; crashed: boolean; errors: string[] }> {
  let acked = 0;
  const errors: string[] = [];
  for (const op of ops) {
    try {
      await op.run(proc);
      if (proc.store.crashed) return { acked, crashed: true, errors }; // a crash after its last call
      acked++;
    } catch (err) {
      if (proc.store.crashed || err instanceof CrashError) return { acked, crashed: true, errors };
      if (!isStrataError(err)) throw err;
      errors.push(`${op.name}: ${err.code}`);
      acked++; // a clean failure is an acknowledged outcome too: it must have changed nothing
    }
  }
  return { acked, crashed: false, errors };
}

/** Every 1-op workload, and the ordered pairs chosen by `pairs` (default all). */
export function crashWorkloads(pairs: "all" | number = "all"): CrashOp[][] {
  const singles = CRASH_OPS.map((op) => [op]);
  const all = CRASH_OPS.flatMap((a) => CRASH_OPS.map((b) => [a, b]));
  if (pairs === "all") return [...singles, ...all];
  // A spread of pairs: every first op with a rotating second op.
  const chosen = all.filter((_, i) => i % Math.max(1, Math.floor(all.length / pairs)) === 0).slice(0, pairs);
  return [...singles, ...chosen];
}

/** The crash tier: every workload × every adapter call × {before, after}. */
export async function runCrashTier(options: {
  backend: WorldOptions["backend"];
  seed: number;
  workloads: CrashOp[][];
  /** After each recovery, let the intents expire and run vacuum (apply): the orphans must go. */
  vacuum?: boolean;
}): Promise<CrashFigures> {
  const figures: CrashFigures = {
    workloads: 0,
    crashPoints: 0,
    lostOps: 0,
    halfVisible: 0,
    dangling: 0,
    orphans: 0,
    unclaimedOrphans: 0,
    orphansCollected: 0,
    orphansLeft: 0,
    vacuumBroke: 0,
    failures: [],
  };
  const fail = (message: string) => {
    if (figures.failures.length < 10) figures.failures.push(message);
  };
  const fixture = await fixtureWorld(options);
  try {
    for (const workload of options.workloads) {
      figures.workloads++;
      const label = workload.map((o) => o.name).join(" ; ");
      // The crash-free reference: the state after each prefix, and the number of adapter calls.
      const ref = await copyWorld(fixture, options.backend, options.seed);
      const states = [await dumpState(ref.boot())];
      const refProc = ref.boot();
      for (const op of workload) {
        await op.run(refProc).catch((err) => {
          if (!isStrataError(err)) throw err;
        });
        states.push(await dumpState(ref.boot()));
      }
      const calls = refProc.store.callCount;
      await ref.dispose();

      for (let call = 0; call < calls; call++) {
        for (const when of ["before", "after"] as const) {
          figures.crashPoints++;
          const world = await copyWorld(fixture, options.backend, options.seed);
          try {
            const dying = world.boot({ crashAt: { call, when } });
            const outcome = await runWorkload(dying, workload);
            const fresh = world.boot();
            const now = await dumpState(fresh);
            const at = `${label} — crash ${when} call #${call}`;
            const acceptable = outcome.crashed
              ? [states[outcome.acked], states[outcome.acked + 1]]
              : [states[outcome.acked]];
            if (!acceptable.includes(now)) {
              const earlier = states.slice(0, outcome.acked).includes(now);
              if (earlier) {
                figures.lostOps++;
                fail(`${at}: an acknowledged op was lost (state of an earlier prefix)`);
              } else {
                figures.halfVisible++;
                fail(
                  `${at}: recovered state is no prefix of the workload:\n${now}\n--- expected one of ---\n${acceptable.join("\n---\n")}`,
                );
              }
            }
            const refs = await checkReferences(world);
            figures.dangling += refs.dangling.length;
            figures.orphans += refs.orphans.length;
            figures.unclaimedOrphans += refs.unclaimed.length;
            if (refs.dangling.length > 0)
              fail(`${at}: dangling chunk references ${refs.dangling.join(", ")}`);
            if (refs.unclaimed.length > 0)
              fail(`${at}: orphans no intent names ${refs.unclaimed.join(", ")}`);
            if (options.vacuum && refs.orphans.length > 0) {
              await vacuumAfterExpiry(world);
              const after = await checkReferences(world);
              figures.orphansCollected += refs.orphans.filter((sha) => !after.orphans.includes(sha)).length;
              figures.orphansLeft += after.orphans.length;
              if (after.orphans.length > 0) fail(`${at}: vacuum left orphans ${after.orphans.join(", ")}`);
              if (after.dangling.length > 0 || (await dumpState(world.boot())) !== now) {
                figures.vacuumBroke++;
                fail(`${at}: vacuum broke the state (dangling ${after.dangling.length})`);
              }
            }
          } finally {
            await world.dispose();
          }
        }
      }
    }
  } finally {
    await fixture.dispose();
  }
  return figures;
}
