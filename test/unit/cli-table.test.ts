import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../../cli/commands/index.ts";
import { EXIT, EXIT_CODE_OF, EXIT_MEANING, exitCodeOf } from "../../cli/exit-codes.ts";
import { commandHelp, mainHelp } from "../../cli/main.ts";
import { ERROR_CODES, type ErrorCode } from "../../core/errors.ts";
import { cli } from "./cli-helpers.ts";

describe("CLI exit codes", () => {
  it("maps every StrataError code to a documented, non-zero exit code", () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const exit = exitCodeOf(code);
      expect(exit, code).not.toBe(EXIT.OK);
      expect(EXIT_MEANING[exit], `${code} → ${exit}`).toBeDefined();
    }
    expect(Object.keys(EXIT_CODE_OF).sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it("names each code of a class in the class's meaning", () => {
    for (const [code, exit] of Object.entries(EXIT_CODE_OF)) {
      if (exit === EXIT.ABORTED) continue;
      expect(EXIT_MEANING[exit], code).toContain(code);
    }
  });

  it("keeps the documented classes", () => {
    expect(exitCodeOf("EINVAL")).toBe(1);
    expect(exitCodeOf("ENOENT")).toBe(2);
    expect(exitCodeOf("EEXIST")).toBe(3);
    expect(exitCodeOf("EACCES")).toBe(4);
    expect(exitCodeOf("EUNAVAIL")).toBe(5);
    expect(exitCodeOf("ECORRUPT")).toBe(6);
    expect(exitCodeOf("ENOTSUP")).toBe(7);
    expect(exitCodeOf("EPRUNED")).toBe(8);
  });
});

describe("CLI help", () => {
  it("has a summary, usage, and at least one example per command, all distinct names", () => {
    expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length);
    for (const spec of COMMANDS) {
      expect(spec.summary.length, spec.name).toBeGreaterThan(10);
      expect(spec.examples.length, spec.name).toBeGreaterThan(0);
      for (const example of spec.examples) expect(example, spec.name).toContain(`strata `);
      const help = commandHelp(spec);
      expect(help).toContain(`usage: strata ${spec.name}`);
      expect(help).toContain("examples:");
      for (const option of Object.keys(spec.options ?? {})) expect(help).toContain(`--${option}`);
    }
  });

  it("lists every command in `strata --help`", () => {
    const help = mainHelp();
    for (const spec of COMMANDS) expect(help).toContain(spec.name);
    expect(help).toContain("exit codes:");
  });

  it("answers --help for every command (and a group) without a deployment", async () => {
    for (const spec of COMMANDS) {
      const run = await cli([...spec.name.split(" "), "--help"]);
      expect(run.code, spec.name).toBe(0);
      expect(run.stdout).toContain(`strata ${spec.name} — ${spec.summary}`);
    }
    const group = await cli(["snapshot", "--help"]);
    expect(group.code).toBe(0);
    expect(group.stdout).toContain("strata snapshot create");
    const top = await cli(["--help"]);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain("commands:");
    const version = await cli(["--version"]);
    expect(version.stdout).toMatch(/^strata \d+\.\d+\.\d+\n$/);
    const topic = await cli(["help", "tag", "set"]);
    expect(topic.stdout).toContain("usage: strata tag set <path> <key>=<value> | <path> <key> <value>");
  });

  it("prints the help on stderr with exit 1 for a bare `strata`, and refuses unknown commands", async () => {
    const bare = await cli([]);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain("commands:");
    const unknown = await cli(["frobnicate"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("unknown command `frobnicate`");
    const sub = await cli(["tag", "frob", "--json"]);
    expect(sub.code).toBe(1);
    expect(JSON.parse(sub.stderr).error.code).toBe("EINVAL");
  });
});

describe("docs/cli.md", () => {
  it("documents every command and every exit code", async () => {
    const doc = await readFile(new URL("../../docs/cli.md", import.meta.url), "utf8");
    for (const spec of COMMANDS) {
      const [group, sub] = spec.name.split(" ");
      // Commands of a group may share a table row ("tag set …, tag rm …").
      expect(doc, spec.name).toMatch(new RegExp("`" + group + (sub ? ` ${sub}` : "") + "[ `]"));
    }
    for (const exit of Object.keys(EXIT_MEANING))
      expect(doc, `exit ${exit}`).toMatch(new RegExp(`\\| ${exit} +\\|`));
  });
});
