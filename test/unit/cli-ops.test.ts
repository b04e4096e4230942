import { describe, expect, it } from "vitest";
import type { CommandContext } from "../../cli/command.ts";
import { findCommand, parseCommandArgs } from "../../cli/main.ts";
import { strataError } from "../../core/errors.ts";
import type { Strata } from "../../sdk/index.ts";
import { failureOf } from "../support/errors.ts";
import { capture } from "./cli-helpers.ts";

/**
 * Run a registry command against a fake deployment whose `admin.call` answers `answer(op, input)`:
 * what it called, what it printed, and its exit code.
 */
async function runOp(
  argv: string[],
  answer: (op: string, input: Record<string, unknown>) => unknown,
  json = false,
) {
  const [first, second, ...rest] = argv;
  const spec = findCommand(`${first} ${second}`) ?? findCommand(first!)!;
  const args = spec.name.includes(" ") ? rest : [second!, ...rest].filter((a) => a !== undefined);
  const calls: Array<{ op: string; input: Record<string, unknown> }> = [];
  const client = {
    admin: {
      call: async (op: string, input: Record<string, unknown>) => {
        calls.push({ op, input });
        return answer(op, input);
      },
    },
  } as unknown as Strata;
  const stdout = capture();
  const stderr = capture();
  const ctx: CommandContext = {
    io: { stdout, stderr, env: {}, cwd: "/" },
    json,
    command: spec.name,
    signal: new AbortController().signal,
    target: async () => ({ kind: "remote", endpoint: "http://127.0.0.1:1", pfs: "default", source: "test" }),
    client: async () => client,
    emit: (value, human) => {
      const text = json ? JSON.stringify(value) : ([] as string[]).concat(human()).join("\n");
      stdout.write(`${text}\n`);
    },
  };
  const input = parseCommandArgs(spec, args);
  const code = await spec.run(ctx, input);
  return { calls, code, stdout: stdout.text() };
}

