/**
 * What the scheduled Lambda functions (vacuum.ts, scrub.ts, ../mirror/schedule.ts) run against on
 * AWS: the deployment's DynamoDB table and every volume of the volume records
 * (functions/workflow/deps.ts registers the S3 bucket `STRATA_BUCKET` as record `s3` at cold
 * start), read per invocation (cached 5 s), so a volume added with `volume.add` is vacuumed,
 * scrubbed and a mirror target without a deploy.
 */
import { nodeSha256 } from "../../adapters/data/sha256.ts";
import { cloudPlacement } from "../workflow/deps.ts";
import type { MaintenanceDeps } from "./maintenance.ts";

export async function lambdaDeps(): Promise<MaintenanceDeps> {
  const p = await cloudPlacement();
  return {
    store: p.store,
    namespace: p.namespace,
    volumes: await p.records.dataPlaneSource(),
    clock: Date.now,
    sha256: nodeSha256,
  };
}

/** Seconds left in this invocation minus a margin (the time box of the run). */
export function budgetSeconds(
  context: { getRemainingTimeInMillis?: () => number } | undefined,
  fallback: number,
): number {
  const left = context?.getRemainingTimeInMillis?.();
  return left === undefined ? fallback : Math.max(1, Math.floor(left / 1000) - 30);
}
