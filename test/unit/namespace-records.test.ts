import { describe, expect, it } from "vitest";
import { isStrataError } from "../../core/errors.ts";
import type { Item } from "../../core/metadata/port.ts";
import { recordCrc, seal, verify } from "../../core/namespace/records.ts";

const base: Item = { pk: "ino#p#i", sk: "v#0", type: "file", mode: 420, size: 3, tags: { a: "1" } };

function corrupt(item: Item): boolean {
  try {
    verify(item);
    return false;
  } catch (err) {
    return isStrataError(err) && err.code === "ECORRUPT";
  }
}

describe("record CRC encoding", () => {
  it("does not depend on attribute or map key order", () => {
    const reordered: Item = { tags: { a: "1" }, size: 3, mode: 420, type: "file", sk: "v#0", pk: "ino#p#i" };
    expect(recordCrc(reordered)).toBe(recordCrc(base));
    expect(verify(seal(base))).toEqual(seal(base));
  });

  it("ignores crc, rm and undefined attributes, and nothing else", () => {
    const sealed = seal(base);
    expect(corrupt({ ...sealed, rm: 123, extra: undefined } as unknown as Item)).toBe(false);
    expect(corrupt({ ...sealed, extra: null })).toBe(true);
  });

  it("tells apart values that a naive concatenation would confuse", () => {
    const variants: Array<Record<string, unknown>> = [
      { a: "bc" },
      { ab: "c" },
      { a: "b", c: "" },
      { a: ["b", "c"] },
      { a: ["bc"] },
      { a: { b: "c" } },
      { a: 1 },
      { a: "1" },
      { a: true },
      { a: "true" },
      { a: null },
      { a: new Uint8Array([0x62, 0x63]) },
      { a: [] },
      { a: {} },
      { a: [[]] },
      { a: "é" },
      { a: "e\u0301" },
    ];
    const crcs = variants.map((v) => recordCrc({ pk: "p", sk: "s", ...v } as Item));
    expect(new Set(crcs).size).toBe(variants.length);
  });

  it("detects a change in any attribute, key or nested value", () => {
    const sealed = seal({ ...base, xattrs: { "user.x": new Uint8Array([1, 2, 3]) }, target: "/ünï" });
    expect(corrupt(sealed)).toBe(false);
    expect(corrupt({ ...sealed, mode: 421 })).toBe(true);
    expect(corrupt({ ...sealed, sk: "v#1" })).toBe(true);
    expect(corrupt({ ...sealed, tags: { b: "1" } })).toBe(true);
    expect(corrupt({ ...sealed, xattrs: { "user.x": new Uint8Array([1, 2, 4]) } })).toBe(true);
    expect(corrupt({ ...sealed, target: "/ünì" })).toBe(true);
  });

  it("seals long values (larger than the reused buffer) consistently", () => {
    const big = seal({ ...base, content: new Uint8Array(300_000).fill(7), name: "ü".repeat(40_000) });
    expect(corrupt(big)).toBe(false);
    expect(recordCrc(base)).toBe(seal(base).crc);
  });
});
