/**
 * The `strata` command: finds the command in the table (cli/commands/index.ts), parses its
 * options with node:util parseArgs, connects on first use, runs it, and turns every failure into
 * a message that says what to do plus the exit code of its class (cli/exit-codes.ts).
 *
 * `runCli` takes its streams and environment as arguments so tests can run it in-process;
 * cli/bin.mjs is the process entry point.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { isStrataError, StrataError, strataError } from "../core/errors.ts";
import type { Strata } from "../sdk/index.ts";
import type { CliIo, CommandContext, CommandSpec, OptionSpec, OptionValues } from "./command.ts";
import { COMMANDS } from "./commands/index.ts";
import { findTarget, openTarget, type Target } from "./connection.ts";
import { EXIT, EXIT_MEANING, exitCodeOf } from "./exit-codes.ts";
import { GLOBAL_OPTIONS } from "./global-options.ts";

/** Options every command takes (cli/global-options.ts). */
export { GLOBAL_OPTIONS };

const VALUE_OPTIONS = new Set(
  Object.entries(GLOBAL_OPTIONS)
    .filter(([, o]) => o.type === "string")
    .map(([name]) => `--${name}`),
);

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** Subcommands of a group ("tag" → tag set, tag rm, tag ls); empty for a plain command. */
export function groupMembers(group: string): CommandSpec[] {
  return COMMANDS.filter((c) => c.name.startsWith(`${group} `));
}

interface Resolved {
  spec?: CommandSpec;
  /** A group named without (or with an unknown) subcommand. */
  group?: string;
  unknown?: string;
  rest: string[];
  help: boolean;
}

/**
 * Split argv into the command name (one or two words) and the rest. Global options taking a value
 * may come first (`strata --pfs scratch ls`), so their values are not mistaken for the command.
 */
export function resolveCommand(argv: string[]): Resolved {
  const words: number[] = [];
  let help = false;
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const arg = argv[i]!;
    if (arg === "--") break;
    if (arg === "--help" || arg === "-h") help = true;
    if (arg.startsWith("-")) {
      // A global option's value is not a command word (`strata snapshot --pfs x create s1`).
      if (VALUE_OPTIONS.has(arg)) i++;
      continue;
    }
    if (words.length === 1 && groupMembers(argv[words[0]!]!).length === 0) break;
    words.push(i);
  }
  const without = (indices: number[]) => argv.filter((_, i) => !indices.includes(i));
  if (words.length === 0) return { rest: argv, help };
  const first = argv[words[0]!]!;
  const members = groupMembers(first);
  if (members.length > 0) {
    const second = words[1] === undefined ? undefined : argv[words[1]];
    const spec = second === undefined ? undefined : findCommand(`${first} ${second}`);
    if (spec) return { spec, rest: without(words), help };
    return { group: first, unknown: second, rest: without(words.slice(0, 1)), help };
  }
  const spec = findCommand(first);
  if (spec) return { spec, rest: without(words.slice(0, 1)), help };
  return { unknown: first, rest: without(words.slice(0, 1)), help };
}

/** Parse a command's arguments (its options plus the global ones); EINVAL on any misuse. */
export function parseCommandArgs(
  spec: CommandSpec,
  args: string[],
): { positionals: string[]; options: OptionValues } {
  const options = optionsOf(spec);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: Object.fromEntries(
        Object.entries(options).map(([name, o]) => [
          name,
          { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) },
        ]),
      ),
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw strataError(
      "EINVAL",
      `${(err as Error).message.replace(/\.$/, "")}; \`strata ${spec.name} --help\` shows its usage`,
      { command: spec.name, args },
      err,
    );
  }
  const { min, max } = spec.positionals;
  const count = parsed.positionals.length;
  if (!parsed.values.help && (count < min || (max !== undefined && count > max))) {
    const expected = max === undefined ? `at least ${min}` : min === max ? `${min}` : `${min} to ${max}`;
    throw strataError(
      "EINVAL",
      `strata ${spec.name} takes ${expected} argument${max === 1 && min === 1 ? "" : "s"} (${spec.args || "none"}), ` +
        `got ${count}; usage: ${usageLine(spec)}`,
      { command: spec.name, positionals: parsed.positionals },
    );
  }
  return { positionals: parsed.positionals, options: parsed.values as OptionValues };
}

