/** History commands: history, revert, tid, snapshot create|ls|rm. */
import { strataError } from "../../core/errors.ts";
import type { RevertPlan } from "../../core/namespace/api.ts";
import { AS_OF_HELP, describeAsOf, parseAsOf } from "../as-of.ts";
import type { CommandSpec } from "../command.ts";
import { columns, snapshotJson, versionJson } from "../format.ts";
import { pfsPath } from "./files.ts";
import { AS_OF_OPTION, asOfOf, flag, str } from "./options.ts";

const history: CommandSpec = {
  name: "history",
  summary: "versions of a path, newest first",
  args: "<path>",
  positionals: { min: 1, max: 1 },
  options: {
    limit: { type: "string", short: "n", value: "<count>", description: "show at most <count> versions" },
  },
  examples: ["strata history /notes.txt", "strata history -n 5 --json /config/app.yaml"],
  notes: [
    'JSON: {"path","versions":[{"tid","time","change","type","size","mode","mtime"} or {"tid","time","change","deleted":true}]}',
    "Any TID shown can be given to --as-of or `revert --to`.",
  ],
  async run(ctx, { positionals, options }) {
    const client = await ctx.client();
    const path = pfsPath(positionals[0]!);
    const limitText = str(options, "limit");
    const limit = limitText === undefined ? undefined : Number(limitText);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
      throw strataError("EINVAL", `--limit ${JSON.stringify(limitText)} is not a positive whole number`, {
        option: "--limit",
        value: limitText,
      });
    }
    const versions = (await client.history(path, limit === undefined ? {} : { limit })).map(versionJson);
    ctx.emit({ path, versions }, () =>
      columns(
        [
          ["TID", "TIME", "CHANGE", "SIZE"],
          ...versions.map((v) => [v.tid, v.time, v.change, "deleted" in v ? "(deleted)" : String(v.size)]),
        ],
        [false, false, false, true],
      ),
    );
    return 0;
  },
};

/** The lines of a revert plan: `+` created, `~` changed, `-` removed (a directory with everything below it). */
function planLines(plan: RevertPlan): string[] {
  const lines = [
    ...plan.created.map((p) => `  + ${p}`),
    ...plan.changed.map((p) => `  ~ ${p}`),
    ...plan.removed.map((p) => `  - ${p}`),
  ];
  return lines.length > 0 ? lines : ["  (nothing to change)"];
}

const revert: CommandSpec = {
  name: "revert",
  summary:
    "restore a file or directory (with -r, its subtree) as it was at a point in history, as a new commit",
  args: "<path>",
  positionals: { min: 1, max: 1 },
  options: {
    to: { type: "string", value: AS_OF_HELP, description: "the point to restore (required)" },
    recursive: { type: "boolean", short: "r", description: "restore the whole subtree" },
    "by-path": {
      type: "boolean",
      description: "restore what the path named at that point, not the object it names now",
    },
    "dry-run": { type: "boolean", description: "only list what would change (nothing is written)" },
  },
  examples: [
    "strata revert /notes.txt --to 0189f3c2a4b10000",
    "strata revert -r /config --to @before-migration",
    "strata revert -r --dry-run /show/shot42 --to @take1",
    "strata revert --by-path /a.txt --to 2026-11-21T07:00:00Z",
  ],
  notes: [
    "By identity: the file or directory <path> names now gets its content and attributes of that point back where it is now (renames since do not matter); an object that did not exist then is refused (exit 2), nothing changes. --by-path restores what the path itself named then.",
    "With -r the list of changes (+ created, ~ changed, - removed) is printed before the revert acts.",
    'JSON: {"path","to","tid","plan"?} (tid: the revert\'s own commit; plan with -r); --dry-run: {"path","to","dryRun":true,"created","changed","removed"}',
  ],
  async run(ctx, { positionals, options }) {
    const text = str(options, "to");
    if (text === undefined) {
      throw strataError("EINVAL", "revert needs --to <tid|time|@snapshot>: the point to restore", {
        option: "--to",
      });
    }
    const point = parseAsOf(text, "--to");
    const client = await ctx.client();
    const path = pfsPath(positionals[0]!);
    const recursive = flag(options, "recursive");
    const byPath = flag(options, "by-path");
    const to = describeAsOf(point);
    if (flag(options, "dry-run")) {
      const plan = await client.revert(path, point, { recursive, byPath, dryRun: true });
      ctx.emit({ path, to, dryRun: true, ...plan }, () => [
        `revert ${path} to ${to} would change:`,
        ...planLines(plan),
      ]);
      return 0;
    }
    let plan: RevertPlan | undefined;
    if (recursive) {
      // A directory: say what is about to change before changing it.
      plan = await client.revert(path, point, { recursive, byPath, dryRun: true });
      if (!ctx.json)
        ctx.io.stdout.write(`${[`reverting ${path} to ${to}:`, ...planLines(plan)].join("\n")}\n`);
    }
    const tid = await client.revert(path, point, { recursive, byPath });
    ctx.emit({ path, to, tid, ...(plan ? { plan } : {}) }, () => `reverted ${path} to ${to} (commit ${tid})`);
    return 0;
  },
};

