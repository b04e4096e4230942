/** placement: where a file's chunks are, optionally after waiting for placement to settle. */
import type { ChunkPlacement } from "../../sdk/index.ts";
import type { CommandSpec } from "../command.ts";
import { columns } from "../format.ts";
import { pfsPath } from "./files.ts";
import { callOp, secondsOption } from "./op.ts";
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

const placement: CommandSpec = {
  name: "placement",
  summary: "which volumes hold each chunk of a file (--wait: after placement settles)",
  args: "<path>",
  positionals: { min: 1, max: 1 },
  options: {
    wait: { type: "boolean", description: "first wait until the file's objectives are met (placement.wait)" },
    timeout: {
      type: "string",
      value: "<seconds>",
      description: `how long --wait waits (default ${DEFAULT_WAIT_SECONDS})`,
    },
    ...AS_OF_OPTION,
  },
  examples: ["strata placement /renders/a.exr", "strata placement /renders/a.exr --wait --timeout 60 --json"],
  notes: [
    'JSON: {"path","extents":[{"offset","length","chunk","crc32c","instances":[{"volume","state","site"?}]}]} (state: present, corrupt or missing).',
  ],
  async run(ctx, { positionals, options }) {
    const path = pfsPath(positionals[0]!);
    const timeoutSeconds = secondsOption(str(options, "timeout"), "--timeout") ?? DEFAULT_WAIT_SECONDS;
    const reader = readerOf(await ctx.client(), options);
    if (flag(options, "wait")) await callOp(ctx, "placement.wait", { path, timeoutSeconds });
    const extents = await reader.placement(path);
    ctx.emit({ path, extents }, () => placementLines(extents));
    return 0;
  },
};

export const placementCommands: CommandSpec[] = [placement];