/**
 * A command's options with the global ones. A command may take a global option's short letter for
 * its own (`ls -h`: human-readable sizes, as in ls(1)); `--help` still shows its help.
 */
function optionsOf(spec: CommandSpec): Record<string, OptionSpec> {
  const own = Object.values(spec.options ?? {}).map((o) => o.short);
  const globals = Object.fromEntries(
    Object.entries(GLOBAL_OPTIONS).map(([name, o]) => {
      if (!o.short || !own.includes(o.short)) return [name, o];
      const { short: _taken, ...rest } = o;
      return [name, rest];
    }),
  );
  return { ...globals, ...spec.options };
}

export function usageLine(spec: CommandSpec): string {
  const opts = Object.keys(spec.options ?? {}).length > 0 ? " [options]" : "";
  return `strata ${spec.name}${spec.args ? ` ${spec.args}` : ""}${opts}`;
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const heads = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.value ? ` ${o.value}` : ""}`;
    return [flag, o.description + (o.multiple ? " (repeatable)" : "")] as const;
  });
  const width = Math.max(...heads.map(([flag]) => flag.length));
  return heads.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`);
}

export function commandHelp(spec: CommandSpec): string {
  const lines = [`strata ${spec.name} — ${spec.summary}`, "", `usage: ${usageLine(spec)}`];
  if (spec.options && Object.keys(spec.options).length > 0)
    lines.push("", "options:", ...optionLines(spec.options));
  const globals = Object.fromEntries(
    Object.entries(optionsOf(spec)).filter(([name]) => name in GLOBAL_OPTIONS),
  );
  lines.push("", "global options:", ...optionLines(globals));
  for (const note of spec.notes ?? []) lines.push("", note);
  lines.push("", "examples:", ...spec.examples.map((e) => `  ${e}`));
  return lines.join("\n") + "\n";
}

function groupHelp(group: string): string {
  const members = groupMembers(group);
  const width = Math.max(...members.map((c) => c.name.length));
  return [
    `strata ${group} — subcommands:`,
    ...members.map((c) => `  strata ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    `\`strata ${group} <subcommand> --help\` shows one in detail.`,
  ]
    .join("\n")
    .concat("\n");
}

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "strata — a versioned file system over S3, Azure Blob, GCS and local volumes",
    "",
    "usage: strata <command> [arguments] [options]     (strata --version or -v: the version)",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "global options:",
    ...optionLines(GLOBAL_OPTIONS),
    "",
    "The deployment: --local <dir>; else --endpoint/STRATA_ENDPOINT with --token/STRATA_TOKEN;",
    "else .strata/connection.json (written by `npm start`) in $STRATA_HOME, this directory or a parent.",
    "",
    "exit codes:",
    ...Object.entries(EXIT_MEANING).map(([code, meaning]) => `  ${code.padStart(3)}  ${meaning}`),
    "",
    "`strata <command> --help` shows a command's usage, options and examples.",
  ]
    .join("\n")
    .concat("\n");
}

/**
 * strata's version from its package.json: next to cli/ when run from the sources, two levels up
 * from the compiled dist/cli/.
 */
