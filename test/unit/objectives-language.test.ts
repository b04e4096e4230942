import { describe, expect, it } from "vitest";
import { StrataError } from "../../core/errors.ts";
import { globMatches, parseObjectives } from "../../core/objectives/language.ts";

function errorAt(text: string): { line: number; column: number; message: string } {
  try {
    parseObjectives(text);
  } catch (err) {
    expect(err).toBeInstanceOf(StrataError);
    const e = err as StrataError;
    expect(e.code).toBe("EINVAL");
    return { line: e.details.line as number, column: e.details.column as number, message: e.message };
  }
  throw new Error(`expected ${JSON.stringify(text)} not to parse`);
}

describe("objective language", () => {
  it("parses every action form", () => {
    const set = parseObjectives(
      [
        "place 2 on cloud:aws, class:durable",
        "keep 2 copies on durable",
        "exclude site:onprem-b",
        "prefer gcs-eu",
        "after 30d move to archive",
        "place 1 on any",
      ].join("\n"),
    );
    expect(set.override).toBe(false);
    expect(set.statements.map((s) => s.action)).toEqual([
      {
        kind: "place",
        count: 2,
        on: {
          terms: [
            { key: "cloud", value: { literal: "aws" } },
            { key: "class", value: { literal: "durable" } },
          ],
        },
      },
      { kind: "keep", count: 2, on: { terms: [{ key: "class", value: { literal: "durable" } }] } },
      { kind: "exclude", on: { terms: [{ key: "site", value: { literal: "onprem-b" } }] } },
      { kind: "prefer", on: { terms: [{ key: "site", value: { literal: "gcs-eu" } }] } },
      {
        kind: "after",
        ms: 30 * 86_400_000,
        on: { terms: [{ key: "class", value: { literal: "archive" } }] },
      },
      { kind: "place", count: 1, on: { terms: [] } },
    ]);
    expect(set.statements.map((s) => s.line)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("parses conditions, tag-valued selectors, ; separators, comments and override", () => {
    const set = parseObjectives(
      'override\nwhen tag:render-site = "gcs-eu" and path ~ "/show/**/*.exr" and size > 10MiB place 1 on site:gcs-eu; keep 2 copies on durable # cheap\n' +
        "when tag:render-site place 1 on site:$tag:render-site\nwhen mtime > 2w and owner = 1000 and tag:tier != hot exclude class:fast",
    );
    expect(set.override).toBe(true);
    expect(set.statements).toHaveLength(4);
    expect(set.statements[0]!.when).toEqual([
      { kind: "tag", key: "render-site", op: "=", value: "gcs-eu" },
      { kind: "path", glob: "/show/**/*.exr" },
      { kind: "size", op: ">", bytes: 10 * 1024 * 1024 },
    ]);
    expect(set.statements[0]!.source).toBe(
      'when tag:render-site = "gcs-eu" and path ~ "/show/**/*.exr" and size > 10MiB place 1 on site:gcs-eu',
    );
    expect(set.statements[1]!.source).toBe("keep 2 copies on durable");
    expect(set.statements[2]!.when).toEqual([{ kind: "tag", key: "render-site", op: "exists" }]);
    expect(set.statements[2]!.action).toEqual({
      kind: "place",
      count: 1,
      on: { terms: [{ key: "site", value: { tag: "render-site" } }] },
    });
    expect(set.statements[3]!.when).toEqual([
      { kind: "age", of: "mtime", op: ">", ms: 14 * 86_400_000 },
      { kind: "owner", op: "=", uid: 1000 },
      { kind: "tag", key: "tier", op: "!=", value: "hot" },
    ]);
  });

  it("an empty text or only comments is an empty set", () => {
    expect(parseObjectives("")).toEqual({ override: false, statements: [] });
    expect(parseObjectives("# nothing yet\n\n;")).toEqual({ override: false, statements: [] });
  });

  it.each([
    ["place 2 onn site:a", 1, 9, "expected `on`"],
    ["place 0 on site:a", 1, 7, "number of copies"],
    ["keep 2 copies on\n", 1, 17, "volume selector"],
    ["place 1 on region:eu", 1, 12, "unknown selector key `region`"],
    ["\n\n  when tag:x = place 1 on any", 3, 16, "expected a tag value"],
    ["when size > 10XB place 1 on any", 1, 13, "expected a size"],
    ["when mtime > 30 place 1 on any", 1, 14, "expected an age"],
    ['when path ~ "show/*" place 1 on any', 1, 13, "absolute"],
    ['place 1 on site:"unterminated', 1, 17, "unterminated string"],
    ["place 1 on site:a site:b", 1, 19, "expected `;` or a new line"],
    ["copy 1 to site:a", 1, 1, "unknown action `copy`"],
    ["place 1 on any\noverride", 2, 1, "`override` must be the first statement"],
    ["place 1 on site:a @", 1, 19, "unexpected character"],
    ["when colour = red place 1 on any", 1, 6, "unknown condition `colour`"],
  ])("%j fails at line %i column %i", (text, line, column, message) => {
    const e = errorAt(text);
    expect({ line: e.line, column: e.column }).toEqual({ line, column });
    expect(e.message).toContain(message);
  });

  it("globs: * stays within a name, ** spans names, ? is one character", () => {
    expect(globMatches("/show/*/a.exr", "/show/shot42/a.exr")).toBe(true);
    expect(globMatches("/show/*/a.exr", "/show/x/y/a.exr")).toBe(false);
    expect(globMatches("/show/**/*.exr", "/show/a.exr")).toBe(true);
    expect(globMatches("/show/**/*.exr", "/show/x/y/a.exr")).toBe(true);
    expect(globMatches("/show/**", "/show/x/y")).toBe(true);
    expect(globMatches("/a?c", "/abc")).toBe(true);
    expect(globMatches("/a.c", "/abc")).toBe(false);
  });
});
