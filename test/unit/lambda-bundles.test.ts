/**
 * Every Lambda the stacks deploy, bundled as SST bundles it (test/support/bundles.ts): nothing of
 * the stand-ins, the tests, the gateways or the local server inside, and no bundle bigger than its
 * recorded budget. The budgets are today's sizes + 5 % (a ratchet: lower them when a bundle
 * shrinks); the goal is 1 MiB each, not reached (README "Bundles" says what carries the weight).
 */
import { describe, expect, it } from "vitest";
import { type BundleReport, bundle, bundleSource, forbiddenIn, lambdaEntries } from "../support/bundles.ts";

/** Minified bytes per entry (measured 2026-12-07 + 5 %). */
const BUDGET: Record<string, number> = {
  "functions/api/lambda.ts": 3_790_000,
  "functions/mirror/schedule.ts": 3_460_000,
  "functions/schedule/scrub.ts": 3_430_000,
  "functions/schedule/vacuum.ts": 3_445_000,
  "functions/triggers/table-stream.ts": 3_680_000,
  "functions/workflow/step.ts": 3_425_000,
};
/** A Lambda added to a stack without a budget here gets the largest one (record its own). */
const budgetOf = (entry: string) => BUDGET[entry] ?? Math.max(...Object.values(BUDGET));

/** Local-only packages still inside (the in-process ASL runner, issue 16): reported, not refused yet. */
const LOCAL_ONLY_KNOWN = ["aws-local-stepfunctions", "jsonata", "ajv", "@aws-sdk/client-lambda"];

const kib = (n: number) => `${Math.round(n / 1024)} KiB`;

function row(r: BundleReport): string {
  const top = Object.entries(r.packages)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([p, n]) => `${p} ${kib(n)}`)
    .join(", ");
  const local = LOCAL_ONLY_KNOWN.filter((p) => r.packages[p] !== undefined);
  return `| \`${r.entry}\` | ${kib(r.bytes)} | ${top} | ${local.join(", ") || "—"} |`;
}

describe("Lambda bundles", () => {
  it("every deployed handler bundles within its budget and carries no stand-in, test or local-server code", {
    timeout: 300_000,
  }, async () => {
    const entries = lambdaEntries();
    expect(entries).toContain("functions/api/lambda.ts");
    const reports: BundleReport[] = [];
    for (const entry of entries) reports.push(await bundle(entry));
    console.log(
      [
        "| Lambda | minified | largest parts | local-only inside |",
        "|---|---|---|---|",
        ...reports.map(row),
      ].join("\n"),
    );
    for (const r of reports) {
      expect(forbiddenIn(r), r.entry).toEqual([]);
      expect(r.bytes, `${r.entry}: ${kib(r.bytes)} > budget ${kib(budgetOf(r.entry))}`).toBeLessThanOrEqual(
        budgetOf(r.entry),
      );
    }
  });

  it("counter-check: a handler importing a stand-in or test tooling is refused", {
    timeout: 120_000,
  }, async () => {
    const r = await bundleSource(
      "functions/bad.ts",
      `import fc from "fast-check"; import { startDynamoDbLocal } from "./standins/dynamodb.ts";
       export const handler = () => [fc.nat(), startDynamoDbLocal];`,
    );
    expect(forbiddenIn(r)).toEqual(expect.arrayContaining(["fast-check", "standins"]));
  });
});
