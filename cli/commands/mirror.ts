/** Mirroring and backups (registry operations mirror.* and backup.*, functions/api/ops/mirror.ts). */
import { strataError } from "../../core/errors.ts";
import type { CommandSpec } from "../command.ts";
import { opCommand } from "./op.ts";
import { str } from "./options.ts";

function volumesOption(options: Record<string, unknown>): { volumes?: string[] } {
  const volumes = options.volume;
  return Array.isArray(volumes) && volumes.length > 0 ? { volumes: volumes as string[] } : {};
}

const VOLUME_OPTION = {
  volume: {
    type: "string",
    value: "<name>",
    multiple: true,
    description: "a volume for the copy's chunks (default: the deployment's default volume)",
  },
} as const;

export const mirrorCommands: CommandSpec[] = [
  opCommand({
    name: "mirror create",
    op: "mirror.create",
    summary:
      "create a read-only mirror PFS <target> of <source> (here, or another deployment with --source-url)",
    args: "<source> <target>",
    positionals: { min: 2, max: 2 },
    options: {
      name: {
        type: "string",
        value: "<name>",
        description: "the mirror's name for `mirror run` (default: <target>)",
      },
      "source-url": {
        type: "string",
        value: "<url>",
        description: "<source> is a PFS of the deployment at <url>",
      },
      "source-token": { type: "string", value: "<token>", description: "a read token of that source PFS" },
      ...VOLUME_OPTION,
    },
    examples: [
      "strata mirror create projects projects-dr --volume gcs",
      "strata mirror create projects projects-dr --source-url https://strata.example --source-token $TOKEN",
    ],
    input: ({ positionals: [source, target], options }) => {
      const url = str(options, "source-url");
      const token = str(options, "source-token");
      if (token !== undefined && url === undefined) {
        throw strataError(
          "EINVAL",
          "--source-token goes with --source-url (a source in another deployment)",
          {
            option: "--source-token",
          },
        );
      }
      const name = str(options, "name");
      return {
        source: url === undefined ? source : { url, pfs: source, ...(token === undefined ? {} : { token }) },
        target,
        ...(name === undefined ? {} : { name }),
        ...volumesOption(options),
      };
    },
  }),
  opCommand({
    name: "mirror run",
    op: "mirror.run",
    summary: "bring a mirror up to date now",
    args: "<name>",
    positionals: { min: 1, max: 1 },
    examples: ["strata mirror run projects-dr"],
    input: ({ positionals: [name] }) => ({ name }),
  }),
  opCommand({
    name: "mirror status",
    op: "mirror.status",
    summary: "mirrors and how far each has synced",
    args: "[name]",
    positionals: { min: 0, max: 1 },
    examples: ["strata mirror status", "strata mirror status projects-dr --json"],
    input: ({ positionals: [name] }) => (name === undefined ? {} : { name }),
  }),
  opCommand({
    name: "mirror promote",
    op: "mirror.promote",
    summary: "make a mirror a writable master (--former: fence its local source, then demote or retire it)",
    args: "<name>",
    positionals: { min: 1, max: 1 },
    options: {
      former: { type: "string", value: "demote|retire", description: "what becomes of the old source" },
    },
    examples: ["strata mirror promote projects-dr --former demote"],
    input: ({ positionals: [name], options }) => {
      const former = str(options, "former");
      if (former !== undefined && former !== "demote" && former !== "retire") {
        throw strataError("EINVAL", `--former ${JSON.stringify(former)}: give demote or retire`, {
          option: "--former",
        });
      }
      return { name, ...(former === undefined ? {} : { former }) };
    },
  }),
  opCommand({
    name: "backup create",
    op: "backup.create",
    summary: "write a PFS's history as a backup bundle on a volume (incremental with --base)",
    args: "<pfs> <volume>",
    positionals: { min: 2, max: 2 },
    options: {
      prefix: {
        type: "string",
        value: "<prefix>",
        description: "where on the volume (default backups/<pfs>)",
      },
      base: { type: "string", value: "<bundle>", description: "the bundle this one continues (incremental)" },
    },
    examples: [
      "strata backup create projects s3",
      "strata backup create projects s3 --base <bundle-from-last-run>",
    ],
    input: ({ positionals: [pfs, volume], options }) => {
      const prefix = str(options, "prefix");
      const base = str(options, "base");
      return {
        pfs,
        volume,
        ...(prefix === undefined ? {} : { prefix }),
        ...(base === undefined ? {} : { base }),
      };
    },
  }),
  opCommand({
    name: "backup restore",
    op: "backup.restore",
    summary: "restore a bundle chain into a new PFS (byte- and history-exact)",
    args: "<new-pfs> <volume> <prefix> <bundle>",
    positionals: { min: 4, max: 4 },
    options: {
      ...VOLUME_OPTION,
      "keep-mirror": { type: "boolean", description: "leave the restored PFS a read-only mirror" },
    },
    examples: ["strata backup restore projects-restored s3 backups/projects <bundle>"],
    input: ({ positionals: [name, volume, prefix, bundle], options }) => ({
      name,
      volume,
      prefix,
      bundle,
      ...volumesOption(options),
      ...(options["keep-mirror"] === true ? { keepMirror: true } : {}),
    }),
  }),
];
