import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeItem, storedSizeBound } from "../../adapters/metadata/sqlite.ts";
import type { Item, Value } from "../../core/metadata/port.ts";
import { itemSize } from "../../core/metadata/values.ts";

// The SQLite store skips computing item sizes for the 1 MB page rule while twice the stored
// bytes stay below it: that is only right if the bound holds for every item.
describe("sqlite metadata store: stored size bound", () => {
  const value: fc.Arbitrary<Value> = fc.letrec<{ v: Value }>((tie) => ({
    v: fc.oneof(
      { depthSize: "small" },
      fc.string({ unit: "grapheme" }),
      fc.integer({ min: -9, max: 9 }),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e100, max: 1e100 }),
      fc.boolean(),
      fc.constant(null),
      fc.uint8Array(),
      fc.array(tie("v"), { maxLength: 40 }),
      fc.dictionary(fc.string({ minLength: 1 }), tie("v"), { maxKeys: 4 }),
    ),
  })).v;
  const item: fc.Arbitrary<Item> = fc
    .tuple(
      fc.string({ minLength: 1 }),
      fc.string({ minLength: 1 }),
      fc.dictionary(fc.string({ minLength: 1 }), value, { maxKeys: 6 }),
    )
    .map(([pk, sk, rest]) => ({ ...rest, pk, sk }));

  it("itemSize is at most storedSizeBound(encodeItem(item)) for random items", () => {
    fc.assert(
      fc.property(item, (it) => {
        expect(itemSize(it)).toBeLessThanOrEqual(storedSizeBound(encodeItem(it)));
      }),
      { numRuns: 2000 },
    );
  });

  it("holds at its tightest cases: arrays of one-digit numbers, empty arrays and maps", () => {
    for (const it of [
      // DynamoDB sizes these 1.5× and 1.33× their JSON text.
      { pk: "p", sk: "s", a: Array.from({ length: 10_000 }, (_, i) => i % 10) },
      { pk: "p", sk: "s", a: Array.from({ length: 10_000 }, (_, i) => (i % 2 ? [] : {})) },
      { pk: "p", sk: "s", a: [[[[[0]]]]] },
      { pk: "p", sk: "s", a: 0, b: -1, c: 1e21 },
    ] as Item[])
      expect(itemSize(it)).toBeLessThanOrEqual(storedSizeBound(encodeItem(it)));
  });
});
