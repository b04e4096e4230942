/**
 * Quick tier of the reliability harness's reference model (test/reliability/sequences.ts): random
 * sequences of namespace, data, as-of, snapshot and revert steps against the model, 1,000 on the
 * memory store + memory volumes and 100 on SQLite, fixed seeds. Longer: `npm run soak`.
 */
import { describe, expect, it } from "vitest";
import {
  checkSequences,
  reliabilityRegressions,
  runDataSequence,
  tallies,
} from "../reliability/sequences.ts";

describe("reliability: reference-model sequences", () => {
  for (const c of reliabilityRegressions())
    it(`regression ${c.file}: ${c.note}`, async () => {
      await runDataSequence({ backend: "memory", seed: c.seed, faults: c.faults }, c.steps, c.prologue);
    });

  it("50 sequences with store and volume faults (error, throttle, unavailable, timeout, lost reply): every faulted step is all or nothing", {
    timeout: 300_000,
  }, async () => {
    const report = await checkSequences({ backend: "memory", runs: 50, seed: 77, faults: 0.05 });
    if (report.failed)
      console.error(`[reliability] fault-tier divergence:\n${report.regression}\n${report.error}`);
    expect(report.failed, report.error).toBe(false);
    expect(tallies.faultedSteps).toBeGreaterThan(50);
    // No exception for lost replies any more: a lost commit reply is answered by the re-send.
    expect(tallies.appliedAfterLostCommit).toBe(0);
  });

  it("counter-check: without idempotent commits the fault tier sees lost commit replies misreported (or diverges)", {
    timeout: 300_000,
  }, async () => {
    const before = tallies.appliedAfterLostCommit;
    const report = await checkSequences({
      backend: "memory",
      runs: 50,
      seed: 77,
      faults: 0.05,
      idempotentCommits: false,
    });
    expect(report.failed || tallies.appliedAfterLostCommit > before).toBe(true);
  });

  for (const [backend, runs, seed] of [
    ["memory", 500, 20261121],
    ["memory", 500, 9],
    ["sqlite", 100, 4242],
  ] as const) {
    it(`${runs} sequences of ≤ 50 steps on ${backend} (seed ${seed}) agree with the model`, {
      timeout: 300_000,
    }, async () => {
      const report = await checkSequences({ backend, runs, seed });
      if (report.failed)
        console.error(
          `[reliability] divergence; save as test/regressions/reliability/<name>.json:\n${report.regression}\n${report.error}`,
        );
      expect(report.failed, report.error).toBe(false);
    });
  }
});
