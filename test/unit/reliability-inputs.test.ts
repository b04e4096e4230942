/**
 * Quick tier of the bad-input corpus (test/reliability/bad-input.ts) and the bit-flip integrity
 * check (test/reliability/integrity.ts), through the SDK on an embedded deployment.
 */
import { describe, expect, it } from "vitest";
import { runBadInputs } from "../reliability/bad-input.ts";
import { runHttpBadInputs } from "../reliability/bad-input-http.ts";
import { runIntegrity } from "../reliability/integrity.ts";

describe("reliability: bad input and integrity", () => {
  for (const backend of ["memory", "sqlite"] as const)
    it(`every corpus input × every SDK op is rejected with a typed error and the state unchanged (${backend})`, {
      timeout: 120_000,
    }, async () => {
      const f = await runBadInputs({ backend, seed: 1 });
      console.log(
        `[reliability] bad input (${backend}): ${JSON.stringify({ ...f, failures: f.failures.length })}`,
      );
      expect(f.failures).toEqual([]);
      expect(f.inputs).toBeGreaterThanOrEqual(300);
      expect(f.rejected).toBe(f.calls - f.accepted);
      expect(f.notRejected + f.stateChanged + f.escaped).toBe(0);
    });

  it("over HTTP: the corpus × every 8th SDK op through the remote client, and 360 malformed raw requests", {
    timeout: 120_000,
  }, async () => {
    const f = await runHttpBadInputs({ seed: 1, opStride: 8 });
    console.log(
      `[reliability] bad input over HTTP: ${JSON.stringify({ ...f, failures: f.failures.length })}`,
    );
    expect(f.failures).toEqual([]);
    expect(f.notRejected + f.stateChanged + f.escaped).toBe(0);
    expect(f.rawRejected).toBe(f.rawRequests);
    expect(f.rawRequests).toBeGreaterThanOrEqual(360);
  });

  it("every bit flip in a chunk read is detected: served from the other instance, or ECORRUPT", {
    timeout: 60_000,
  }, async () => {
    const f = await runIntegrity({ backend: "memory", seed: 5, rounds: 3 });
    expect(f.failures).toEqual([]);
    expect(f.flipsInjected).toBeGreaterThan(50);
    expect(f.flipsDetected).toBe(f.flipsInjected);
    expect(f.wrongBytes).toBe(0);
  });
});
