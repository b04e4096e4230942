import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { METADATA_TABLE } from "../../core/metadata/table.ts";

describe("sst.config.ts and stacks", () => {
  it("sst.config.ts has no top-level import (SST evaluates it before installing its platform)", () => {
    const source = readFileSync(new URL("../../sst.config.ts", import.meta.url), "utf8");
    expect(source.split("\n").filter((line) => /^\s*import\s/.test(line))).toEqual([]);
    expect(source).toContain('await import("./stacks/metadata")');
  });

  it("the metadata stack builds its table from the one definition in core/metadata/table.ts", () => {
    const stack = readFileSync(new URL("../../stacks/metadata.ts", import.meta.url), "utf8");
    expect(stack).toContain("../core/metadata/table.ts");
    expect(METADATA_TABLE.partitionKey.name).toBe("pk");
    expect(METADATA_TABLE.sortKey.name).toBe("sk");
  });

  it("every Lambda names a runtime AWS still lets you create functions on (nodejs22.x or nodejs24.x)", () => {
    // Lambda blocks function creation on deprecated runtimes (nodejs20.x among them); the code
    // itself keeps running on Node 20, 22 and 24.
    for (const name of ["api", "workflows", "schedules"]) {
      const stack = readFileSync(new URL(`../../stacks/${name}.ts`, import.meta.url), "utf8");
      const runtimes = [...stack.matchAll(/runtime:\s*"([^"]+)"/g)].map((m) => m[1]);
      expect(runtimes.length, `stacks/${name}.ts names its runtime`).toBeGreaterThan(0);
      for (const runtime of runtimes) expect(["nodejs22.x", "nodejs24.x"]).toContain(runtime);
    }
  });
});
