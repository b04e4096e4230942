/**
 * Quick tier of the concurrency check (test/reliability/linearizability.ts): 2–3 clients
 * interleaved on shared paths; every per-path history must be linearizable.
 */
import { describe, expect, it } from "vitest";
import { type HistoryEntry, linearizable, runConcurrency } from "../reliability/linearizability.ts";

describe("reliability: concurrent clients are linearizable per path", () => {
  it("30 rounds of 2–3 interleaved clients (memory), 6 on SQLite", { timeout: 120_000 }, async () => {
    for (const [backend, rounds] of [
      ["memory", 40],
      ["sqlite", 10],
    ] as const) {
      const f = await runConcurrency({ backend, seed: 11, rounds });
      console.log(
        `[reliability] concurrency (${backend}): ${JSON.stringify({ ...f, failures: f.failures.length })}`,
      );
      expect(f.failures).toEqual([]);
      expect(f.nonLinearizable).toBe(0);
      expect(f.histories).toBe(rounds * 2);
    }
  });

  it("the checker rejects a stale read and accepts overlapping writes in either order", () => {
    const h = (
      op: HistoryEntry["op"],
      invoke: number,
      response: number,
      result: HistoryEntry["result"],
    ): HistoryEntry => ({
      client: 0,
      path: "/p",
      op,
      invoke,
      response,
      result,
    });
    const ok = { ok: true } as const;
    // w1 then w2 strictly after: a later read of w1's value is stale.
    expect(
      linearizable([
        h({ kind: "write", value: "1" }, 0, 1, ok),
        h({ kind: "write", value: "2" }, 2, 3, ok),
        h({ kind: "read" }, 4, 5, { ok: true, value: "1" }),
      ]),
    ).toBe(false);
    // Overlapping writes: either value may be read.
    for (const v of ["1", "2"])
      expect(
        linearizable([
          h({ kind: "write", value: "1" }, 0, 3, ok),
          h({ kind: "write", value: "2" }, 1, 2, ok),
          h({ kind: "read" }, 4, 5, { ok: true, value: v }),
        ]),
      ).toBe(true);
    // writeFile never says ENOENT in the sequential spec (the data-plane race this check found).
    expect(linearizable([h({ kind: "write", value: "1" }, 0, 1, { ok: false, code: "ENOENT" })])).toBe(false);
  });
});
