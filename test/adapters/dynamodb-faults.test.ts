/**
 * DynamoDB's own faults at the SDK client, on DynamoDB Local: every engine operation ends in
 * success (agreeing with the reference model) or a retryable StrataError, never a wrong answer
 * (test/reliability/dynamodb-faults.ts). Counter-check: with the adapter's fault handling off
 * (test-only `faultHandling: false`) the same tier fails.
 */
import { describe, expect, it } from "vitest";
import {
  dynamoFaultRegressions,
  replayDynamoFaultCase,
  runDynamoDbFaultTier,
} from "../reliability/dynamodb-faults.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");

describe("DynamoDB's own faults (TransactionConflict, throttling, 500s, lost replies) on DynamoDB Local", () => {
  it("every engine operation ends in success agreeing with the model or a retryable error", {
    timeout: 120_000,
  }, async (ctx) => {
    if (endpoint === undefined) return ctx.skip("DynamoDB Local was not started (STRATA_STANDINS)");
    const report = await runDynamoDbFaultTier({ endpoint, runs: 3, seed: 1616 });
    console.log(`[dynamodb faults] ${JSON.stringify({ ...report, regression: undefined })}`);
    if (report.failed) console.error(`[dynamodb faults] divergence:\n${report.regression}\n${report.error}`);
    expect(report.failed, report.error).toBe(false);
    // The tier is only worth something if faults reached the adapter and the engine.
    expect(report.injected.total).toBeGreaterThan(20);
    expect(Object.keys(report.reachedAdapter).length).toBeGreaterThan(0);
    expect(report.faultedSteps).toBeGreaterThan(0);
  });

  for (const c of dynamoFaultRegressions())
    it(`kept case ${c.file} agrees with the model`, { timeout: 120_000 }, async (ctx) => {
      if (endpoint === undefined) return ctx.skip("DynamoDB Local was not started (STRATA_STANDINS)");
      await replayDynamoFaultCase(endpoint, c);
    });

  it("counter-check: with the adapter's fault handling off, the tier finds wrong or untyped answers", {
    timeout: 120_000,
  }, async (ctx) => {
    if (endpoint === undefined) return ctx.skip("DynamoDB Local was not started (STRATA_STANDINS)");
    const report = await runDynamoDbFaultTier({ endpoint, runs: 3, seed: 1616, faultHandling: false });
    expect(report.failed).toBe(true);
    expect(report.error).toMatch(/not a retryable error|but model|differs|neither/);
  });
});
