/**
 * Retention in the reference model: a sequence sets a retention policy on the PFS, runs random
 * namespace + data steps with the fake clock moving between them (`tick` steps: ms to 20 min),
 * then time jumps, vacuum applies the policy (pruning history), and every as-of point the run
 * remembered — each recorded TID, each snapshot, each watermark point — is read back as a whole
 * tree (paths, types, modes, link targets, xattr names, tags, bytes) through a fresh process:
 *
 * - a point the policy no longer keeps either fails EPRUNED with `details.oldest` (and is older
 *   than that oldest point) or returns a COMPLETE state equal to the model at the kept point it
 *   snaps to (docs/retention.md: the newest complete point at or before it) — never a mix;
 * - kept points are exact: snapshot TIDs, points inside the policy's `all` window, the live tree.
 *
 * The snap target comes from the stored watermark (the documented contract), and the watermark
 * itself is checked to keep every snapshot and the `all` window.
 */
import fc from "fast-check";
import { isStrataError } from "../../core/errors.ts";
import { vacuum } from "../../core/maintenance/vacuum.ts";
import { tidMs } from "../../core/namespace/tid.ts";
import { snapToComplete } from "../../core/retention/policy.ts";
import { getRetention, setRetention } from "../../core/retention/store.ts";
import { fixedRegistry } from "../../core/volume/registry.ts";
import { Volume } from "../../core/volume/volume.ts";
import { ModelMismatch, PROLOGUE } from "../conformance/namespace-model.ts";
import { DataModelRun, type SeqStep, seqStepArb, treeLines } from "./sequences.ts";
import { PFS, World, type WorldOptions } from "./world.ts";

/** Policies drawn by the sequences, with the length of their exact (`all`) window. */
export const RETENTION_POLICIES = [
  { text: "all 1s", allMs: 1_000 },
  { text: "all 2s; minutely 1h", allMs: 2_000 },
  { text: "all 2s; hourly 1d", allMs: 2_000 },
  { text: "all 5s; minutely 10m; hourly 1d", allMs: 5_000 },
] as const;

export type TickStep = { k: "tick"; ms: number };
export type RetentionStep = SeqStep | TickStep;

const tickArb = fc.record({
  k: fc.constant("tick" as const),
  ms: fc.constantFrom(300, 1_500, 4_000, 61_000, 20 * 60_000),
});

/** Namespace + data steps (no vacuum/mirror mid-sequence: a prune would break the model's as-of reads) and ticks. */
const retentionStepArb: fc.Arbitrary<RetentionStep> = fc.oneof(
  { weight: 5, arbitrary: seqStepArb.filter((s) => s.k !== "vacuum" && s.k !== "mirror") },
  { weight: 2, arbitrary: tickArb },
);

export const retentionTallies = {
  sequences: 0,
  pointsRead: 0,
  exact: 0,
  snapped: 0,
  pruned: 0,
  divergences: 0,
};

export interface RetentionCase {
  policy: number;
  /** How far the clock jumps before vacuum (ms). */
  jump: number;
  steps: RetentionStep[];
}

function fail(message: string): never {
  throw new ModelMismatch(message);
}

