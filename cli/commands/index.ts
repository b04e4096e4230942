/**
 * The command table, in the order `strata --help` lists it. A new command area is a file in
 * this folder exporting CommandSpec[] (see op.ts for one-call registry operations) plus one line here.
 */
import type { CommandSpec } from "../command.ts";
import { adminCommands } from "./admin.ts";
import { completionCommands } from "./completion.ts";
import { fileCommands } from "./files.ts";
import { historyCommands } from "./history.ts";
import { jobCommands } from "./job.ts";
import { maintenanceCommands } from "./maintenance.ts";
import { mirrorCommands } from "./mirror.ts";
import { mountCommands } from "./mount.ts";
import { objectiveCommands } from "./objective.ts";
import { placementCommands } from "./placement.ts";
import { s3Commands } from "./s3.ts";
import { tagCommands } from "./tag.ts";
import { transferCommands } from "./transfer.ts";
import { volumeCommands } from "./volume.ts";
import { webDavCommands } from "./webdav.ts";

export const COMMANDS: CommandSpec[] = [
  ...fileCommands,
  ...transferCommands,
  ...tagCommands,
  ...historyCommands,
  ...adminCommands,
  ...volumeCommands,
  ...objectiveCommands,
  ...placementCommands,
  ...maintenanceCommands,
  ...mirrorCommands,
  ...webDavCommands,
  ...s3Commands,
  ...mountCommands,
  ...jobCommands,
  ...completionCommands(() => COMMANDS),
];
