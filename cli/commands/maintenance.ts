/** Keeping a deployment healthy and cheap: vacuum, scrub, fsck, retention (registry operations). */
import { ERROR_CODES, type ErrorCode } from "../../core/errors.ts";
import type { CommandSpec } from "../command.ts";
import { EXIT, exitCodeOf } from "../exit-codes.ts";
import { columns, humanBytes } from "../format.ts";
import { renderValue } from "../render.ts";
import { opCommand, positiveOption } from "./op.ts";
import { flag, str } from "./options.ts";

// The report shapes below are those of core/maintenance (vacuum.ts, scrub.ts, fsck.ts) as far as
// the CLI reads them; a report that does not look like one is rendered generically.

interface Aborted {
  aborted?: { code: string; message: string };
}

/** A run that stopped on an error reports it in `aborted` (it does not throw): exit by its code. */
function abortedExit(result: unknown): number {
  const aborted = (result as Aborted | null)?.aborted;
  if (!aborted) return EXIT.OK;
  return aborted.code in ERROR_CODES ? exitCodeOf(aborted.code as ErrorCode) : EXIT.DATA;
}

function abortedLine(result: unknown): string[] {
  const aborted = (result as Aborted | null)?.aborted;
  return aborted
    ? [`stopped by an error: ${aborted.code}: ${aborted.message} (nothing was deleted after it)`]
    : [];
}

function renderVacuum(result: unknown): string[] {
  const r = result as {
    apply?: boolean;
    records?: { count: number; byKind?: Record<string, number> };
    chunks?: { count: number; instances: number; bytes: number };
    intents?: number;
    complete?: boolean;
  };
  if (typeof r?.apply !== "boolean" || !r.records || !r.chunks) return renderValue(result);
  const kinds = Object.entries(r.records.byKind ?? {})
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  return [
    r.apply ? "vacuum: removed" : "vacuum (dry run: nothing deleted; `strata vacuum --apply` deletes):",
    ...columns([
      ["  history records", `${r.records.count}${kinds ? ` (${kinds})` : ""}`],
      ["  chunks", `${r.chunks.count} (${r.chunks.instances} copies, ${humanBytes(r.chunks.bytes)})`],
      ["  upload intents", String(r.intents ?? 0)],
    ]),
    ...(r.complete === false ? ["not complete: the time budget ran out; run it again to continue"] : []),
    ...abortedLine(result),
  ];
}

function renderScrub(result: unknown): string[] {
  const r = result as {
    objects?: number;
    bytes?: number;
    findings?: Array<{
      chunk: string;
      volume: string;
      found: string;
      repaired: boolean;
      reason?: string;
      files?: Array<{ pfs: string; path: string; version: string; live: boolean }>;
    }>;
    heads?: number;
    complete?: boolean;
  };
  if (typeof r?.objects !== "number" || !Array.isArray(r.findings)) return renderValue(result);
  const lines = [
    `scrub: checked ${r.objects} objects (${humanBytes(r.bytes ?? 0)})${typeof r.heads === "number" ? `, ${r.heads} existence checks` : ""}, ${r.findings.length} findings`,
  ];
  if (r.findings.length > 0) {
    lines.push(
      ...columns([
        ["VOLUME", "CHUNK", "FOUND", "REPAIRED"],
        ...r.findings.map((f) => [
          f.volume,
          f.chunk.slice(0, 12),
          f.found,
          f.repaired ? "yes" : `no${f.reason ? `: ${f.reason}` : ""}`,
        ]),
      ]),
    );
  }
  // Files whose bytes are lost (scrub's pass 2 names every version that references the chunk).
  const lost = new Set<string>();
  for (const f of r.findings)
    for (const ref of f.files ?? [])
      lost.add(`${ref.pfs}:${ref.path} @${ref.version}${ref.live ? " (live)" : " (old version)"}`);
  if (lost.size > 0) lines.push("lost bytes in:", ...[...lost].sort().map((x) => `  ${x}`));
  if (r.complete === false) lines.push("not complete: run it again to continue from where it stopped");
  return [...lines, ...abortedLine(result)];
}

