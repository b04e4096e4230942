import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

describe("stacks/workflows.ts", () => {
  const source = readFileSync(new URL("../../stacks/workflows.ts", import.meta.url), "utf8");

  it("deploys the ASL compiled from core/workflows with the raw aws.sfn.StateMachine (never SST's JSONata StepFunctions)", () => {
    expect(source).toContain('from "../core/workflows/placement"');
    expect(source).toContain("toAsl(placementWorkflow(");
    expect(source).toContain("new aws.sfn.StateMachine(");
    expect(source).not.toMatch(/new sst\.aws\.StepFunctions/);
  });

  it("its Lambdas are the step handler and the stream trigger that exist in functions/", () => {
    for (const [handler, file] of [
      ["functions/workflow/step.handler", "../../functions/workflow/step.ts"],
      ["functions/triggers/table-stream.handler", "../../functions/triggers/table-stream.ts"],
    ] as const) {
      expect(source).toContain(`handler: "${handler}"`);
      expect(readFileSync(new URL(file, import.meta.url), "utf8")).toMatch(
        /export (async function|const) handler/,
      );
    }
  });
});
