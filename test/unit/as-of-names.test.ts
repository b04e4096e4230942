import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isStrataError } from "../../core/errors.ts";
import { asOfName, parseAsOf, resolveAsOfName } from "../../core/namespace/as-of-names.ts";

const SEED = { seed: 20261207, numRuns: 500 };
const nameChar = fc.constantFrom(..."abcXYZ09._- @:".split(""));
const plainName = fc
  .string({ unit: nameChar, minLength: 1, maxLength: 12 })
  .filter((n) => n !== "." && n !== ".." && n !== ".strata");
const tid = fc.bigInt({ min: 1n, max: (1n << 63n) - 1n }).map((n) => n.toString(16).padStart(16, "0"));
const time = fc.date({
  min: new Date("2001-01-01T00:00:00Z"),
  max: new Date("2090-01-01T00:00:00Z"),
  noInvalidDate: true,
});
const point = fc.oneof(
  tid,
  time,
  fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/).map((snapshot) => ({ snapshot })),
);

describe("as-of names (name@@point, /.strata/as-of, /.strata/snapshots)", () => {
  it("a path of ordinary names is itself, live and writable", () => {
    fc.assert(
      fc.property(fc.array(plainName, { maxLength: 5 }), (names) => {
        const path = `/${names.join("/")}`;
        expect(resolveAsOfName(path)).toEqual({ kind: "path", path, readOnly: false });
      }),
      SEED,
    );
  });

  it("name@@point at any depth names the path without the marker, as of the point, read-only", () => {
    fc.assert(
      fc.property(fc.array(plainName, { minLength: 1, maxLength: 5 }), fc.nat(), point, (names, at, p) => {
        const i = at % names.length;
        const marked = names.map((n, j) => (j === i ? asOfName(n, p) : n));
        const resolved = resolveAsOfName(`/${marked.join("/")}`);
        expect(resolved).toEqual({ kind: "path", path: `/${names.join("/")}`, asOf: p, readOnly: true });
      }),
      SEED,
    );
  });

  it("the control trees read the same path as of the same point", () => {
    fc.assert(
      fc.property(fc.array(plainName, { maxLength: 4 }), tid, (names, t) => {
        expect(resolveAsOfName(`/.strata/as-of/${t}/${names.join("/")}`)).toEqual({
          kind: "path",
          path: `/${names.join("/")}`,
          asOf: t,
          readOnly: true,
        });
        expect(resolveAsOfName(`/.strata/snapshots/nightly/${names.join("/")}`)).toEqual({
          kind: "path",
          path: `/${names.join("/")}`,
          asOf: { snapshot: "nightly" },
          readOnly: true,
        });
      }),
      SEED,
    );
    expect(resolveAsOfName("/.strata")).toEqual({ kind: "control", dir: "root", readOnly: true });
    expect(resolveAsOfName("/.strata/snapshots")).toEqual({
      kind: "control",
      dir: "snapshots",
      readOnly: true,
    });
    expect(resolveAsOfName("/.strata/as-of")).toEqual({ kind: "control", dir: "as-of", readOnly: true });
  });

  it("text after @@ that is not a point keeps the name ordinary; two points in one path are EINVAL", () => {
    expect(resolveAsOfName("/a@@b")).toEqual({ kind: "path", path: "/a@@b", readOnly: false });
    expect(resolveAsOfName("/a@@")).toEqual({ kind: "path", path: "/a@@", readOnly: false });
    expect(resolveAsOfName("/@@0189f3c2a4b10000")).toEqual({
      kind: "path",
      path: "/@@0189f3c2a4b10000",
      readOnly: false,
    });
    expect(resolveAsOfName("/a@@@nightly/b")).toEqual({
      kind: "path",
      path: "/a/b",
      asOf: { snapshot: "nightly" },
      readOnly: true,
    });
    const twice = () => resolveAsOfName("/a@@0189f3c2a4b10000/b@@0189f3c2a4b10001");
    expect(twice).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => resolveAsOfName("/.strata/as-of/0189f3c2a4b10000/b@@0189f3c2a4b10001")).toThrow(
      expect.objectContaining({ code: "EINVAL" }),
    );
    for (const bad of ["/.strata/other", "/.strata/as-of/yesterday", "/.strata/as-of/@nightly"]) {
      try {
        resolveAsOfName(bad);
        expect.unreachable(bad);
      } catch (err) {
        expect(isStrataError(err, "ENOENT")).toBe(true);
      }
    }
  });

  it("parseAsOf keeps the CLI's forms", () => {
    expect(parseAsOf("01A1FCF77CD40000")).toBe("01a1fcf77cd40000");
    expect(parseAsOf("@x")).toEqual({ snapshot: "x" });
    expect(() => parseAsOf("2026-02-30")).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });
});