const tid: CommandSpec = {
  name: "tid",
  summary: "the current TID: as-of reads at it are stable",
  args: "",
  positionals: { min: 0, max: 0 },
  examples: ["strata tid", 'T=$(strata tid) && strata cat /a.txt --as-of "$T"'],
  notes: ['JSON: {"tid"}'],
  async run(ctx) {
    const current = await (await ctx.client()).currentTid();
    ctx.emit({ tid: current }, () => current);
    return 0;
  },
};

const snapshotCreate: CommandSpec = {
  name: "snapshot create",
  summary: "name the current state (or the state at --as-of)",
  args: "<name>",
  positionals: { min: 1, max: 1 },
  options: { ...AS_OF_OPTION },
  examples: [
    "strata snapshot create before-migration",
    "strata snapshot create nightly --as-of 2026-11-21T00:00:00Z",
  ],
  notes: ['JSON: {"snapshot":{"name","tid","createdAt"}}'],
  async run(ctx, { positionals, options }) {
    const client = await ctx.client();
    const point = asOfOf(options);
    const snap = await client.snapshots.create(
      positionals[0]!,
      point === undefined ? undefined : { asOf: point },
    );
    const json = snapshotJson(snap);
    ctx.emit({ snapshot: json }, () => `snapshot ${json.name} at ${json.tid}`);
    return 0;
  },
};

const snapshotLs: CommandSpec = {
  name: "snapshot ls",
  summary: "list this PFS's snapshots",
  args: "",
  positionals: { min: 0, max: 0 },
  examples: ["strata snapshot ls", "strata --pfs scratch snapshot ls --json"],
  notes: ['JSON: {"snapshots":[{"name","tid","createdAt"}]}'],
  async run(ctx) {
    const snapshots = (await (await ctx.client()).snapshots.list()).map(snapshotJson);
    ctx.emit({ snapshots }, () =>
      snapshots.length === 0
        ? []
        : columns([["NAME", "TID", "CREATED"], ...snapshots.map((s) => [s.name, s.tid, s.createdAt])]),
    );
    return 0;
  },
};

const snapshotRm: CommandSpec = {
  name: "snapshot rm",
  summary: "forget a snapshot (its TID stays readable until retention prunes it)",
  args: "<name>",
  positionals: { min: 1, max: 1 },
  examples: ["strata snapshot rm before-migration"],
  notes: ['JSON: {"removed":"<name>"}'],
  async run(ctx, { positionals }) {
    await (await ctx.client()).snapshots.delete(positionals[0]!);
    ctx.emit({ removed: positionals[0] }, () => []);
    return 0;
  },
};

export const historyCommands: CommandSpec[] = [history, revert, tid, snapshotCreate, snapshotLs, snapshotRm];
