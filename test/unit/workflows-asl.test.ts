import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { LocalPlacementRunner } from "../../adapters/workflows/local.ts";
import { LOCAL_RESOURCE, stepsOf, toAsl } from "../../core/workflows/definition.ts";
import { placementWorkflow, sweepWorkflow } from "../../core/workflows/placement.ts";
import { PLACEMENT_STEPS } from "../../core/workflows/steps.ts";

// asl-validator 4 is CommonJS without type declarations.
const validator = createRequire(import.meta.url)("asl-validator") as (definition: unknown) => {
  isValid: boolean;
  errors: unknown[];
};
const CLOUD = (_step: string) => `arn:aws:lambda:eu-west-1:123456789012:function:strata-placement-step`;

describe("placement workflow as ASL", () => {
  for (const [where, resource] of [
    ["local", LOCAL_RESOURCE],
    ["cloud", CLOUD],
  ] as const) {
    it(`is valid Amazon States Language (${where} resources), JSONPath only`, () => {
      const asl = toAsl(placementWorkflow({ graceSeconds: 60 }), resource);
      const { isValid, errors } = validator(asl);
      expect(errors).toEqual([]);
      expect(isValid).toBe(true);
      const text = JSON.stringify(asl);
      expect(text).not.toContain("JSONata");
      expect(text).not.toContain("{%");
    });
  }

  it("the sweeper is valid ASL too: ListWork → Map of the per-file states → Choice, a failed file ends its iteration", () => {
    for (const resource of [LOCAL_RESOURCE, CLOUD]) {
      const asl = toAsl(sweepWorkflow({ graceSeconds: 60 }), resource);
      const { isValid, errors } = validator(asl);
      expect(errors).toEqual([]);
      expect(isValid).toBe(true);
    }
    const asl = toAsl(sweepWorkflow({ graceSeconds: 60 }), LOCAL_RESOURCE) as {
      States: {
        PlaceEach: {
          ItemProcessor: { StartAt: string; States: Record<string, { Type: string; Next?: string }> };
        };
      };
    };
    const inner = asl.States.PlaceEach.ItemProcessor;
    expect(inner.StartAt).toBe("Copy");
    expect(inner.States.RecordFailure!.Next).toBe("Recorded");
    expect(inner.States.Recorded!.Type).toBe("Succeed");
    expect(stepsOf(sweepWorkflow({ graceSeconds: 0 })).sort()).toEqual([
      "commit",
      "copy",
      "jobFailed",
      "jobProgress",
      "jobStart",
      "recordFailure",
      "sweepList",
      "trim",
      "verify",
    ]);
  });

  it("calls only the steps the step handler knows, each Task with a catch-all to RecordFailure", () => {
    const def = placementWorkflow({ graceSeconds: 0 });
    expect(stepsOf(def).every((s) => (PLACEMENT_STEPS as readonly string[]).includes(s))).toBe(true);
    const asl = toAsl(def, LOCAL_RESOURCE) as {
      States: Record<string, { Type: string; Catch?: Array<{ ErrorEquals: string[]; Next: string }> }>;
    };
    for (const [name, state] of Object.entries(asl.States)) {
      if (state.Type !== "Task" || name === "RecordFailure") continue;
      expect(
        state.Catch?.some((c) => c.ErrorEquals.includes("States.ALL") && c.Next === "RecordFailure"),
        name,
      ).toBe(true);
    }
  });

  it("the happy path of a one-page file is Copy → Verify → Commit → Trim (4 task transitions; the page choices pass)", () => {
    const asl = toAsl(placementWorkflow({ graceSeconds: 0 }), LOCAL_RESOURCE) as {
      StartAt: string;
      States: Record<string, { Type: string; Next?: string; Default?: string; End?: boolean }>;
    };
    const path: string[] = [];
    for (let at: string | undefined = asl.StartAt; at; ) {
      path.push(at);
      const s: { Type: string; Next?: string; Default?: string } = asl.States[at]!;
      at = s.Type === "Choice" ? s.Default : s.Next;
    }
    expect(path).toEqual(["Copy", "Verify", "Commit", "MoreChunks", "Trim", "MoreTrim", "Placed"]);
    expect(path.filter((s) => asl.States[s]!.Type === "Task")).toEqual(["Copy", "Verify", "Commit", "Trim"]);
    expect(asl.States.Placed!.Type).toBe("Succeed");
  });

  it("the local runner compiles the same definition", () => {
    const runner = new LocalPlacementRunner({ placement: { graceMs: 5000 } as never });
    expect(runner.asl).toEqual(toAsl(placementWorkflow({ graceSeconds: 5 }), LOCAL_RESOURCE));
  });
});
