/** Options every command takes (they may come before or after the command name). */
import type { OptionSpec } from "./command.ts";

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  json: { type: "boolean", description: "print one JSON document on stdout; errors as JSON on stderr" },
  pfs: { type: "string", value: "<name>", description: "the PFS to work in (STRATA_PFS; default: default)" },
  endpoint: { type: "string", value: "<url>", description: "the deployment's HTTP API (STRATA_ENDPOINT)" },
  token: { type: "string", value: "<token>", description: "bearer token (STRATA_TOKEN)" },
  local: {
    type: "string",
    value: "<dir>",
    description: "use the embedded deployment in <dir> instead of a server (no npm start needed)",
  },
  help: { type: "boolean", short: "h", description: "show help for the command" },
};
