/**
 * A small world for retention / vacuum / scrub / fsck tests: one MetadataStore, a namespace engine
 * and a data plane over two volumes, all on one fake clock (TIDs follow it).
 */

import { createDataPlane } from "../../core/data/plane.ts";
import { type VacuumParams, vacuum } from "../../core/maintenance/vacuum.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import type { Engine } from "../../core/namespace/engine.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import type { VolumeDriver } from "../../core/volume/port.ts";
import { fixedRegistry, type VolumeRegistry } from "../../core/volume/registry.ts";
import { Volume } from "../../core/volume/volume.ts";
import type { Services } from "../../functions/api/services.ts";
import { pattern } from "../conformance/sdk.ts";

export const T0 = Date.UTC(2026, 0, 5, 12, 0, 0); // a Monday, noon UTC
export const KiB = 1024;
export const CHUNK = 64 * KiB;

export interface MaintenanceWorld {
  store: MetadataStore;
  ns: Engine;
  data: ReturnType<typeof createDataPlane>;
  volumes: Record<string, Volume>;
  /** The same volumes as the deployment's one registry (what vacuum, scrub and fsck take). */
  registry: VolumeRegistry;
  clock: { now: number; advance(ms: number): void };
  vacuum(options?: Partial<VacuumParams>): ReturnType<typeof vacuum>;
}

export function maintenanceWorld(
  store: MetadataStore,
  drivers: Record<string, VolumeDriver>,
  options: { start?: number; copies?: number } = {},
): MaintenanceWorld {
  const clock = {
    now: options.start ?? T0,
    advance(ms: number) {
      this.now += ms;
    },
  };
  const now = () => clock.now;
  const ns = createNamespace({ store, clock: now, options: { epochShards: 2 } }) as Engine;
  const volumes: Record<string, Volume> = {};
  for (const [name, d] of Object.entries(drivers))
    volumes[name] = new Volume(d, { retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
  const names = Object.keys(volumes);
  const copies = options.copies ?? 1;
  const data = createDataPlane({
    store,
    volumes,
    defaultVolume: names[0]!,
    chunkSize: CHUNK,
    inlineThreshold: 0,
    clock: now,
    chooseVolumes: () => names.slice(0, copies),
  });
  const registry = fixedRegistry(volumes);
  return {
    store,
    ns,
    data,
    volumes,
    registry,
    clock,
    vacuum: (o = {}) =>
      vacuum({
        store,
        namespace: ns,
        volumes: registry,
        clock: now,
        // The grace wait passes on the fake clock (so readers' watermark caches expire too).
        sleep: async (ms) => clock.advance(ms),
        ...o,
      }),
  };
}

/** Deterministic bytes: `n` bytes of pattern `seed` (different seeds share no 64 KiB chunk). */
export function bytesOf(seed: number, n: number): Uint8Array {
  return pattern(n, seed);
}

/**
 * The API services over a maintenance world's single volume `a` (for `invoke`): vacuum's reader
 * grace sleeps on the world's fake clock.
 */
export function maintenanceServices(w: ReturnType<typeof maintenanceWorld>): Services {
  return {
    namespace: w.ns,
    data: w.data,
    store: w.store,
    volumes: fixedRegistry({ a: { volume: w.volumes.a! } }),
    clock: () => w.clock.now,
    sha256: undefined,
    sleep: async (ms: number) => w.clock.advance(ms),
  } as unknown as Services;
}
