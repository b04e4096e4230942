/** Option specs and helpers shared by several commands. */
import { strataError } from "../../core/errors.ts";
import type { AsOf, Strata, StrataReader } from "../../sdk/index.ts";
import { AS_OF_HELP, parseAsOf } from "../as-of.ts";
import type { OptionSpec, OptionValues } from "../command.ts";

export const AS_OF_OPTION: Record<string, OptionSpec> = {
  "as-of": {
    type: "string",
    value: AS_OF_HELP,
    description: "read the PFS as it was at a TID, an ISO-8601 time or a snapshot (@name)",
  },
};

export function asOfOf(options: OptionValues): AsOf | undefined {
  const text = options["as-of"];
  return typeof text === "string" ? parseAsOf(text) : undefined;
}

/** The live client, or its read-only view at --as-of. */
export function readerOf(client: Strata, options: OptionValues): StrataReader {
  const point = asOfOf(options);
  return point === undefined ? client : client.asOf(point);
}

export function flag(options: OptionValues, name: string): boolean {
  return options[name] === true;
}

export function str(options: OptionValues, name: string): string | undefined {
  const v = options[name];
  return typeof v === "string" ? v : undefined;
}

/** `--port`: a whole number 0..65535 (0 = a free one), `fallback` when absent; else EINVAL. */
export function portOption(options: OptionValues, fallback: number): number {
  const text = str(options, "port");
  const port = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw strataError("EINVAL", `--port ${text} is not a port number (0..65535)`, { option: "--port" });
  return port;
}
