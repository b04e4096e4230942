import { describe, expect, it } from "vitest";
import { describeAsOf, parseAsOf } from "../../cli/as-of.ts";
import { parseDuration } from "../../cli/commands/admin.ts";
import { parseAttributes } from "../../cli/commands/volume.ts";
import { findTarget } from "../../cli/connection.ts";
import { findCommand, parseCommandArgs, resolveCommand } from "../../cli/main.ts";
import { StrataError } from "../../core/errors.ts";
import { failureOf } from "../support/errors.ts";
import { tempDir } from "./cli-helpers.ts";

/** The StrataError a call throws or rejects with. */
const fails = (fn: () => unknown) => failureOf(Promise.resolve().then(fn));

describe("CLI command resolution", () => {
  it("finds a command after global options that take values", () => {
    const r = resolveCommand(["--pfs", "scratch", "--json", "ls", "-l", "/a"]);
    expect(r.spec?.name).toBe("ls");
    expect(r.rest).toEqual(["--pfs", "scratch", "--json", "-l", "/a"]);
  });

  it("finds a subcommand of a group, and reports a group without one", () => {
    expect(resolveCommand(["tag", "set", "/a", "k", "v"]).spec?.name).toBe("tag set");
    expect(resolveCommand(["--local", "d", "snapshot", "ls"]).spec?.name).toBe("snapshot ls");
    const between = resolveCommand(["snapshot", "--pfs", "scratch", "create", "s1"]);
    expect(between.spec?.name).toBe("snapshot create");
    expect(between.rest).toEqual(["--pfs", "scratch", "s1"]);
    const bare = resolveCommand(["tag"]);
    expect(bare.spec).toBeUndefined();
    expect(bare.group).toBe("tag");
    const unknown = resolveCommand(["tag", "frob"]);
    expect(unknown.group).toBe("tag");
    expect(unknown.unknown).toBe("frob");
  });

  it("keeps a plain command's positionals (a path named like a command is a path)", () => {
    const r = resolveCommand(["cat", "ls"]);
    expect(r.spec?.name).toBe("cat");
    expect(r.rest).toEqual(["ls"]);
  });

  it("parses options and positionals, with global options after the command", () => {
    const parsed = parseCommandArgs(findCommand("rm")!, ["-rf", "/a", "/b", "--pfs", "x"]);
    expect(parsed.positionals).toEqual(["/a", "/b"]);
    expect(parsed.options).toMatchObject({ recursive: true, force: true, pfs: "x" });
  });

  it("refuses an unknown option and a wrong number of arguments with EINVAL", async () => {
    const unknown = await fails(() => parseCommandArgs(findCommand("ls")!, ["--frob"]));
    expect(unknown).toBeInstanceOf(StrataError);
    expect(unknown.code).toBe("EINVAL");
    expect(unknown.message).toContain("strata ls --help");
    const tooFew = await fails(() => parseCommandArgs(findCommand("mv")!, ["/a"]));
    expect(tooFew.code).toBe("EINVAL");
    expect(tooFew.message).toContain("usage: strata mv <from> <to>");
    const tooMany = await fails(() => parseCommandArgs(findCommand("tid")!, ["x"]));
    expect(tooMany.code).toBe("EINVAL");
  });
});

describe("CLI --as-of parsing", () => {
  it("takes a 16-hex-digit TID (lowercased)", () => {
    expect(parseAsOf("01A1FCF77CD40000")).toBe("01a1fcf77cd40000");
  });

  it("takes @snapshot", () => {
    expect(parseAsOf("@before-migration")).toEqual({ snapshot: "before-migration" });
  });

  it("takes ISO-8601 times with and without a zone, and a bare date", () => {
    expect(parseAsOf("2026-11-21T07:00:00Z")).toEqual(new Date("2026-11-21T07:00:00Z"));
    expect(parseAsOf("2026-11-21T07:00:00.123+02:00")).toEqual(new Date("2026-11-21T05:00:00.123Z"));
    expect(parseAsOf("2026-11-21")).toEqual(new Date("2026-11-21"));
    expect(parseAsOf("2026-11-21T07:00")).toBeInstanceOf(Date);
  });

  it("takes a time ago, against the clock it is given (no wall clock in this test)", () => {
    const now = () => Date.parse("2026-12-07T12:00:00Z");
    const at = (text: string) => (parseAsOf(text, "--as-of", now) as Date).toISOString();
    expect(at("5 minutes ago")).toBe("2026-12-07T11:55:00.000Z");
    expect(at("1 minute ago")).toBe("2026-12-07T11:59:00.000Z");
    expect(at("90s ago")).toBe("2026-12-07T11:58:30.000Z");
    expect(at("2h")).toBe("2026-12-07T10:00:00.000Z");
    expect(at("1.5 hours ago")).toBe("2026-12-07T10:30:00.000Z");
    expect(at("3 days ago")).toBe("2026-12-04T12:00:00.000Z");
    expect(at("1 week ago")).toBe("2026-11-30T12:00:00.000Z");
  });

  it.each([
    "",
    "@",
    "yesterday",
    "5 ms ago",
    "5 fortnights ago",
    "minutes ago",
    "01a1fcf77cd4000",
    "01a1fcf77cd400000",
    "2026-02-30",
    "2026-11-21T25:00Z",
    "0x01a1fcf77cd40000",
  ])("refuses %j with EINVAL naming the accepted forms", async (text) => {
    const err = await fails(() => parseAsOf(text));
    expect(err.code).toBe("EINVAL");
    expect(err.message).toContain("@name of a snapshot");
    expect(err.message).toContain("5 minutes ago");
  });

  it("describes points as the JSON outputs show them", () => {
    expect(describeAsOf({ snapshot: "s" })).toBe("@s");
    expect(describeAsOf(new Date("2026-11-21T07:00:00Z"))).toBe("2026-11-21T07:00:00.000Z");
    expect(describeAsOf("01a1fcf77cd40000")).toBe("01a1fcf77cd40000");
  });
});

