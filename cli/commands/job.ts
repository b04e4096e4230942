/**
 * job: the deployment's jobs (docs/jobs.md) — long work (a placement sweep, …) running as
 * workflow executions, a page each: `job ls`, `job status <id>` (with --wait, until it ends),
 * `job cancel <id>`, and `job sweep` to start a placement sweep of the PFS.
 */
import type { CommandSpec } from "../command.ts";
import { columns } from "../format.ts";
import { renderValue } from "../render.ts";
import { callOp, opCommand, positiveOption } from "./op.ts";
import { flag, str } from "./options.ts";

interface Job {
  id: string;
  kind: string;
  status: string;
  counts: Record<string, number>;
  executions: number;
  maxEvents?: number;
  maxStateBytes?: number;
  error?: { code: string; message: string };
  created: number;
}

const counts = (j: Job) =>
  Object.entries(j.counts ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(" ") || "-";

function jobLines(result: unknown): string[] {
  const j = result as Job | null;
  if (typeof j?.id !== "string") return renderValue(result);
  return [
    `${j.id}  ${j.kind}  ${j.status}`,
    `  started ${new Date(j.created).toISOString()}, ${j.executions} execution(s)`,
    `  counts: ${counts(j)}`,
    ...(j.maxEvents !== undefined
      ? [`  largest execution: ${j.maxEvents} history events, ${j.maxStateBytes} bytes of state`]
      : []),
    ...(j.error ? [`  error: ${j.error.code}: ${j.error.message}`] : []),
  ];
}

function listLines(result: unknown): string[] {
  const r = result as { jobs?: Job[]; next?: string } | null;
  if (!Array.isArray(r?.jobs)) return renderValue(result);
  if (r.jobs.length === 0) return ["(no jobs)"];
  return [
    ...columns([
      ["ID", "KIND", "STATUS", "EXECUTIONS", "COUNTS", "STARTED"],
      ...r.jobs.map((j) => [
        j.id,
        j.kind,
        j.status,
        String(j.executions),
        counts(j),
        new Date(j.created).toISOString(),
      ]),
    ]),
    ...(r.next ? [`(more: --cursor ${r.next})`] : []),
  ];
}

const DEFAULT_WAIT_SECONDS = 600;

export const jobCommands: CommandSpec[] = [
  opCommand({
    name: "job ls",
    op: "job.list",
    summary: "the deployment's jobs, newest first (--status running|succeeded|failed|cancelled)",
    args: "",
    positionals: { min: 0, max: 0 },
    options: {
      status: { type: "string", value: "<status>", description: "only jobs in this status" },
      cursor: { type: "string", value: "<next>", description: "the page after the last one's `next`" },
    },
    examples: ["strata job ls", "strata job ls --status running --json"],
    render: listLines,
    input: ({ options }) => ({
      ...(str(options, "status") !== undefined ? { status: str(options, "status") } : {}),
      ...(str(options, "cursor") !== undefined ? { cursor: str(options, "cursor") } : {}),
    }),
  }),
  {
    name: "job status",
    summary: "one job's record; --wait first waits until it ends",
    args: "<id>",
    positionals: { min: 1, max: 1 },
    options: {
      wait: { type: "boolean", description: "wait until the job is no longer running (job.wait)" },
      timeout: {
        type: "string",
        value: "<seconds>",
        description: `how long --wait waits (default ${DEFAULT_WAIT_SECONDS}; several calls of at most 30 s each)`,
      },
    },
    examples: ["strata job status 0mf3k2a1b-9c0d1e2f", "strata job status 0mf3k2a1b-9c0d1e2f --wait --json"],
    notes: [
      'JSON: the job\'s record {"id","kind","status","counts","executions","maxEvents"?,"maxStateBytes"?,"error"?,…}.',
      "--wait gives ETIMEDOUT (exit 5) when the job is still running at the timeout.",
    ],
    async run(ctx, { positionals, options }) {
      const id = positionals[0]!;
      const job = flag(options, "wait")
        ? await callOp<Job>(ctx, "job.wait", {
            id,
            timeoutSeconds: positiveOption(str(options, "timeout"), "--timeout") ?? DEFAULT_WAIT_SECONDS,
          })
        : await callOp<Job>(ctx, "job.get", { id });
      ctx.emit(job, () => jobLines(job));
      return 0;
    },
  },
  opCommand({
    name: "job cancel",
    op: "job.cancel",
    summary: "cancel a running job: no further page starts (a finished job is left as it is)",
    args: "<id>",
    positionals: { min: 1, max: 1 },
    examples: ["strata job cancel 0mf3k2a1b-9c0d1e2f"],
    render: jobLines,
    input: ({ positionals }) => ({ id: positionals[0]! }),
  }),
  opCommand({
    name: "job sweep",
    op: "placement.sweep",
    summary: "start a placement sweep of the PFS as a job (every file reconciled, a page per execution)",
    args: "",
    positionals: { min: 0, max: 0 },
    options: {
      limit: { type: "string", value: "<files>", description: "files placed per page (default 100)" },
    },
    examples: ["strata job sweep", "strata job sweep --limit 50 --json"],
    render: jobLines,
    input: ({ options }) => {
      const limit = positiveOption(str(options, "limit"), "--limit", "files");
      return limit === undefined ? {} : { limit };
    },
  }),
];
