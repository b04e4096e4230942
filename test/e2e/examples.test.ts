import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const examplesDir = new URL("../../examples/", import.meta.url);
const examples = readdirSync(examplesDir).filter((f) => f.endsWith(".ts"));

// The README's runnable examples are real programs: each must run to completion as a process.
describe("examples/ run as documented (npx tsx examples/<name>.ts)", () => {
  it("there are examples to run", () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  for (const file of examples) {
    it(`examples/${file} exits 0 and prints its results`, async () => {
      const tsx = new URL("../../node_modules/.bin/tsx", import.meta.url).pathname;
      const { stdout } = await run(tsx, [`examples/${file}`], {
        cwd: new URL("../../", import.meta.url).pathname,
        timeout: 60_000,
      });
      expect(stdout.trim().length).toBeGreaterThan(0);
    });
  }
});