/** scrub: exit 6 when a bad copy could not be repaired; the run's own error otherwise. */
function scrubExit(result: unknown): number {
  const findings = (result as { findings?: Array<{ repaired?: boolean }> } | null)?.findings;
  if (Array.isArray(findings) && findings.some((f) => f.repaired === false)) return EXIT.DATA;
  return abortedExit(result);
}

function renderFsck(result: unknown): string[] {
  const r = result as {
    ok?: boolean;
    problems?: Array<{ kind: string; pfs: string; message: string }>;
    checked?: Record<string, number>;
  };
  if (typeof r?.ok !== "boolean" || !Array.isArray(r.problems)) return renderValue(result);
  const checked = Object.entries(r.checked ?? {})
    .map(([k, n]) => `${n} ${k}`)
    .join(", ");
  return [
    `fsck: ${r.ok ? "no problems" : `${r.problems.length} problem${r.problems.length === 1 ? "" : "s"}`}${checked ? ` (checked ${checked})` : ""}`,
    ...(r.problems.length > 0
      ? columns([["PFS", "KIND", "PROBLEM"], ...r.problems.map((p) => [p.pfs, p.kind, p.message])])
      : []),
  ];
}

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
    render: renderVacuum,
    exitCode: abortedExit,
    input: ({ options }) => {
      const budget = positiveOption(str(options, "time-budget"), "--time-budget");
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
    options: {
      "time-budget": {
        type: "string",
        value: "<seconds>",
        description: "stop after about this long (the next run resumes)",
      },
      "bytes-per-second": {
        type: "string",
        value: "<n>",
        description: "read rate limit (default: the server's, 50 MiB/s)",
      },
      restart: { type: "boolean", description: "start over instead of resuming where the last run stopped" },
    },
    examples: ["strata scrub", "strata scrub --json"],
    notes: ["Exit 6 when a bad copy could not be repaired."],
    render: renderScrub,
    exitCode: scrubExit,
    input: ({ options }) => {
      const budget = positiveOption(str(options, "time-budget"), "--time-budget");
      const rate = positiveOption(str(options, "bytes-per-second"), "--bytes-per-second", "bytes per second");
      return {
        ...(budget === undefined ? {} : { timeBudgetSeconds: budget }),
        ...(rate === undefined ? {} : { bytesPerSecond: rate }),
        ...(flag(options, "restart") ? { restart: true } : {}),
      };
    },
  }),
  opCommand({
    name: "fsck",
    op: "fsck.run",
    summary: "check the namespace's records for consistency (exit 9 when problems are found)",
    args: "",
    positionals: { min: 0, max: 0 },
    options: {
      only: { type: "string", value: "<pfs>", multiple: true, description: "check only this PFS" },
    },
    examples: ["strata fsck", "strata fsck --json || echo 'fsck found problems'"],
    input: ({ options }) => (Array.isArray(options.only) ? { pfs: options.only } : {}),
    render: renderFsck,
    exitCode: (result) => (fsckFoundProblems(result) ? EXIT.FSCK_PROBLEMS : EXIT.OK),
  }),
  opCommand({
    name: "retention set",
    op: "retention.set",
    summary: 'set this PFS\'s retention policy (what history vacuum keeps; "" keeps everything)',
    args: "<policy…>",
    positionals: { min: 1 },
    examples: ["strata retention set 'all 1h; hourly 1d; daily 30d; monthly 1y'"],
    input: ({ positionals }) => ({ policy: positionals.join(" ") }),
  }),
  opCommand({
    name: "retention get",
    op: "retention.get",
    summary: "this PFS's retention policy and the oldest point still readable",
    args: "",
    positionals: { min: 0, max: 0 },
    examples: ["strata retention get"],
    input: () => ({}),
  }),
];
