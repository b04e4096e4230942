/**
 * Every Lambda handler under functions/ (a module exporting `handler`) bundles with esbuild for
 * Node 20, as SST will bundle it; every `handler:` named in stacks/ points at one; sst.config.ts
 * has no top-level import.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? tsFiles(join(dir, d.name)) : d.name.endsWith(".ts") ? [join(dir, d.name)] : [],
  );
}

const handlers = tsFiles(join(root, "functions")).filter((file) =>
  /export\s+(async\s+)?(function|const)\s+handler\b/.test(readFileSync(file, "utf8")),
);

describe("Lambda handlers", () => {
  it("there is at least the API handler", () => {
    expect(handlers.map((f) => relative(root, f))).toContain("functions/api/lambda.ts");
  });

  for (const file of handlers) {
    it(`${relative(root, file)} bundles for node20`, { timeout: 120_000 }, async () => {
      const result = await build({
        entryPoints: [file],
        bundle: true,
        platform: "node",
        target: "node20",
        format: "esm",
        write: false,
        logLevel: "silent",
      });
      expect(result.errors).toEqual([]);
      expect(result.outputFiles[0]!.contents.byteLength).toBeGreaterThan(1000);
      expect(result.outputFiles[0]!.text).toMatch(/\bhandler\b/);
    });
  }

  it("every handler named in stacks/ exists and exports `handler`", () => {
    const named = tsFiles(join(root, "stacks")).flatMap((file) =>
      [...readFileSync(file, "utf8").matchAll(/handler:\s*"([^"]+)\.(\w+)"/g)].map((m) => ({
        file: m[1]!,
        fn: m[2]!,
      })),
    );
    expect(named.length).toBeGreaterThan(0);
    for (const { file, fn } of named) {
      const source = readFileSync(join(root, `${file}.ts`), "utf8");
      expect(source, `${file}.ts exports ${fn}`).toMatch(
        new RegExp(`export\\s+(async\\s+)?(function|const)\\s+${fn}\\b`),
      );
    }
  });

  it("sst.config.ts has no top-level import and wires the API stack", () => {
    const source = readFileSync(join(root, "sst.config.ts"), "utf8");
    expect(source.split("\n").filter((line) => /^\s*import\s/.test(line))).toEqual([]);
    expect(source).toContain('await import("./stacks/api")');
  });
});
