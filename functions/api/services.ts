/**
 * What operations run against: `Services` (runtime/services.ts builds them, one per deployment
 * process: runtime/embedded.ts, runtime/local.ts, runtime/lambda.ts, or a test).
 */

import type { VolumeRegistry } from "../../core/volume/registry.ts";
import type { Volume } from "../../core/volume/volume.ts";

export type { Schedules, Services } from "../../runtime/services.ts";

/**
 * Where a run finds its volumes: a registry (`Services.volumes`), or a snapshot of one taken at the
 * start of an invocation (the schedule Lambdas' deps, runtime/lambda.ts `maintenanceDeps`).
 */
export interface VolumeSource {
  volumes: VolumeRegistry | Readonly<Record<string, { volume: Volume }>>;
}

function isRegistry(v: VolumeSource["volumes"]): v is VolumeRegistry {
  return typeof (v as VolumeRegistry).handles === "function";
}

/**
 * The volumes now, as drivers by name, so a `volume.add` at runtime is seen without a restart.
 * Vacuum, scrub, mirror and backup runs read it once at their start.
 */
export async function volumesNow(source: VolumeSource): Promise<Record<string, Volume>> {
  const entries = isRegistry(source.volumes) ? await source.volumes.handles() : source.volumes;
  return Object.fromEntries(Object.entries(entries).map(([name, v]) => [name, v.volume]));
}
