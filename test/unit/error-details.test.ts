/**
 * Typed error details (core/errors.ts): `isStrataError(err, code)` types `details` as that code's
 * (`DetailsOf`), so callers read `details.item`, `details.reasons`, `details.again` without a cast.
 * The type assertions are checked by `tsc --noEmit` (test/ is in tsconfig.json); the runtime
 * assertions check that the guard still tells codes apart.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import { isStrataError, StrataError, strataError } from "../../core/errors.ts";
import type { CancellationReason, Item } from "../../core/metadata/port.ts";

describe("typed error details", () => {
  it("a store's ECONFLICT answer reads as Item / CancellationReason[] through the guard", () => {
    const item: Item = { pk: "p", sk: "s", v: 1 };
    const err: unknown = strataError("ECONFLICT", "condition failed", {
      item,
      reasons: [null, { code: "ConditionalCheckFailed", item }],
      failedIndex: 1,
    });
    expect(isStrataError(err, "ECONFLICT")).toBe(true);
    if (!isStrataError(err, "ECONFLICT")) return;
    expectTypeOf(err.details.item).toEqualTypeOf<Item | undefined>();
    expectTypeOf(err.details.reasons).toEqualTypeOf<Array<CancellationReason | null> | undefined>();
    expect(err.details.item).toEqual(item);
    expect(err.details.reasons?.[1]?.item?.sk).toBe("s");
    // Untyped keys stay readable (as unknown), and writable.
    err.details.path = "/a";
    expect(err.details.path).toBe("/a");
  });

  it("a code's own details are typed only once narrowed to that code (counter-check)", () => {
    const made = new StrataError("ETIMEDOUT", "not yet", { details: { again: true } });
    // Not narrowed to a code: `again` is just an untyped key, and a typed read does not compile.
    // @ts-expect-error unknown is not boolean | undefined
    const untyped: boolean | undefined = made.details.again;
    expect(untyped).toBe(true);
    const err: unknown = made;
    expect(isStrataError(err, "ECONFLICT")).toBe(false);
    expect(isStrataError(err, "ETIMEDOUT")).toBe(true);
    if (!isStrataError(err, "ETIMEDOUT")) return;
    expectTypeOf(err.details.again).toEqualTypeOf<boolean | undefined>();
    const again: boolean | undefined = err.details.again;
    expect(again).toBe(true);
  });
});
