/**
 * The Lambda limits harness (test/support/lambda-limits.ts): deployed settings come from the
 * stacks, and each limit fails a call that exceeds it (each check is its own counter-check: the
 * same handler within the limit passes).
 */
import { describe, expect, it } from "vitest";
import { lambdaEntries } from "../support/bundles.ts";
import {
  deployedSettings,
  LAMBDA_LIMITS,
  LambdaLimitExceeded,
  withLambdaLimits,
} from "../support/lambda-limits.ts";

describe("Lambda limits harness", () => {
  it("reads every deployed handler's timeout and memory from the stacks", () => {
    const all = lambdaEntries().map(deployedSettings);
    expect(all.length).toBeGreaterThan(0);
    for (const s of all) {
      expect(s.timeoutMs, s.entry).toBeGreaterThan(0);
      expect(s.timeoutMs, s.entry).toBeLessThanOrEqual(900_000); // Lambda's maximum
      expect(s.memoryMb, s.entry).toBeGreaterThanOrEqual(128);
    }
    expect(deployedSettings("functions/api/lambda.ts")).toMatchObject({ timeoutMs: 30_000, memoryMb: 1024 });
    expect(deployedSettings("functions/mirror/schedule.ts").timeoutMs).toBe(300_000);
    expect(deployedSettings("functions/schedule/vacuum.ts").timeoutMs).toBe(900_000);
  });

  it("a response over 6 MB fails the call; the same handler at 6 MB passes", async () => {
    const settings = deployedSettings("functions/api/lambda.ts");
    const sized = (n: number) => withLambdaLimits(async () => ({ body: "x".repeat(n) }), settings);
    const overhead = Buffer.byteLength(JSON.stringify({ body: "" }));
    await expect(sized(LAMBDA_LIMITS.syncPayloadBytes - overhead)({})).resolves.toBeDefined();
    await expect(sized(LAMBDA_LIMITS.syncPayloadBytes - overhead + 1)({})).rejects.toThrow(
      LambdaLimitExceeded,
    );
  });

  it("an asynchronous event over 256 KB fails; at 256 KB it passes", async () => {
    const settings = deployedSettings("functions/schedule/vacuum.ts");
    const h = withLambdaLimits(async () => null, settings, "async");
    const overhead = Buffer.byteLength(JSON.stringify({ d: "" }));
    await expect(h({ d: "x".repeat(LAMBDA_LIMITS.asyncPayloadBytes - overhead) })).resolves.toBeNull();
    await expect(h({ d: "x".repeat(LAMBDA_LIMITS.asyncPayloadBytes - overhead + 1) })).rejects.toThrow(
      /256|262144/,
    );
  });

  it("a call still running at its deployed timeout fails; one that finishes passes", async () => {
    const short = { entry: "test", timeoutMs: 20, memoryMb: 1024 };
    const never = withLambdaLimits(() => new Promise<void>(() => {}), short);
    await expect(never({})).rejects.toThrow(/deployed timeout/);
    await expect(withLambdaLimits(async () => 1, short)({})).resolves.toBe(1);
  });

  it("a heap above the function's memory fails the call", async () => {
    const tiny = { entry: "test", timeoutMs: 1_000, memoryMb: 1 };
    await expect(withLambdaLimits(async () => 1, tiny)({})).rejects.toThrow(/heap/);
  });
});
