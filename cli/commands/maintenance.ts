/** Keeping a deployment healthy and cheap: vacuum, scrub, fsck, retention (registry operations). */
import type { CommandSpec } from "../command.ts";
import { EXIT } from "../exit-codes.ts";
import { opCommand, secondsOption } from "./op.ts";
import { flag, str } from "./options.ts";

/**
 * fsck's verdict. The fsck.run output shape belongs to its owner; the CLI reads the fields a
 * report is expected to have: `problems` (a list or a count) or `ok: false`.
 */
export function fsckFoundProblems(result: unknown): boolean {
  if (typeof result !== "object" || result === null) return false;
  const r = result as { ok?: unknown; problems?: unknown };
  if (r.ok === false) return true;
  if (Array.isArray(r.problems)) return r.problems.length > 0;
  return typeof r.problems === "number" && r.problems > 0;
}

export const maintenanceCommands: CommandSpec[] = [
  opCommand({
    name: "vacuum",
    op: "vacuum.run",
    summary: "remove history no retained point can see and unreferenced chunks (dry run unless --apply)",
    args: "",
    positionals: { min: 0, max: 0 },
    options: {
      apply: { type: "boolean", description: "really delete (without it: only report what would go)" },
      "time-budget": {
        type: "string",
        value: "<seconds>",
        description: "stop after about this long (resumable)",
      },
    },
    examples: ["strata vacuum", "strata vacuum --apply --time-budget 300"],
    input: ({ options }) => {
      const budget = secondsOption(str(options, "time-budget"), "--time-budget");
      return {
        apply: flag(options, "apply"),
        ...(budget === undefined ? {} : { timeBudgetSeconds: budget }),
      };
    },
  }),
  opCommand({
    name: "scrub",
    op: "scrub.run",
    summary: "verify stored chunks against their CRC and repair bad copies",
    args: "",
    positionals: { min: 0, max: 0 },
    examples: ["strata scrub", "strata scrub --json"],
    input: () => ({}),
  }),
  opCommand({
    name: "fsck",
    op: "fsck.run",
    summary: "check the namespace's records for consistency (exit 9 when problems are found)",
    args: "",
    positionals: { min: 0, max: 0 },
    examples: ["strata fsck", "strata fsck --json || echo 'fsck found problems'"],
    input: () => ({}),
    exitCode: (result) => (fsckFoundProblems(result) ? EXIT.FSCK_PROBLEMS : EXIT.OK),
  }),
  opCommand({
    name: "retention set",
    op: "retention.set",
    summary: "set this deployment's retention policy (what history vacuum keeps)",
    args: "<policy…>",
    positionals: { min: 1 },
    examples: ["strata retention set 'all 1h; hourly 1d; daily 30d; monthly 1y'"],
    input: ({ positionals }) => ({ policy: positionals.join(" ") }),
  }),
  opCommand({
    name: "retention get",
    op: "retention.get",
    summary: "show the retention policy",
    args: "",
    positionals: { min: 0, max: 0 },
    examples: ["strata retention get"],
    input: () => ({}),
  }),
];
