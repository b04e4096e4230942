/** Objectives: placement policies over paths, tags and attributes (registry operations objective.*). */
import type { CommandSpec } from "../command.ts";
import { pfsPath } from "./files.ts";
import { opCommand } from "./op.ts";

export const objectiveCommands: CommandSpec[] = [
  opCommand({
    name: "objective set",
    op: "objective.set",
    summary: "attach an objective to a path (inherited below a directory)",
    args: "<path> <text…>",
    positionals: { min: 2 },
    examples: [
      "strata objective set /renders 'when tag:render-site = \"gcs-eu\" place 1 on site:gcs-eu'",
      "strata objective set / keep 2 copies on class:durable",
    ],
    notes: ["The objective's words may be one quoted argument or several (joined with spaces)."],
    input: ({ positionals: [path, ...words] }) => ({ path: pfsPath(path!), text: words.join(" ") }),
  }),
  opCommand({
    name: "objective ls",
    op: "objective.list",
    summary: "list objectives (all, or those attached at a path)",
    args: "[path]",
    positionals: { min: 0, max: 1 },
    examples: ["strata objective ls", "strata objective ls /renders"],
    input: ({ positionals: [path] }) => (path === undefined ? {} : { path: pfsPath(path) }),
  }),
  opCommand({
    name: "objective rm",
    op: "objective.remove",
    summary: "remove the objective attached at a path",
    args: "<path>",
    positionals: { min: 1, max: 1 },
    examples: ["strata objective rm /renders"],
    input: ({ positionals: [path] }) => ({ path: pfsPath(path!) }),
  }),
  opCommand({
    name: "objective explain",
    op: "objective.explain",
    summary: "which objectives apply to a path and the placement they ask for",
    args: "<path>",
    positionals: { min: 1, max: 1 },
    examples: ["strata objective explain /renders/a.exr"],
    input: ({ positionals: [path] }) => ({ path: pfsPath(path!) }),
  }),
];
