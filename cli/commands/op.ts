/**
 * Commands that are one call of the deployment's operation registry (`client.admin.call(op,
 * input)`): volumes, objectives, vacuum, scrub, fsck, mirroring, retention. Each is declared with
 * `opCommand` in a small file; the server owns the operation's input and output shapes.
 *
 * JSON output: {"op","result"} where result is the operation's own output (docs/http-api.md).
 * An operation the deployment does not have → ENOTSUP, exit 7, with a clear message.
 */
import { isStrataError, type StrataError, strataError } from "../../core/errors.ts";
import type { CommandContext, CommandInput, CommandSpec } from "../command.ts";
import { renderValue } from "../render.ts";

export interface OpCommandSpec extends Omit<CommandSpec, "run"> {
  /** The registry operation, e.g. "vacuum.run". */
  op: string;
  /** The operation's input from the command line. */
  input(args: CommandInput): Record<string, unknown>;
  /** Human output (default: a generic table / key-value rendering). */
  render?(result: unknown): string | string[];
  /** Exit code from the result (default 0), e.g. fsck's "problems found". */
  exitCode?(result: unknown): number;
}

/**
 * A deployment without the operation: ENOTSUP (an operation the deployment cannot run), or the
 * HTTP API's "no operation <op>" (ENOENT naming the op in details).
 */
function isMissingOperation(err: unknown, op: string): err is StrataError {
  return isStrataError(err, "ENOTSUP") || (isStrataError(err, "ENOENT") && err.details.op === op);
}

/** Call `op`, turning "no such operation" into a message that names the command. */
export async function callOp<T = unknown>(
  ctx: CommandContext,
  op: string,
  input: Record<string, unknown>,
): Promise<T> {
  const client = await ctx.client();
  try {
    for (;;) {
      try {
        return await client.admin.call<T>(op, input);
      } catch (err) {
        // A capped server-side wait answered "not yet" (functions/api/ops/common.ts notYet):
        // the work goes on; keep waiting with another call.
        if (!isStrataError(err, "ETIMEDOUT") || err.details.again !== true) throw err;
      }
    }
  } catch (err) {
    if (!isMissingOperation(err, op)) throw err;
    const target = await ctx.target();
    const where = target.kind === "local" ? `the embedded deployment in ${target.dir}` : target.endpoint;
    throw strataError(
      "ENOTSUP",
      `\`strata ${ctx.command}\` is not available in this deployment yet: ${where} has no "${op}" operation`,
      {
        op,
        ...err.details,
      },
      err,
    );
  }
}

export function opCommand(spec: OpCommandSpec): CommandSpec {
  const { op, input, render, exitCode, ...rest } = spec;
  return {
    ...rest,
    notes: [...(rest.notes ?? []), `Runs the deployment operation "${op}". JSON: {"op":"${op}","result":…}`],
    async run(ctx, args) {
      const result = await callOp(ctx, op, input(args));
      ctx.emit({ op, result }, () => (render ? render(result) : renderValue(result)));
      return exitCode ? exitCode(result) : 0;
    },
  };
}

/** A positive number from an option (`unit` names it in the error), or undefined when absent. */
export function positiveOption(
  text: string | undefined,
  option: string,
  unit = "seconds",
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw strataError("EINVAL", `${option} ${JSON.stringify(text)} is not a positive number of ${unit}`, {
      option,
      value: text,
    });
  }
  return value;
}
