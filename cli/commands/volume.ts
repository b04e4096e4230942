/** Volumes: where chunks live (registry operations volume.*, functions/api/ops/volume.ts). */
import { strataError } from "../../core/errors.ts";
import type { CommandSpec } from "../command.ts";
import { columns } from "../format.ts";
import { renderValue } from "../render.ts";
import { opCommand } from "./op.ts";
import { flag } from "./options.ts";

/** Settings that are fields of the volume record itself; every other key=value goes in `config`. */
const RECORD_FIELDS = new Set(["site", "cloud", "class", "cost"]);

/**
 * "key=value" arguments → an object. A value that parses as JSON (a number, true/false, an object
 * such as {"region":"eu-west-1"}) is taken as that JSON value, anything else as a string; quote a
 * string that looks like JSON: bucket='"123"'.
 */
export function parseAttributes(args: string[]): Record<string, unknown> {
  const attrs: Record<string, unknown> = {};
  for (const arg of args) {
    const eq = arg.indexOf("=");
    if (eq <= 0) {
      throw strataError("EINVAL", `${JSON.stringify(arg)} is not key=value (e.g. bucket=my-bucket)`, {
        value: arg,
      });
    }
    const text = arg.slice(eq + 1);
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // not JSON: a plain string
    }
    attrs[arg.slice(0, eq)] = value;
  }
  return attrs;
}

/** `volume add` input: site/cloud/class/cost on the record, the rest as driver settings. */
export function volumeAddInput(name: string, kind: string, args: string[]): Record<string, unknown> {
  const record: Record<string, unknown> = { name, kind };
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parseAttributes(args))) {
    if (RECORD_FIELDS.has(key)) record[key] = value;
    else config[key] = value;
  }
  return Object.keys(config).length > 0 ? { ...record, config } : record;
}

function renderVolumes(result: unknown): string[] {
  const volumes = (result as { volumes?: Array<Record<string, unknown>> } | null)?.volumes;
  if (!Array.isArray(volumes)) return renderValue(result);
  if (volumes.length === 0) return ["(no volumes)"];
  const cell = (v: unknown) => (v === undefined || v === null ? "" : String(v));
  return columns([
    ["NAME", "KIND", "STATE", "SITE", "CLOUD", "CLASS", "COST"],
    ...volumes.map((v) => [v.name, v.kind, v.state, v.site, v.cloud, v.class, v.cost].map(cell)),
  ]);
}

export const volumeCommands: CommandSpec[] = [
  opCommand({
    name: "volume add",
    op: "volume.add",
    summary: "register a volume (local, s3, azure, gcs) with its settings",
    args: "<name> <kind> [key=value…]",
    positionals: { min: 2 },
    examples: [
      "strata volume add gcs-eu gcs bucket=acme-strata-eu site=gcs-eu cloud=gcp class=archive cost=1",
      "strata volume add scratch local root=/mnt/scratch",
    ],
    notes: [
      "site, cloud, class and cost are the volume's placement labels; every other key=value is a driver setting (docs/placement.md). Values that parse as JSON (numbers, true/false, objects) are sent as JSON.",
    ],
    input: ({ positionals: [name, kind, ...attrs] }) => volumeAddInput(name!, kind!, attrs),
  }),
  opCommand({
    name: "volume ls",
    op: "volume.list",
    summary: "list volumes with their state (active, draining)",
    args: "",
    positionals: { min: 0, max: 0 },
    examples: ["strata volume ls", "strata volume ls --json"],
    render: renderVolumes,
    input: () => ({}),
  }),
  opCommand({
    name: "volume drain",
    op: "volume.drain",
    summary: "stop choosing a volume and move every chunk off it (files stay readable)",
    args: "<name>",
    positionals: { min: 1, max: 1 },
    options: { wait: { type: "boolean", description: "return only when the volume is empty" } },
    examples: [
      "strata volume drain old-bucket",
      "strata volume drain old-bucket --wait && strata volume rm old-bucket",
    ],
    input: ({ positionals: [name], options }) => ({ name, ...(flag(options, "wait") ? { wait: true } : {}) }),
  }),
  opCommand({
    name: "volume rm",
    op: "volume.remove",
    summary: "forget a drained volume",
    args: "<name>",
    positionals: { min: 1, max: 1 },
    examples: ["strata volume rm old-bucket"],
    input: ({ positionals: [name] }) => ({ name }),
  }),
];