async function packageVersion(): Promise<string> {
  for (const rel of ["../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(await readFile(new URL(rel, import.meta.url), "utf8"));
      if (pkg?.name === "strata" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // not here: try the next place
    }
  }
  throw strataError("EIO", "cannot find strata's package.json to read its version", {});
}

/** Run the CLI; resolves to the exit code. Never throws. */
export async function runCli(argv: string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  const json = argv.includes("--json");
  let client: Promise<Strata> | undefined;
  let commandName = "";
  try {
    if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
      io.stdout.write(`strata ${await packageVersion()}\n`);
      return EXIT.OK;
    }
    const resolved = resolveCommand(argv);
    if (!resolved.spec) {
      if (resolved.group && (resolved.unknown === undefined || resolved.help)) {
        io.stdout.write(groupHelp(resolved.group));
        return resolved.unknown === undefined && !resolved.help ? EXIT.USAGE : EXIT.OK;
      }
      if (resolved.group) {
        throw strataError(
          "EINVAL",
          `unknown subcommand \`${resolved.group} ${resolved.unknown}\`; \`strata ${resolved.group} --help\` lists them`,
          { command: resolved.group, subcommand: resolved.unknown },
        );
      }
      if (resolved.unknown === "help") {
        const topic = resolved.rest.filter((a) => !a.startsWith("-"));
        const spec = findCommand(topic.join(" "));
        if (spec) io.stdout.write(commandHelp(spec));
        else if (topic[0] && groupMembers(topic[0]).length > 0) io.stdout.write(groupHelp(topic[0]));
        else io.stdout.write(mainHelp());
        return EXIT.OK;
      }
      if (resolved.unknown !== undefined) {
        throw strataError(
          "EINVAL",
          `unknown command \`${resolved.unknown}\`; \`strata --help\` lists the commands`,
          { command: resolved.unknown },
        );
      }
      // Bare `strata`, or `strata --help`.
      if (resolved.help) {
        io.stdout.write(mainHelp());
        return EXIT.OK;
      }
      io.stderr.write(mainHelp());
      return EXIT.USAGE;
    }

    const spec = resolved.spec;
    commandName = spec.name;
    const { positionals, options } = parseCommandArgs(spec, resolved.rest);
    if (options.help) {
      io.stdout.write(commandHelp(spec));
      return EXIT.OK;
    }
    let target: Promise<Target> | undefined;
    const ctx: CommandContext = {
      io,
      json: options.json === true,
      command: spec.name,
      signal: signal ?? new AbortController().signal,
      target: () => {
        target ??= findTarget(
          {
            local: options.local as string | undefined,
            endpoint: options.endpoint as string | undefined,
            token: options.token as string | undefined,
            pfs: options.pfs as string | undefined,
          },
          io.env,
          io.cwd,
        );
        return target;
      },
      client: () => {
        client ??= ctx.target().then(openTarget);
        return client;
      },
      emit: (value, human) => {
        if (ctx.json) {
          io.stdout.write(`${JSON.stringify(value)}\n`);
          return;
        }
        const text = human();
        const lines = Array.isArray(text) ? text : [text];
        if (lines.length > 0) io.stdout.write(`${lines.join("\n")}\n`);
      },
    };
    return (await spec.run(ctx, { positionals, options })) ?? EXIT.OK;
  } catch (err) {
    const existing = client ? await nearestExisting(err, client) : undefined;
    return reportError(err, io, json, commandName, existing);
  } finally {
    if (client) await client.then((c) => c.close()).catch(() => {});
  }
}

/** Print the failure (JSON on stderr with --json) and return its exit code. */
/**
 * For ENOENT on a path: the deepest ancestor that exists, so the hint can say where to look
 * (`put x /no/dir/x` fails on /no, not /no/dir). Undefined when it cannot be found out.
 */
async function nearestExisting(err: unknown, client: Promise<Strata>): Promise<string | undefined> {
  if (!isStrataError(err, "ENOENT") || typeof err.details.path !== "string") return undefined;
  try {
    const c = await client;
    let dir = err.details.path;
    while (dir !== "/") {
      dir = dir.replace(/\/[^/]*$/, "") || "/";
      const found = await c.lstat(dir).then(
        (st) => st.isDirectory(),
        () => false,
      );
      if (found) return dir;
    }
    return "/";
  } catch {
    return undefined;
  }
}

