/**
 * placement: where a file's chunks are (SDK `placement`), or — for a directory, or with
 * --status — desired vs actual volumes per file (registry op placement.get); --wait first waits
 * until the objectives are met (placement.wait).
 */
import type { ChunkPlacement } from "../../sdk/index.ts";
import type { CommandContext, CommandSpec } from "../command.ts";
import { columns } from "../format.ts";
import { renderValue } from "../render.ts";
import { pfsPath } from "./files.ts";
import { callOp, positiveOption } from "./op.ts";
import { AS_OF_OPTION, flag, readerOf, str } from "./options.ts";

const DEFAULT_WAIT_SECONDS = 300;

function placementLines(extents: ChunkPlacement[]): string[] {
  if (extents.length === 0) return ["(no chunks: the file is empty or stored inline in metadata)"];
  return columns(
    [
      ["OFFSET", "LENGTH", "CHUNK", "INSTANCES"],
      ...extents.map((e) => [
        String(e.offset),
        String(e.length),
        e.chunk.slice(0, 12),
        e.instances.length === 0
          ? "(none recorded)"
          : e.instances.map((i) => `${i.volume}${i.site ? `@${i.site}` : ""}:${i.state}`).join(" "),
      ]),
    ],
    [true, true, false],
  );
}

interface FileStatus {
  path: string;
  status: string;
  desired: string[];
  actual: Record<string, number>;
  missing: number;
  error?: { code: string; message: string };
}

function statusLines(result: unknown): string[] {
  const r = result as { placed?: boolean; files?: FileStatus[] } | null;
  if (typeof r?.placed !== "boolean" || !Array.isArray(r.files)) return renderValue(result);
  return [
    r.placed ? "placed: every file is where its objectives want it" : "not placed yet",
    ...columns([
      ["PATH", "STATUS", "DESIRED", "ACTUAL (chunks)", "MISSING", "ERROR"],
      ...r.files.map((f) => [
        f.path,
        f.status,
        f.desired.join(",") || "-",
        Object.entries(f.actual)
          .map(([v, n]) => `${v}:${n}`)
          .join(" ") || "-",
        String(f.missing),
        f.error ? `${f.error.code}: ${f.error.message}` : "",
      ]),
    ]),
  ];
}

/** Every page of `placement.get` (each reply ≤ 1 MB; `next` resumes) as one report. */
async function allStatus(ctx: CommandContext, path: string): Promise<unknown> {
  type Page = { path: string; placed: boolean; files: FileStatus[]; next?: string };
  const files: FileStatus[] = [];
  let page: Page;
  let cursor: string | undefined;
  do {
    page = await callOp<Page>(ctx, "placement.get", { path, ...(cursor !== undefined ? { cursor } : {}) });
    if (typeof page?.placed !== "boolean" || !Array.isArray(page.files)) return page;
    files.push(...page.files);
    cursor = page.next;
  } while (cursor !== undefined);
  return {
    path: page.path,
    placed: files.every((f) => f.status === "placed" || f.status === "inline"),
    files,
  };
}

const placement: CommandSpec = {
  name: "placement",
  summary: "which volumes hold a file's chunks; for a directory or with --status, desired vs actual",
  args: "<path>",
  positionals: { min: 1, max: 1 },
  options: {
    status: {
      type: "boolean",
      description: "desired vs actual volumes per file (placement.get), with last errors",
    },
    wait: { type: "boolean", description: "first wait until the objectives are met (placement.wait)" },
    timeout: {
      type: "string",
      value: "<seconds>",
      description: `how long --wait waits (default ${DEFAULT_WAIT_SECONDS}; several calls of at most 30 s each)`,
    },
    ...AS_OF_OPTION,
  },
  examples: [
    "strata placement /renders/a.exr",
    "strata placement /renders --status",
    "strata placement /renders/a.exr --wait --timeout 60 --json",
  ],
  notes: [
    'JSON, chunks: {"path","extents":[{"offset","length","chunk","crc32c","instances":[{"volume","state","site"?}]}]} (state: present, corrupt or missing).',
    'JSON, status: {"path","placed","files":[{"path","status","desired","actual","chunks","missing","surplus","error"?}]} (every page of placement.get, joined).',
    "--wait gives ETIMEDOUT (exit 5) when the objectives are not met in time.",
  ],
  async run(ctx, { positionals, options }) {
    const path = pfsPath(positionals[0]!);
    const timeoutSeconds = positiveOption(str(options, "timeout"), "--timeout") ?? DEFAULT_WAIT_SECONDS;
    const reader = readerOf(await ctx.client(), options);
    // The SDK loops over placement.wait calls (the server waits ≤ 30 s per call) until this deadline.
    if (flag(options, "wait"))
      await (await ctx.client()).waitForPlacement(path, { timeoutMs: timeoutSeconds * 1000 });
    if (flag(options, "status") || (await reader.stat(path)).isDirectory()) {
      const status = await allStatus(ctx, path);
      ctx.emit(status, () => statusLines(status));
      return 0;
    }
    const extents = await reader.placement(path);
    ctx.emit({ path, extents }, () => placementLines(extents));
    return 0;
  },
};

export const placementCommands: CommandSpec[] = [placement];
