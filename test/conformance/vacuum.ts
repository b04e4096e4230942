/**
 * Vacuum's property test, run per MetadataStore (memory, SQLite, DynamoDB Local): writers,
 * overwrites, deletes, reverts, snapshots and vacuum interleaved on a fake clock, with faults
 * injected into vacuum's reads (query / batchGet / get pages). After every vacuum:
 *
 * - every point still complete under the watermark (and every snapshot, and the live state) reads
 *   back byte-exact — so no chunk reachable from a retained point was deleted;
 * - no deletion was logged after the first injected fault of that run;
 * - at the end, with faults off and time moved on, garbage is really collected: the volume holds
 *   exactly the chunks the retained points and live files reference.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunkObjectKey } from "../../core/data/chunk-items.ts";
import { isStrataError } from "../../core/errors.ts";
import type { VacuumLogEntry } from "../../core/maintenance/vacuum.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import type { AsOf, Tid } from "../../core/namespace/api.ts";
import { isComplete, snapToComplete } from "../../core/retention/policy.ts";
import { pfsId, readWatermark, setRetention } from "../../core/retention/store.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { faultyStore } from "../support/faulty-store.ts";
import { bytesOf, CHUNK, maintenanceWorld } from "../support/maintenance.ts";

const MIN = 60_000;
const PATHS = ["/a", "/b", "/c"] as const;
const SIZES = [CHUNK, 2 * CHUNK, CHUNK + 100];

type Step =
  | { op: "write"; path: number; seed: number; size: number }
  | { op: "unlink"; path: number }
  | { op: "revert"; path: number; back: number }
  | { op: "snapshot" }
  | { op: "dropSnapshot"; which: number }
  | { op: "advance"; minutes: number }
  | { op: "vacuum"; faults: boolean };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("write" as const),
      path: fc.nat(2),
      seed: fc.nat(4),
      size: fc.constantFrom(...SIZES),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("unlink" as const), path: fc.nat(2) }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("revert" as const), path: fc.nat(2), back: fc.nat(10) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("snapshot" as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("dropSnapshot" as const), which: fc.nat(5) }) },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant("advance" as const), minutes: fc.integer({ min: 1, max: 90 }) }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("vacuum" as const), faults: fc.boolean() }) },
);

export interface VacuumStoreFixture {
  store: MetadataStore;
  dispose(): Promise<void>;
}

type State = Map<string, { seed: number; size: number }>;

export async function runSequence(fixture: VacuumStoreFixture, steps: Step[], seed: number): Promise<void> {
  const volume = new MemoryVolumeDriver("a");
  const w = maintenanceWorld(fixture.store, { a: volume });
  await w.ns.createPfs("p");
  const fs = w.ns.pfs("p");
  await setRetention(w.store, "p", "all 10m; hourly 3h; daily 2d", () => w.clock.now);
  const { id } = await pfsId(w.store, "p");
  const state: State = new Map();
  /** Every committed state, by TID. */
  const points: Array<{ tid: Tid; state: State }> = [];
  const snapshots: Array<{ name: string; tid: Tid }> = [];
  let snapSeq = 0;
  let armed = false;
  const faulty = faultyStore(fixture.store, {
    seed,
    log: false,
    query: [{ fault: "error", code: "EIO", probability: 0.08, when: () => armed }],
    batchGet: [{ fault: "unavailable", probability: 0.08, when: () => armed }],
    get: [{ fault: "error", code: "EIO", probability: 0.05, when: () => armed }],
  });

  const note = (tid: Tid) => {
    points.push({ tid, state: new Map(state) });
  };
  const stateAt = (tid: Tid): State => {
    let s: State = new Map();
    for (const p of points) if (p.tid <= tid) s = p.state;
    return s;
  };

  async function checkPoint(tid: AsOf, expected: State): Promise<void> {
    const view = fs.asOf(tid);
    for (const path of PATHS) {
      const want = expected.get(path);
      if (!want) {
        const err = await fs.stat(path, { asOf: tid }).catch((e: unknown) => e);
        expect(isStrataError(err, "ENOENT"), `${path} absent at ${JSON.stringify(tid)}`).toBe(true);
        continue;
      }
      const got = await w.data.readFile(view, path);
      expect(
        Buffer.from(got).equals(Buffer.from(bytesOf(want.seed, want.size))),
        `${path} at ${JSON.stringify(tid)}`,
      ).toBe(true);
    }
  }

  async function checkRetained(): Promise<void> {
    const wm = await readWatermark(w.store, id);
    for (const p of points) {
      if (isComplete(wm, p.tid)) {
        await checkPoint(p.tid, p.state);
        continue;
      }
      // Pruned zone: the whole state of the complete point at or before it, or EPRUNED — never a mix.
      let snapped: Tid | undefined;
      try {
        snapped = snapToComplete(wm, p.tid);
      } catch (err) {
        if (!isStrataError(err, "EPRUNED")) throw err;
      }
      if (snapped === undefined) {
        const err = await fs.stat("/", { asOf: p.tid }).catch((e: unknown) => e);
        expect(isStrataError(err, "EPRUNED"), `EPRUNED at ${p.tid}`).toBe(true);
      } else await checkPoint(p.tid, stateAt(snapped));
    }
    for (const s of snapshots) await checkPoint({ snapshot: s.name }, stateAt(s.tid));
    for (const path of PATHS) {
      const want = state.get(path);
      if (want)
        expect(
          Buffer.from(await w.data.readFile(fs, path)).equals(Buffer.from(bytesOf(want.seed, want.size))),
        ).toBe(true);
    }
  }

  for (const step of steps) {
    switch (step.op) {
      case "write": {
        const path = PATHS[step.path]!;
        const st = await w.data.writeFile(fs, path, bytesOf(step.seed, step.size));
        state.set(path, { seed: step.seed, size: step.size });
        note(st.tid);
        break;
      }
      case "unlink": {
        const path = PATHS[step.path]!;
        if (!state.has(path)) break;
        await fs.unlink(path);
        state.delete(path);
        note(await fs.currentTid());
        break;
      }
      case "revert": {
        const path = PATHS[step.path]!;
        const target = points[points.length - 1 - step.back];
        if (!target) break;
        const wm = await readWatermark(w.store, id);
        if (!isComplete(wm, target.tid)) break;
        const then = target.state.get(path);
        const now = state.get(path);
        if (!then && !now) break;
        const tid = await fs.revert(path, target.tid, { byPath: true }); // this test models paths
        if (then) state.set(path, then);
        else state.delete(path);
        note(tid);
        break;
      }
      case "snapshot": {
        const snap = await fs.createSnapshot(`s${snapSeq++}`);
        snapshots.push({ name: snap.name, tid: snap.tid });
        break;
      }
      case "dropSnapshot": {
        const s = snapshots[step.which];
        if (!s) break;
        await fs.deleteSnapshot(s.name);
        snapshots.splice(step.which, 1);
        break;
      }
      case "advance":
        w.clock.advance(step.minutes * MIN);
        break;
      case "vacuum": {
        const faultsBefore = faulty.injected.total;
        let lateDeletions = 0;
        armed = step.faults;
        const log = (e: VacuumLogEntry) => {
          if (e.applied && faulty.injected.total > faultsBefore) lateDeletions++;
        };
        const report = await w.vacuum({ apply: true, store: faulty, log });
        armed = false;
        expect(lateDeletions, "deletions after a read fault").toBe(0);
        if (faulty.injected.total === faultsBefore) expect(report.aborted).toBeUndefined();
        else expect(report.aborted).toBeDefined();
        await checkRetained();
        break;
      }
    }
  }

  // Faults off, time moved on: two runs collect everything no retained point needs.
  w.clock.advance(3 * 24 * 60 * MIN);
  for (let i = 0; i < 2; i++) {
    const report = await w.vacuum({ apply: true });
    expect(report.aborted).toBeUndefined();
    expect(report.complete).toBe(true);
  }
  await checkRetained();
  const needed = new Set<string>();
  const wm = await readWatermark(w.store, id);
  const views: Array<Tid | undefined> = [
    ...points.filter((p) => isComplete(wm, p.tid)).map((p) => p.tid),
    ...snapshots.map((s) => s.tid),
    undefined,
  ];
  for (const at of views)
    for (const path of PATHS) {
      const st = await fs.stat(path, at ? { asOf: at } : {}).catch(() => undefined);
      for (const e of st?.content?.extents ?? []) needed.add(chunkObjectKey(e.chunk));
    }
  expect([...volume.objects.keys()].sort()).toEqual([...needed].sort());
}

export function testVacuumProperty(
  name: string,
  fixture: () => Promise<VacuumStoreFixture>,
  options: { runs: number; maxSteps?: number; timeout?: number },
): void {
  describe(`vacuum property (${name})`, () => {
    it(
      "retained points read back byte-exact, nothing is deleted after a read fault, garbage is collected",
      async () => {
        let run = 0;
        await fc.assert(
          fc.asyncProperty(
            fc.array(stepArb, { minLength: 5, maxLength: options.maxSteps ?? 30 }),
            async (steps) => {
              const f = await fixture();
              try {
                await runSequence(f, steps, ++run);
              } finally {
                await f.dispose();
              }
            },
          ),
          { numRuns: Number(process.env.STRATA_PROPERTY_RUNS ?? options.runs), seed: 7, endOnFailure: true },
        );
      },
      options.timeout ?? 120_000,
    );
  });
}
