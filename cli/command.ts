/**
 * What a CLI command is: its help (summary, usage, options, examples), how many positional
 * arguments it takes, and `run`. Commands live in cli/commands/<area>.ts and are listed in
 * cli/commands/index.ts; adding one is a small file plus one line there.
 */
import type { Readable, Writable } from "node:stream";
import type { Strata } from "../sdk/index.ts";
import type { Target } from "./connection.ts";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** May be given several times (values collected in an array). */
  multiple?: boolean;
  /** Placeholder of a string option's value in help, e.g. "<seconds>". */
  value?: string;
  description: string;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface CommandInput {
  positionals: string[];
  options: OptionValues;
}

export interface CommandSpec {
  /** "ls", or "group sub" for subcommands ("tag set"). */
  name: string;
  /** One line, shown in `strata --help`. */
  summary: string;
  /** Positionals after the command name, as shown in usage: "<path> [path…]". */
  args: string;
  /** Bounds on the number of positionals (checked before `run`). */
  positionals: { min: number; max?: number };
  options?: Record<string, OptionSpec>;
  /** At least one; full command lines ("strata ls -l /a"). */
  examples: string[];
  /** Extra paragraphs for `--help` (the JSON shape, caveats). */
  notes?: string[];
  /** Returns the exit code (0 when omitted). */
  run(ctx: CommandContext, input: CommandInput): Promise<number | undefined>;
}

/** The process's streams and environment (injected so tests can run the CLI in-process). */
export interface CliIo {
  /** Standard input, for `put - <path>` (absent: such a command fails with EINVAL). */
  stdin?: Readable;
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  env: Record<string, string | undefined>;
  cwd: string;
}

export interface CommandContext {
  io: CliIo;
  /** `--json`: print one JSON document on stdout (errors as JSON on stderr). */
  json: boolean;
  /** The full command name ("tag set"), for messages. */
  command: string;
  /** Aborted on Ctrl-C: long transfers stop and clean up (exit 130). */
  signal: AbortSignal;
  /** Where the deployment is (resolved lazily: commands that need no deployment never look). */
  target(): Promise<Target>;
  /** The client on the chosen PFS, connected on first use and closed when the command ends. */
  client(): Promise<Strata>;
  /** Print a result: `value` as JSON with --json, else the human text (a line or lines). */
  emit(value: unknown, human: () => string | string[]): void;
}

/** Resolves when `signal` aborts (Ctrl-C): how a serving command (`serve s3`, `serve webdav`) waits. */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
