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
});
