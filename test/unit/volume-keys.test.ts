import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isStrataError } from "../../core/errors.ts";
import {
  utf8Length,
  validateKey,
  validateMetadata,
  validatePrefix,
  validateRange,
} from "../../core/volume/keys.ts";

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (err) {
    return isStrataError(err) ? err.code : `non-StrataError ${String(err)}`;
  }
}

describe("volume keys", () => {
  it("accepts ordinary, nested and unicode keys as given", () => {
    for (const key of [
      "a",
      "chunks/ab/cd",
      "a/.hidden",
      "a/..b",
      "...",
      "caf\u00e9",
      "cafe\u0301",
      "📁/x",
      "x".repeat(1024),
    ]) {
      expect(
        codeOf(() => validateKey("v", key)),
        key,
      ).toBe("ok");
    }
  });

  it("rejects empty, control, backslash, surrogate and bad-segment keys with EINVAL", () => {
    const bad = [
      "",
      "/a",
      "a/",
      "a//b",
      ".",
      "..",
      "a/./b",
      "a/../b",
      "a/..",
      "a\\b",
      "a\u0000",
      "a\u001f",
      "a\u007f",
      "a\u0080",
      "a\u009f",
      "a\ud800",
      "\udc00a",
      "a\ud800b",
    ];
    for (const key of bad)
      expect(
        codeOf(() => validateKey("v", key)),
        JSON.stringify(key),
      ).toBe("EINVAL");
  });

  it("rejects keys over 1,024 UTF-8 bytes with ENAMETOOLONG, counting bytes not characters", () => {
    expect(codeOf(() => validateKey("v", "x".repeat(1025)))).toBe("ENAMETOOLONG");
    expect(codeOf(() => validateKey("v", "é".repeat(512)))).toBe("ok");
    expect(codeOf(() => validateKey("v", "é".repeat(513)))).toBe("ENAMETOOLONG");
    expect(codeOf(() => validateKey("v", "😀".repeat(256)))).toBe("ok");
    expect(codeOf(() => validateKey("v", `${"😀".repeat(256)}x`))).toBe("ENAMETOOLONG");
  });

  it("names the volume and the key and says what to do", () => {
    try {
      validateKey("s3-eu", "a//b");
      expect.unreachable();
    } catch (err) {
      expect(isStrataError(err, "EINVAL")).toBe(true);
      const e = err as Error & { details: Record<string, unknown> };
      expect(e.message).toContain("s3-eu");
      expect(e.message).toContain('"a//b"');
      expect(e.details).toEqual({ volume: "s3-eu", key: "a//b" });
    }
  });

  it("computes UTF-8 length like Buffer.byteLength for well-formed strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (s) => {
        expect(utf8Length(s)).toBe(Buffer.byteLength(s, "utf8"));
      }),
    );
  });

  it("accepts prefixes that are empty, end with '/' or end in a partial segment; rejects bad complete segments", () => {
    for (const p of ["", "a", "a/", "a/b", "a/.", "a/..", "a/.h"])
      expect(
        codeOf(() => validatePrefix("v", p)),
        p,
      ).toBe("ok");
    for (const p of ["/", "/a", "a//", "./", "a/../", "a\\", "a\u0001"]) {
      expect(
        codeOf(() => validatePrefix("v", p)),
        p,
      ).toBe("EINVAL");
    }
  });

  it("validates metadata names, values and total size", () => {
    expect(validateMetadata("v", "k", { "content-kind": "chunk", n: "1" })).toEqual({
      "content-kind": "chunk",
      n: "1",
    });
    expect(validateMetadata("v", "k", undefined)).toEqual({});
    expect(codeOf(() => validateMetadata("v", "k", { Upper: "x" }))).toBe("EINVAL");
    expect(codeOf(() => validateMetadata("v", "k", { "": "x" }))).toBe("EINVAL");
    expect(codeOf(() => validateMetadata("v", "k", { a_b: "x" }))).toBe("EINVAL");
    expect(codeOf(() => validateMetadata("v", "k", { ["x".repeat(65)]: "x" }))).toBe("EINVAL");
    expect(codeOf(() => validateMetadata("v", "k", { "strata-crc32c": "x" }))).toBe("EINVAL");
    expect(codeOf(() => validateMetadata("v", "k", { a: "caf\u00e9" }))).toBe("EINVAL");
    expect(codeOf(() => validateMetadata("v", "k", { a: "line\nbreak" }))).toBe("EINVAL");
    expect(codeOf(() => validateMetadata("v", "k", { a: "x".repeat(1024) }))).toBe("ok");
    expect(codeOf(() => validateMetadata("v", "k", { a: "x".repeat(1025) }))).toBe("E2BIG");
    expect(codeOf(() => validateMetadata("v", "k", { a: "x".repeat(1000), b: "x".repeat(1000) }))).toBe("ok");
    expect(
      codeOf(() =>
        validateMetadata("v", "k", { a: "x".repeat(1000), b: "x".repeat(1000), c: "x".repeat(46) }),
      ),
    ).toBe("E2BIG");
  });

  it("validates ranges: integers, start ≥ 0, end ≥ start", () => {
    for (const r of [{ start: 0 }, { start: 0, end: 0 }, { start: 5, end: 10 }, { start: 10 ** 12 }]) {
      expect(codeOf(() => validateRange("v", "k", r))).toBe("ok");
    }
    for (const r of [
      { start: -1 },
      { start: 1.5 },
      { start: 5, end: 4 },
      { start: 0, end: Number.NaN },
      { start: Number.POSITIVE_INFINITY },
    ]) {
      expect(
        codeOf(() => validateRange("v", "k", r)),
        JSON.stringify(r),
      ).toBe("EINVAL");
    }
  });
});