/** Run one retention sequence on a fresh world; throws ModelMismatch on the first divergence. */
export async function runRetentionSequence(
  options: { backend: WorldOptions["backend"]; endpoint?: string; seed: number },
  c: RetentionCase,
): Promise<void> {
  const policy = RETENTION_POLICIES[c.policy % RETENTION_POLICIES.length]!;
  const world = await World.create({
    backend: options.backend,
    endpoint: options.endpoint,
    seed: options.seed,
  });
  try {
    const run = new DataModelRun(world.boot());
    run.clockNow = world.clock.now;
    await run.run.start();
    for (const s of PROLOGUE) await run.step(s);
    await setRetention(world.store, PFS, policy.text, world.clock.now);
    for (const s of c.steps) {
      if (s.k === "tick") world.clock.ms += s.ms;
      else await run.step(s);
    }
    world.clock.ms += c.jump;
    const proc = world.boot();
    const report = await vacuum({
      store: proc.store,
      namespace: proc.namespace,
      volumes: fixedRegistry(
        Object.fromEntries(Object.entries(proc.volumes).map(([n, d]) => [n, new Volume(d)])),
      ),
      apply: true,
      clock: world.clock.now,
      sleep: world.clock.sleep,
    });
    if (report.aborted || !report.complete)
      fail(
        `vacuum did not complete: ${report.aborted?.code ?? "time budget"} ${report.aborted?.message ?? ""}`,
      );
    // Past the readers' watermark cache; a fresh process reads everything back.
    world.clock.ms += 10_000;
    const reader = world.boot();
    const now = world.clock.ms;
    const w = (await getRetention(world.store, PFS)).watermark;
    const watermark = w && { exactFrom: w.exactFrom, points: w.points, time: 0, seq: 0 };
    const snapshots = run.model.listSnapshots();

    const live = await treeLines(reader.fs, reader.data);
    const liveWant = run.modelLines(undefined, "live");
    if (JSON.stringify(live) !== JSON.stringify(liveWant))
      fail("after vacuum the live tree differs from the model");

    const points = new Set<string>([
      ...run.model.rememberedTids(),
      ...snapshots.map((s) => s.tid),
      ...(w?.points ?? []),
    ]);
    for (const tid of [...points].sort()) {
      retentionTallies.pointsRead++;
      const mustBeExact = snapshots.some((s) => s.tid === tid) || tidMs(tid) >= now - policy.allMs;
      let expectedAt: string | undefined;
      try {
        expectedAt = snapToComplete(watermark, tid, PFS);
      } catch (err) {
        if (!isStrataError(err, "EPRUNED")) throw err;
      }
      if (mustBeExact && expectedAt !== tid)
        fail(
          `${tid} must be kept exactly (${policy.text}) but the watermark snaps it to ${expectedAt ?? "EPRUNED"}`,
        );
      let got: string[];
      try {
        got = await treeLines(reader.fs.asOf(tid), reader.data);
      } catch (err) {
        if (isStrataError(err, "EPRUNED")) {
          const oldest = (err.details.oldest as { tid?: string } | undefined)?.tid;
          if (expectedAt !== undefined) fail(`as of ${tid}: EPRUNED, but the watermark keeps ${expectedAt}`);
          if (typeof oldest !== "string" || !(tid < oldest))
            fail(
              `as of ${tid}: EPRUNED with details.oldest ${String(oldest)} (must name a later kept point)`,
            );
          retentionTallies.pruned++;
          continue;
        }
        fail(`as of ${tid}: read failed ${String(err)} (want ${expectedAt ?? "EPRUNED"})`);
      }
      if (expectedAt === undefined)
        fail(`as of ${tid}: read a state, but the watermark has pruned that point`);
      // A kept point between the PFS's creation and the model's first record (a boundary such as
      // midnight): no operation ran in between, so the state there is the first recorded one.
      const first = run.model.rememberedTids()[0]!;
      const want = run.modelLines(expectedAt < first ? first : expectedAt, `as of ${expectedAt}`);
      if (JSON.stringify(got) !== JSON.stringify(want))
        fail(
          `as of ${tid} (kept point ${expectedAt}, ${policy.text}): not the model's complete state there\n  engine ${got.join("\n         ").slice(0, 1500)}\n  model  ${want.join("\n         ").slice(0, 1500)}`,
        );
      if (expectedAt === tid) retentionTallies.exact++;
      else retentionTallies.snapped++;
    }
    // Snapshots by name read their pinned state exactly.
    for (const s of snapshots) {
      const got = await treeLines(reader.fs.asOf({ snapshot: s.name }), reader.data);
      if (JSON.stringify(got) !== JSON.stringify(run.modelLines({ snapshot: s.name }, `snapshot ${s.name}`)))
        fail(`snapshot ${s.name} differs from the model after vacuum (${policy.text})`);
    }
  } finally {
    await world.dispose();
  }
}

export interface RetentionReport {
  failed: boolean;
  regression?: string;
  error?: string;
}

/** Many retention sequences (fast-check, fixed seed), shrunk on the first divergence. */
export async function checkRetention(options: {
  backend: WorldOptions["backend"];
  endpoint?: string;
  runs: number;
  seed: number;
  maxSteps?: number;
}): Promise<RetentionReport> {
  const result = await fc.check(
    fc.asyncProperty(
      fc.record({
        policy: fc.nat(RETENTION_POLICIES.length - 1),
        jump: fc.constantFrom(0, 1_500, 3 * 60_000, 2 * 3600_000),
        steps: fc.array(retentionStepArb, { minLength: 1, maxLength: options.maxSteps ?? 40, size: "max" }),
      }),
      async (c) => {
        retentionTallies.sequences++;
        await runRetentionSequence(options, c);
      },
    ),
    { numRuns: options.runs, seed: options.seed },
  );
  if (!result.failed) return { failed: false };
  retentionTallies.divergences++;
  return {
    failed: true,
    regression: JSON.stringify({
      seed: result.seed,
      backend: options.backend,
      case: result.counterexample?.[0],
    }),
    error: String((result.errorInstance as Error | undefined)?.message ?? result.errorInstance),
  };
}
