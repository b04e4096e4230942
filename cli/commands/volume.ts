/** Volumes: where chunks live (registry operations volume.*). */
import { strataError } from "../../core/errors.ts";
import type { CommandSpec } from "../command.ts";
import { opCommand } from "./op.ts";

/** "key=value" arguments → an object; values stay strings (the server validates them). */
export function parseAttributes(args: string[]): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const arg of args) {
    const eq = arg.indexOf("=");
    if (eq <= 0) {
      throw strataError("EINVAL", `${JSON.stringify(arg)} is not key=value (e.g. bucket=my-bucket)`, {
        value: arg,
      });
    }
    attrs[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  return attrs;
}

export const volumeCommands: CommandSpec[] = [
  opCommand({
    name: "volume add",
    op: "volume.add",
    summary: "register a volume (s3, azure, gcs, local) with its attributes",
    args: "<name> <kind> [key=value…]",
    positionals: { min: 2 },
    examples: [
      "strata volume add eu-s3 s3 bucket=strata-eu region=eu-west-1 site=aws-eu",
      "strata volume add scratch local root=/mnt/scratch",
    ],
    input: ({ positionals: [name, kind, ...attrs] }) => ({ ...parseAttributes(attrs), name, kind }),
  }),
  opCommand({
    name: "volume ls",
    op: "volume.list",
    summary: "list volumes with their state",
    args: "",
    positionals: { min: 0, max: 0 },
    examples: ["strata volume ls"],
    input: () => ({}),
  }),
  opCommand({
    name: "volume drain",
    op: "volume.drain",
    summary: "move every chunk off a volume (placement copies them elsewhere first)",
    args: "<name>",
    positionals: { min: 1, max: 1 },
    examples: ["strata volume drain old-bucket"],
    input: ({ positionals: [name] }) => ({ name }),
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