describe("CLI registry commands", () => {
  it("send the documented op names and inputs", async () => {
    const cases: Array<[string[], string, Record<string, unknown>]> = [
      [
        ["volume", "add", "eu", "gcs", "bucket=b", "site=gcs-eu", "cost=2", 'opts={"a":1}'],
        "volume.add",
        { name: "eu", kind: "gcs", site: "gcs-eu", cost: 2, config: { bucket: "b", opts: { a: 1 } } },
      ],
      [["volume", "add", "l", "local"], "volume.add", { name: "l", kind: "local" }],
      [["volume", "ls"], "volume.list", {}],
      [["volume", "drain", "eu"], "volume.drain", { name: "eu" }],
      [["volume", "drain", "eu", "--wait"], "volume.drain", { name: "eu", wait: true }],
      [["volume", "rm", "eu"], "volume.remove", { name: "eu" }],
      [
        ["objective", "set", "/r", "keep", "2", "copies"],
        "objective.set",
        { path: "/r", text: "keep 2 copies" },
      ],
      [["objective", "ls"], "objective.list", {}],
      [["objective", "ls", "r"], "objective.list", { path: "/r" }],
      [["objective", "rm", "/r"], "objective.remove", { path: "/r" }],
      [["objective", "explain", "/r/a"], "objective.explain", { path: "/r/a" }],
      [["vacuum"], "vacuum.run", { apply: false }],
      [["vacuum", "--apply", "--time-budget", "30"], "vacuum.run", { apply: true, timeBudgetSeconds: 30 }],
      [["scrub"], "scrub.run", {}],
      [
        ["scrub", "--time-budget", "60", "--bytes-per-second", "1000", "--restart"],
        "scrub.run",
        { timeBudgetSeconds: 60, bytesPerSecond: 1000, restart: true },
      ],
      [["fsck"], "fsck.run", {}],
      [["fsck", "--only", "a", "--only", "b"], "fsck.run", { pfs: ["a", "b"] }],
      [["retention", "set", ""], "retention.set", { policy: "" }],
      [["retention", "set", "all 1h;", "daily 30d"], "retention.set", { policy: "all 1h; daily 30d" }],
      [["retention", "get"], "retention.get", {}],
      [
        ["mirror", "create", "projects", "dr", "--name", "n", "--volume", "gcs", "--volume", "s3"],
        "mirror.create",
        { source: "projects", target: "dr", name: "n", volumes: ["gcs", "s3"] },
      ],
      [
        ["mirror", "create", "projects", "dr", "--source-url", "http://127.0.0.1:9", "--source-token", "t"],
        "mirror.create",
        { source: { url: "http://127.0.0.1:9", pfs: "projects", token: "t" }, target: "dr" },
      ],
      [["mirror", "run", "n"], "mirror.run", { name: "n" }],
      [["mirror", "status"], "mirror.status", {}],
      [["mirror", "promote", "n", "--former", "demote"], "mirror.promote", { name: "n", former: "demote" }],
      [["backup", "create", "projects", "s3"], "backup.create", { pfs: "projects", volume: "s3" }],
      [
        ["backup", "restore", "p2", "s3", "backups/projects", "b1", "--keep-mirror"],
        "backup.restore",
        { name: "p2", volume: "s3", prefix: "backups/projects", bundle: "b1", keepMirror: true },
      ],
    ];
    for (const [argv, op, input] of cases) {
      const { calls, code } = await runOp(argv, () => ({}));
      expect(calls, argv.join(" ")).toEqual([{ op, input }]);
      expect(code).toBe(0);
    }
  });

  it("wrap the result as {op, result} in JSON", async () => {
    const { stdout } = await runOp(["volume", "ls"], () => [{ name: "local", kind: "local" }], true);
    expect(JSON.parse(stdout)).toEqual({ op: "volume.list", result: [{ name: "local", kind: "local" }] });
  });

  it("say 'not available in this deployment yet' (ENOTSUP, exit 7) for a missing op", async () => {
    for (const missing of [
      strataError("ENOTSUP", "no registry"),
      strataError("ENOENT", "no operation volume.list", { op: "volume.list" }),
    ]) {
      const err = await failureOf(
        runOp(["volume", "ls"], () => {
          throw missing;
        }),
      );
      expect(err.code).toBe("ENOTSUP");
      expect(err.message).toContain("`strata volume ls` is not available in this deployment yet");
      expect(err.details.op).toBe("volume.list");
    }
    // An ENOENT about something else (a volume name) stays ENOENT.
    const other = await failureOf(
      runOp(["volume", "drain", "x"], () => {
        throw strataError("ENOENT", "no volume x", { volume: "x" });
      }),
    );
    expect(other.code).toBe("ENOENT");
  });

  it("fsck exits 9 when it finds problems, scrub 6 when a copy stays bad, vacuum by its abort code", async () => {
    const clean = { ok: true, problems: [], checked: { pfs: 1, inodes: 3 } };
    const fsckClean = await runOp(["fsck"], () => clean);
    expect(fsckClean.code).toBe(0);
    expect(fsckClean.stdout).toContain("fsck: no problems (checked 1 pfs, 3 inodes)");
    const problem = { kind: "dangling-entry", pfs: "default", message: "entry /a points nowhere" };
    const fsckBad = await runOp(["fsck"], () => ({ ok: false, problems: [problem], checked: {} }));
    expect(fsckBad.code).toBe(9);
    expect(fsckBad.stdout).toContain("entry /a points nowhere");

    const finding = {
      chunk: "ab".repeat(32),
      volume: "s3",
      found: "corrupt",
      repaired: false,
      reason: "no good copy",
    };
    const scrubBad = await runOp(["scrub"], () => ({
      objects: 4,
      bytes: 10,
      findings: [finding],
      complete: true,
    }));
    expect(scrubBad.code).toBe(6);
    expect(scrubBad.stdout).toContain("no: no good copy");
    // A chunk gone everywhere: the files and versions that lost their bytes are listed.
    const lost = await runOp(["scrub"], () => ({
      objects: 0,
      bytes: 0,
      heads: 2,
      findings: [
        {
          ...finding,
          found: "missing",
          files: [
            { pfs: "default", path: "/f", ino: "9", version: "01a24c7bd9980000", live: false },
            { pfs: "default", path: "/g", ino: "a", version: "01a24c7bd9990000", live: true },
          ],
        },
      ],
      complete: true,
    }));
    expect(lost.code).toBe(6);
    expect(lost.stdout).toContain("2 existence checks");
    expect(lost.stdout).toContain(
      "lost bytes in:\n  default:/f @01a24c7bd9980000 (old version)\n  default:/g @01a24c7bd9990000 (live)",
    );
    const scrubOk = await runOp(["scrub"], () => ({
      objects: 4,
      bytes: 10,
      findings: [{ ...finding, repaired: true }],
      complete: true,
    }));
    expect(scrubOk.code).toBe(0);

    const report = {
      apply: false,
      records: { count: 5, byKind: { version: 5 } },
      chunks: { count: 2, instances: 2, bytes: 2048 },
      intents: 0,
      complete: true,
    };
    const dry = await runOp(["vacuum"], () => report);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("dry run");
    const aborted = await runOp(["vacuum"], () => ({
      ...report,
      aborted: { code: "EUNAVAIL", message: "s3 down" },
    }));
    expect(aborted.code).toBe(5);
    expect(aborted.stdout).toContain("EUNAVAIL: s3 down");
  });
});
