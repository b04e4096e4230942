/**
 * The reliability harness's reference-model sequences (test/reliability/sequences.ts: namespace,
 * data, vacuum and mirror steps) and retention sequences on DynamoDB Local — a small tier: each
 * sequence costs a table and ~1 ms per request. `npm run reliability -- --dynamodb <endpoint>`
 * runs more.
 */
import { describe, expect, it } from "vitest";
import { checkRetention } from "../reliability/retention.ts";
import { checkSequences } from "../reliability/sequences.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");

describe("reliability harness on DynamoDB Local", () => {
  it("12 reference-model sequences agree with the model", { timeout: 300_000 }, async (ctx) => {
    if (endpoint === undefined) return ctx.skip("DynamoDB Local was not started (STRATA_STANDINS)");
    const report = await checkSequences({ backend: "dynamodb", endpoint, runs: 12, seed: 606, maxSteps: 30 });
    if (report.failed)
      console.error(`[reliability] dynamodb divergence:\n${report.regression}\n${report.error}`);
    expect(report.failed, report.error).toBe(false);
  });

  it("6 retention sequences: pruned points EPRUNED or whole, kept points exact", {
    timeout: 300_000,
  }, async (ctx) => {
    if (endpoint === undefined) return ctx.skip("DynamoDB Local was not started (STRATA_STANDINS)");
    const report = await checkRetention({ backend: "dynamodb", endpoint, runs: 6, seed: 607, maxSteps: 30 });
    if (report.failed)
      console.error(`[reliability] dynamodb retention divergence:\n${report.regression}\n${report.error}`);
    expect(report.failed, report.error).toBe(false);
  });
});