/**
 * Print the failure (JSON on stderr with --json) and return its exit code. `existingDir`: for
 * ENOENT, the nearest existing ancestor of the missing path.
 */
export function reportError(
  err: unknown,
  io: CliIo,
  json: boolean,
  command: string,
  existingDir?: string,
): number {
  const failure: StrataError = isStrataError(err)
    ? err
    : new StrataError("EIO", `unexpected failure: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  const message = failure.message.startsWith(`${failure.code}: `)
    ? failure.message.slice(failure.code.length + 2)
    : failure.message;
  const hint = hintFor(failure, existingDir);
  if (json) {
    const body = {
      error: { code: failure.code, message, details: failure.details, ...(hint ? { hint } : {}) },
    };
    io.stderr.write(`${JSON.stringify(body)}\n`);
  } else {
    io.stderr.write(`strata${command ? ` ${command}` : ""}: ${failure.code}: ${message}\n`);
    if (hint) io.stderr.write(`  ${hint}\n`);
    if (io.env.STRATA_DEBUG && !isStrataError(err)) io.stderr.write(`${(err as Error)?.stack}\n`);
  }
  return exitCodeOf(failure.code);
}

/** What to do next, by error class; the message itself says what failed and where. */
export function hintFor(err: StrataError, existingDir?: string): string | undefined {
  const path = typeof err.details.path === "string" ? err.details.path : undefined;
  switch (err.code) {
    case "ENOENT": {
      if (!path) return undefined;
      const parent = existingDir ?? (path.replace(/\/[^/]*$/, "") || "/");
      return `\`strata ls ${parent}\` shows what is there`;
    }
    case "EINVAL": {
      if (err.details.reason !== "unsatisfiable") return undefined;
      const rule = err.details.rule as { statement?: string } | undefined;
      const tag = /\$tag:([^\s,]+)/.exec(rule?.statement ?? "")?.[1];
      const sites = Array.isArray(err.details.sites) ? (err.details.sites as string[]) : [];
      const retag =
        tag && path && sites.length > 0
          ? `, or tag it for a site that has one (\`strata tag set ${path} ${tag}=${sites[0]}\`)`
          : "";
      return `add a volume there (\`strata volume add <name> <kind> site=<site> …\`)${retag}; \`strata objective explain ${path ?? "<path>"}\` shows the rules`;
    }
    case "EEXIST":
      return path ? `choose another name, or remove it first with \`strata rm ${path}\`` : undefined;
    case "EISDIR":
      // Messages of put/get already name the -r command; the engine's do not.
      if (err.message.includes("`strata ")) return undefined;
      return `${path ? `\`strata ls ${path}\` lists it; ` : ""}\`rm -r\`, \`put -r\` and \`get -r\` take whole directories`;
    case "ENOTEMPTY":
      return path ? `\`strata rm -r ${path}\` removes it with everything below it` : undefined;
    case "ECONFLICT":
      return "someone else changed it first; run the command again";
    case "EACCES":
      return "your token does not allow this here; an admin can create one with `strata token create`";
    case "EROFS":
      return "as-of views and mirrors are read-only; write to the live PFS (without --as-of)";
    case "EUNAVAIL":
    case "ETIMEDOUT":
    case "ETHROTTLED":
      return "retry in a moment; if it persists, check that the deployment is running (`npm start`, `strata status`)";
    case "ENOTSUP":
      // Registry commands already say which operation is missing (commands/op.ts).
      if (err.details.op !== undefined) return undefined;
      return "this deployment does not offer it (yet); `strata status` shows what the deployment is";
    case "EPRUNED":
      return "retention pruned that point; pick a later one (`strata snapshot ls`, `strata history <path>`)";
    case "ECORRUPT":
      return "`strata scrub` checks and repairs stored copies";
    default:
      return undefined;
  }
}
