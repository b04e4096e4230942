/// <reference path="../.sst/platform/config.d.ts" />
/**
 * The operators' scheduled runs in the cloud (EventBridge Scheduler → Lambda, via `sst.aws.CronV2`):
 *
 *   rate(1 hour)  → functions/schedule/vacuum.handler   applying vacuum, time-boxed to the invocation
 *   rate(6 hours) → functions/schedule/scrub.handler    scrub (CRC of every instance, repair), time-boxed
 *   rate(5 min)   → functions/mirror/schedule.handler   every defined mirror, ≤ 10 pages each, time-boxed
 *
 * Each run resumes from cursors kept in the table, so a run cut short by its time box loses
 * nothing. The functions get the same settings and links as the API function (stacks/api.ts):
 * the table and the default-volume bucket, nothing else. Locally, `npm start` runs the same jobs
 * on timers (functions/local/schedules.ts). Type-checked after `sst install` like every stack; never deployed from here (no AWS).
 */
import { volumeBucket } from "./api";
import { metadataTable } from "./metadata";

const maintenanceFunction = (handler: string, timeout: "5 minutes" | "15 minutes" = "15 minutes") => ({
  handler,
  runtime: "nodejs22.x" as const,
  architecture: "arm64" as const,
  memory: "1024 MB" as const,
  // The handlers stop 30 s before the invocation's end (functions/schedule/budget.ts).
  timeout,
  link: [metadataTable, volumeBucket],
  environment: { STRATA_TABLE: metadataTable.name, STRATA_BUCKET: volumeBucket.name },
});

export const vacuumSchedule = new sst.aws.CronV2("Vacuum", {
  schedule: "rate(1 hour)",
  function: maintenanceFunction("functions/schedule/vacuum.handler"),
  event: { apply: true },
});

export const scrubSchedule = new sst.aws.CronV2("Scrub", {
  schedule: "rate(6 hours)",
  function: maintenanceFunction("functions/schedule/scrub.handler"),
});

// The timeout equals the rate, so ticks rarely overlap; one that does loses with ECONFLICT for the
// mirror both run, and the next tick goes on from its sync TID.
export const mirrorSchedule = new sst.aws.CronV2("Mirror", {
  schedule: "rate(5 minutes)",
  function: maintenanceFunction("functions/mirror/schedule.handler", "5 minutes"),
});
