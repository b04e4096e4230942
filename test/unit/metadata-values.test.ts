/**
 * The pure semantics every MetadataStore shares (core/metadata/values.ts) and the reference
 * store's paging (pageOf, cursors): checked here without any store.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isStrataError } from "../../core/errors.ts";
import { decodeCursor, encodeCursor } from "../../core/metadata/checked.ts";
import { pageOf } from "../../core/metadata/memory-store.ts";
import { type Item, LIMITS } from "../../core/metadata/port.ts";
import {
  applyUpdate,
  compareUtf8,
  evaluateCondition,
  itemSize,
  matchesSortKey,
  utf8Length,
  validateItem,
  validateQuery,
  validateTransaction,
} from "../../core/metadata/values.ts";

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (isStrataError(err)) return err.code;
    throw err;
  }
  return undefined;
}

describe("compareUtf8", () => {
  it("agrees with a byte comparison of the UTF-8 encodings, for any strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" }), (a, b) => {
        const bytes = Math.sign(Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")));
        expect(Math.sign(compareUtf8(a, b))).toBe(bytes);
      }),
    );
  });

  it("puts astral characters after U+E000–U+FFFF, unlike JavaScript's <", () => {
    expect("😀" < "\uFFFD").toBe(true);
    expect(compareUtf8("😀", "\uFFFD")).toBeGreaterThan(0);
    expect(compareUtf8("\uE000", "😀")).toBeLessThan(0);
    expect(compareUtf8("\uD7FF", "😀")).toBeLessThan(0);
    expect(compareUtf8("a", "ab")).toBeLessThan(0);
  });

  it("utf8Length counts bytes", () => {
    expect(utf8Length("abc")).toBe(3);
    expect(utf8Length("é")).toBe(2);
    expect(utf8Length("😀")).toBe(4);
  });
});

describe("sizes and validation", () => {
  it("sizes items as DynamoDB does: names plus values", () => {
    expect(itemSize({ pk: "ab", sk: "c" })).toBe(2 + 2 + 2 + 1);
    expect(itemSize({ pk: "p", sk: "s", b: new Uint8Array(10) })).toBe(6 + 1 + 10);
    expect(itemSize({ pk: "p", sk: "s", t: true, z: null })).toBe(6 + 2 + 2);
  });

  it("refuses values DynamoDB cannot hold", () => {
    const item = (v: unknown) => ({ pk: "p", sk: "s", v }) as unknown as Item;
    expect(code(() => validateItem(item(1.5)))).toBeUndefined();
    expect(code(() => validateItem(item(Number.NaN)))).toBe("EINVAL");
    expect(code(() => validateItem(item(1e126)))).toBe("EINVAL");
    expect(code(() => validateItem(item(1e-131)))).toBe("EINVAL");
    expect(code(() => validateItem(item({ "": 1 })))).toBe("EINVAL");
    expect(code(() => validateItem(item(new Set([1]))))).toBe("EINVAL");
    expect(code(() => validateItem(item("x".repeat(LIMITS.itemBytes))))).toBe("E2BIG");
  });

  it("checks transactions before any request", () => {
    const put = (sk: string) => ({ kind: "put" as const, item: { pk: "p", sk } });
    expect(code(() => validateTransaction([put("a"), put("b")]))).toBeUndefined();
    expect(code(() => validateTransaction([]))).toBe("EINVAL");
    expect(code(() => validateTransaction([put("a"), put("a")]))).toBe("EINVAL");
    expect(code(() => validateTransaction(Array.from({ length: 101 }, (_, i) => put(`k${i}`))))).toBe(
      "E2BIG",
    );
    expect(code(() => validateTransaction([{ kind: "check", key: { pk: "p", sk: "a" } } as never]))).toBe(
      "EINVAL",
    );
  });

  it("checks queries before any request", () => {
    expect(code(() => validateQuery("p", { sk: { op: "between", low: "a", high: "b" } }))).toBeUndefined();
    expect(code(() => validateQuery("p", { sk: { op: "between", low: "b", high: "a" } }))).toBe("EINVAL");
    expect(code(() => validateQuery("p", { sk: { op: "eq", value: "" } }))).toBe("EINVAL");
    expect(code(() => validateQuery("p", { limit: -1 }))).toBe("EINVAL");
    expect(code(() => validateQuery("", {}))).toBe("EINVAL");
  });
});

describe("conditions and updates", () => {
  const item: Item = { pk: "p", sk: "s", n: 1, s: "x" };

  it("follows DynamoDB on missing items and attributes", () => {
    expect(evaluateCondition(undefined, { op: "ne", attr: "n", value: 1 })).toBe(true);
    expect(evaluateCondition(undefined, { op: "attrNotExists", attr: "n" })).toBe(true);
    expect(evaluateCondition(item, { op: "lt", attr: "s", value: 5 })).toBe(false);
    expect(evaluateCondition(item, { op: "ne", attr: "s", value: 5 })).toBe(true);
    expect(evaluateCondition(item, { op: "not", of: { op: "lt", attr: "s", value: 5 } })).toBe(true);
  });

  it("applies SET, then REMOVE, then ADD (missing numbers count as 0)", () => {
    expect(applyUpdate(item, item, { set: { a: 1 }, remove: ["s"], add: { n: 2, m: 3 } })).toEqual({
      pk: "p",
      sk: "s",
      n: 3,
      a: 1,
      m: 3,
    });
    expect(applyUpdate(item, undefined, { add: { n: 0 } })).toEqual({ pk: "p", sk: "s", n: 0 });
    expect(code(() => applyUpdate(item, item, { add: { s: 1 } }))).toBe("EINVAL");
  });

  it("matches sort-key prefixes and ranges in UTF-8 order", () => {
    expect(matchesSortKey("ab", { op: "beginsWith", value: "a" })).toBe(true);
    expect(matchesSortKey("😀", { op: "gt", value: "\uFFFD" })).toBe(true);
    expect(matchesSortKey("b", { op: "between", low: "a", high: "b" })).toBe(true);
  });
});

describe("reference paging (pageOf)", () => {
  const items = (n: number, blob = ""): Item[] =>
    Array.from({ length: n }, (_, i) => ({ pk: "p", sk: `k${String(i).padStart(3, "0")}`, blob }));

  it("round-trips cursors, including unicode sort keys, and refuses foreign ones", () => {
    for (const sk of ["a", "é/😀", "\uFFFD"]) expect(decodeCursor(encodeCursor(sk))).toBe(sk);
    expect(code(() => decodeCursor("garbage"))).toBe("EINVAL");
  });

  it("pages by limit and resumes after the cursor, in both directions", () => {
    const all = items(5);
    const first = pageOf(all, { limit: 2 });
    expect(first.items.map((i) => i.sk)).toEqual(["k000", "k001"]);
    const second = pageOf(all, { limit: 2, cursor: first.cursor! });
    expect(second.items.map((i) => i.sk)).toEqual(["k002", "k003"]);
    const back = pageOf(all, { limit: 3, reverse: true });
    expect(back.items.map((i) => i.sk)).toEqual(["k004", "k003", "k002"]);
    expect(pageOf(all, { reverse: true, cursor: back.cursor! }).items.map((i) => i.sk)).toEqual([
      "k001",
      "k000",
    ]);
    expect(pageOf(all, { limit: 5 }).cursor).toBeUndefined();
  });

  it("stops a page once it holds 1 MB", () => {
    const all = items(25, "x".repeat(100 * 1024));
    const first = pageOf(all, {});
    const bytes = first.items.reduce((sum, i) => sum + itemSize(i), 0);
    expect(bytes).toBeGreaterThanOrEqual(LIMITS.queryPageBytes);
    expect(bytes - itemSize(first.items[0]!)).toBeLessThan(LIMITS.queryPageBytes);
    expect(first.cursor).toBeDefined();
  });
});
