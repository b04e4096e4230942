/**
 * Quick tier of retention in the reference model (test/reliability/retention.ts): a policy, time
 * passing on the fake clock, vacuum pruning, then every remembered as-of point read back whole —
 * EPRUNED with details.oldest, or exactly the model's state at the kept point it snaps to.
 */
import { describe, expect, it } from "vitest";
import { checkRetention, retentionTallies } from "../reliability/retention.ts";

describe("reliability: retention pruning against the model", () => {
  for (const [backend, runs, seed] of [
    ["memory", 40, 20261121],
    ["sqlite", 10, 31],
  ] as const)
    it(`${runs} sequences on ${backend}: pruned points are EPRUNED or a whole kept state, kept points exact`, {
      timeout: 120_000,
    }, async () => {
      const before = { ...retentionTallies };
      const report = await checkRetention({ backend, runs, seed });
      if (report.failed)
        console.error(`[reliability] retention divergence:\n${report.regression}\n${report.error}`);
      expect(report.failed, report.error).toBe(false);
      // The policy must actually have thinned history out, or the check proved nothing.
      expect(retentionTallies.snapped + retentionTallies.pruned).toBeGreaterThan(
        before.snapped + before.pruned,
      );
    });
});