describe("CLI small parsers", () => {
  it("durations", () => {
    expect(parseDuration("90", "--ttl")).toBe(90);
    expect(parseDuration("45m", "--ttl")).toBe(2700);
    expect(parseDuration("30d", "--ttl")).toBe(30 * 86400);
    expect(() => parseDuration("soon", "--ttl")).toThrow(/--ttl/);
    expect(() => parseDuration("0", "--ttl")).toThrow(/--ttl/);
  });

  it("volume attributes", () => {
    expect(parseAttributes(["bucket=b", "url=http://x/?a=b"])).toEqual({ bucket: "b", url: "http://x/?a=b" });
    expect(() => parseAttributes(["bucket"])).toThrow(/key=value/);
  });
});

describe("CLI deployment discovery", () => {
  it("prefers --local, then --endpoint/env, then connection.json in STRATA_HOME, then the nearest .strata up from cwd", async () => {
    const { dir, cleanup } = await tempDir("strata-cli-target-");
    try {
      const { mkdir, writeFile } = await import("node:fs/promises");
      const local = await findTarget({ local: "data", endpoint: "http://x" }, {}, dir);
      expect(local).toEqual({ kind: "local", dir: `${dir}/data`, pfs: "default" });

      const env = await findTarget(
        {},
        { STRATA_ENDPOINT: "http://e", STRATA_TOKEN: "t", STRATA_PFS: "p" },
        dir,
      );
      expect(env).toMatchObject({ kind: "remote", endpoint: "http://e", token: "t", pfs: "p" });

      await mkdir(`${dir}/.strata`);
      await writeFile(
        `${dir}/.strata/connection.json`,
        JSON.stringify({ endpoint: "http://f", token: "ft", pfs: "q" }),
      );
      const file = await findTarget({}, {}, dir);
      expect(file).toMatchObject({ kind: "remote", endpoint: "http://f", token: "ft", pfs: "q" });
      expect(await findTarget({ pfs: "r", token: "mine" }, {}, dir)).toMatchObject({
        pfs: "r",
        token: "mine",
      });

      await mkdir(`${dir}/home`);
      await writeFile(`${dir}/home/connection.json`, JSON.stringify({ endpoint: "http://h", token: "ht" }));
      expect(await findTarget({}, { STRATA_HOME: "home" }, dir)).toMatchObject({
        endpoint: "http://h",
        pfs: "default",
      });

      // From a subdirectory, the nearest parent's .strata (as git finds .git).
      await mkdir(`${dir}/a/b/c`, { recursive: true });
      expect(await findTarget({}, {}, `${dir}/a/b/c`)).toMatchObject({
        endpoint: "http://f",
        source: `${dir}/.strata/connection.json`,
      });
      await mkdir(`${dir}/a/.strata`);
      await writeFile(`${dir}/a/.strata/connection.json`, JSON.stringify({ endpoint: "http://nearer" }));
      expect(await findTarget({}, {}, `${dir}/a/b/c`)).toMatchObject({ endpoint: "http://nearer" });

      await writeFile(`${dir}/home/connection.json`, "{not json");
      const broken = await fails(() => findTarget({}, { STRATA_HOME: "home" }, dir));
      expect(broken.code).toBe("EINVAL");
    } finally {
      await cleanup();
    }
  });

  it("says to run npm start or pass --endpoint when nothing is found", async () => {
    const { dir, cleanup } = await tempDir("strata-cli-none-");
    try {
      const err = await fails(() => findTarget({}, {}, dir));
      expect(err.code).toBe("EINVAL");
      expect(err.message).toMatch(/npm start.*--endpoint/s);
    } finally {
      await cleanup();
    }
  });
});

describe("CLI tag set arguments", () => {
  it("takes <key>=<value> (split at the first '=') or <key> <value>, and refuses a pair without a key", async () => {
    const { keyAndValue } = await import("../../cli/commands/tag.ts");
    expect(keyAndValue(["render-site=gcs-eu"])).toEqual(["render-site", "gcs-eu"]);
    expect(keyAndValue(["expr=a=b"])).toEqual(["expr", "a=b"]);
    expect(keyAndValue(["empty="])).toEqual(["empty", ""]);
    expect(keyAndValue(["render-site", "gcs=eu"])).toEqual(["render-site", "gcs=eu"]);
    for (const bad of ["no-equals", "=value"]) {
      const err = await fails(() => keyAndValue([bad]));
      expect(err.code).toBe("EINVAL");
      expect(err.message).toContain("<key>=<value>");
    }
  });
});
