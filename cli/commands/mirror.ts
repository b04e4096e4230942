/** Mirroring: replicate a PFS to targets by its change stream (registry operations mirror.*). */
import type { CommandSpec } from "../command.ts";
import { opCommand } from "./op.ts";
import { str } from "./options.ts";

export const mirrorCommands: CommandSpec[] = [
  opCommand({
    name: "mirror create",
    op: "mirror.create",
    summary: "set up a mirror of a source PFS to a target",
    args: "<source> <target>",
    positionals: { min: 2, max: 2 },
    options: {
      name: {
        type: "string",
        value: "<name>",
        description: "the mirror's name (default: chosen by the server)",
      },
    },
    examples: ["strata mirror create default backup --name nightly"],
    input: ({ positionals: [source, target], options }) => {
      const name = str(options, "name");
      return { source, target, ...(name === undefined ? {} : { name }) };
    },
  }),
  opCommand({
    name: "mirror run",
    op: "mirror.run",
    summary: "bring a mirror up to date now",
    args: "<name>",
    positionals: { min: 1, max: 1 },
    examples: ["strata mirror run nightly"],
    input: ({ positionals: [name] }) => ({ name }),
  }),
  opCommand({
    name: "mirror status",
    op: "mirror.status",
    summary: "mirrors and how far each has synced",
    args: "[name]",
    positionals: { min: 0, max: 1 },
    examples: ["strata mirror status", "strata mirror status nightly --json"],
    input: ({ positionals: [name] }) => (name === undefined ? {} : { name }),
  }),
];
