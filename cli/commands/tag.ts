/** Tags: the metadata pipelines use to state intent (placement objectives read them). */
import { strataError } from "../../core/errors.ts";
import type { CommandContext, CommandSpec } from "../command.ts";
import { columns } from "../format.ts";
import { pfsPath } from "./files.ts";
import { callOp } from "./op.ts";
import { AS_OF_OPTION, readerOf } from "./options.ts";

const tagSet: CommandSpec = {
  name: "tag set",
  summary: "set a tag on a path",
  args: "<path> <key>=<value> | <path> <key> <value>",
  positionals: { min: 2, max: 3 },
  examples: [
    "strata tag set /show/shot42 render-site=gcs-eu",
    "strata tag set /renders/a.exr render-site gcs-eu",
  ],
  notes: ['JSON: {"path","key","value"}', "With two arguments the second is split at its first '='."],
  async run(ctx, { positionals }) {
    const path = pfsPath(positionals[0]!);
    const [key, value] = keyAndValue(positionals.slice(1));
    await (await ctx.client()).tags.set(path, key, value);
    const warning = await unmatchedTagWarning(ctx, path, key);
    if (warning) ctx.io.stderr.write(`strata tag set: warning: ${warning}\n`);
    ctx.emit({ path, key, value, ...(warning ? { warning } : {}) }, () => []);
    return 0;
  },
};

interface Unsatisfied {
  statement: string;
  at: string;
  found: number;
  wants: string;
}

/**
 * After a tag is set: when an objective picks volumes by this tag (`site:$tag:<key>`) and, with
 * the new value, no volume matches, say so (the tag is kept: a volume may be added later).
 * Best effort: a deployment without placement (or a token that may not ask) gives no warning.
 */
export async function unmatchedTagWarning(
  ctx: CommandContext,
  path: string,
  key: string,
): Promise<string | undefined> {
  let rules: Unsatisfied[];
  let sites: string[];
  try {
    const explained = await callOp<{ unsatisfied?: Unsatisfied[] }>(ctx, "objective.explain", { path });
    rules = (explained?.unsatisfied ?? []).filter(
      (u) => u.found === 0 && u.statement.includes(`$tag:${key}`),
    );
    if (rules.length === 0) return undefined;
    const listed = await callOp<{ volumes?: Array<{ site?: string }> }>(ctx, "volume.list", {});
    sites = [...new Set((listed?.volumes ?? []).flatMap((v) => (v.site ? [v.site] : [])))].sort();
  } catch {
    return undefined;
  }
  const rule = rules[0]!;
  return (
    `no volume matches ${rule.wants}, which objective \`${rule.statement}\` (at ${rule.at}) asks for through ` +
    `tag ${key}: placement of ${path} cannot happen until one does; sites with volumes: ${sites.join(", ") || "none"} ` +
    `(\`strata volume ls\`; add one with \`strata volume add <name> <kind> site=<site> …\`)`
  );
}

/** `key value` or `key=value` (split at the first "="; the value may contain more). */
export function keyAndValue(args: string[]): [string, string] {
  if (args.length === 2) return [args[0]!, args[1]!];
  const pair = args[0]!;
  const eq = pair.indexOf("=");
  if (eq <= 0) {
    throw strataError(
      "EINVAL",
      `strata tag set needs <key>=<value> or <key> <value>, got "${pair}"; e.g. strata tag set /show/shot42 render-site=gcs-eu`,
      { command: "tag set", argument: pair },
    );
  }
  return [pair.slice(0, eq), pair.slice(eq + 1)];
}

const tagRm: CommandSpec = {
  name: "tag rm",
  summary: "remove a tag from a path",
  args: "<path> <key>",
  positionals: { min: 2, max: 2 },
  examples: ["strata tag rm /renders/a.exr render-site"],
  notes: ['JSON: {"path","key"}'],
  async run(ctx, { positionals }) {
    const [path, key] = [pfsPath(positionals[0]!), positionals[1]!];
    await (await ctx.client()).tags.remove(path, key);
    ctx.emit({ path, key }, () => []);
    return 0;
  },
};

const tagLs: CommandSpec = {
  name: "tag ls",
  summary: "list a path's tags",
  args: "<path>",
  positionals: { min: 1, max: 1 },
  options: { ...AS_OF_OPTION },
  examples: ["strata tag ls /renders/a.exr", "strata tag ls /renders/a.exr --as-of @before-migration --json"],
  notes: ['JSON: {"path","tags":{"<key>":"<value>",…}}'],
  async run(ctx, { positionals, options }) {
    const path = pfsPath(positionals[0]!);
    const tags = await readerOf(await ctx.client(), options).tags.list(path);
    ctx.emit({ path, tags }, () => columns(Object.entries(tags).map(([k, v]) => [k, v])));
    return 0;
  },
};

export const tagCommands: CommandSpec[] = [tagSet, tagRm, tagLs];
