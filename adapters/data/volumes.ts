/**
 * The volume registry: volume settings (from a deployment's config) → ready `Volume`s with the
 * site and cost the data plane's reader weighs. The only place that picks a driver by kind.
 *
 * ```ts
 * const registry = openVolumes({
 *   local: { kind: "local", root: "/var/lib/strata/volumes/local", site: "home" },
 *   "s3-eu": { kind: "s3", bucket: "acme-strata-eu", clientConfig: { region: "eu-west-1" }, site: "aws-eu", cost: 2 },
 * });
 * const data = createDataPlane({ store, volumes: registry.volumes, defaultVolume: "local", site: "home" });
 * // …
 * await registry.close();
 * ```
 */

import type { VolumeEntry } from "../../core/data/plane.ts";
import { StrataError } from "../../core/errors.ts";
import type { VolumeDriver } from "../../core/volume/port.ts";
import { Volume, type VolumeOptions } from "../../core/volume/volume.ts";
import { AzureVolumeDriver, type AzureVolumeOptions } from "../volumes/azure.ts";
import { GcsVolumeDriver, type GcsVolumeOptions } from "../volumes/gcs.ts";
import { LocalVolumeDriver } from "../volumes/local.ts";
import { S3VolumeDriver, type S3VolumeOptions } from "../volumes/s3.ts";

/** What the reader weighs, common to every kind. */
interface Placement {
  /** Site of the volume; readers of the same site read it first. */
  site?: string;
  /** Relative read cost (default 1); lower is preferred. */
  cost?: number;
  /** Retry settings of the `Volume` wrapper. */
  retry?: VolumeOptions["retry"];
}

/** One volume's settings; the driver options are those of the adapter (adapters/volumes/*.ts), minus `name`. */
export type VolumeConfig =
  | (Placement & { kind: "local"; root: string })
  | (Placement & { kind: "s3" } & Omit<S3VolumeOptions, "name">)
  | (Placement & { kind: "azure" } & Omit<AzureVolumeOptions, "name">)
  | (Placement & { kind: "gcs" } & Omit<GcsVolumeOptions, "name">)
  /** A driver built by the caller (tests, custom backends). */
  | (Placement & { kind: "driver"; driver: VolumeDriver });

export interface VolumeRegistry {
  /** By name, ready for `createDataPlane({ volumes })`. */
  volumes: Record<string, VolumeEntry>;
  /** Release every driver's clients and sockets. */
  close(): Promise<void>;
}

function driverFor(name: string, config: VolumeConfig): VolumeDriver {
  switch (config.kind) {
    case "local":
      return new LocalVolumeDriver({ name, root: config.root });
    case "s3": {
      const { kind: _k, site: _s, cost: _c, retry: _r, ...options } = config;
      return new S3VolumeDriver({ name, ...options });
    }
    case "azure": {
      const { kind: _k, site: _s, cost: _c, retry: _r, ...options } = config;
      return new AzureVolumeDriver({ name, ...options });
    }
    case "gcs": {
      const { kind: _k, site: _s, cost: _c, retry: _r, ...options } = config;
      return new GcsVolumeDriver({ name, ...options });
    }
    case "driver":
      return config.driver;
    default:
      throw new StrataError(
        "EINVAL",
        `volume \`${name}\`: unknown kind ${JSON.stringify((config as { kind: unknown }).kind)}; use local, s3, azure, gcs or driver`,
        { details: { volume: name } },
      );
  }
}

/** Build every configured volume. Bad settings fail here, before any request. */
export function openVolumes(config: Record<string, VolumeConfig>): VolumeRegistry {
  const volumes: Record<string, VolumeEntry> = {};
  const drivers: VolumeDriver[] = [];
  for (const [name, settings] of Object.entries(config)) {
    if (cost(settings) < 0)
      throw new StrataError("EINVAL", `volume \`${name}\`: cost must be a number ≥ 0`, {
        details: { volume: name },
      });
    const driver = driverFor(name, settings);
    drivers.push(driver);
    const entry: VolumeEntry = {
      volume: new Volume(driver, settings.retry ? { retry: settings.retry } : {}),
    };
    if (settings.site !== undefined) entry.site = settings.site;
    if (settings.cost !== undefined) entry.cost = settings.cost;
    volumes[name] = entry;
  }
  return {
    volumes,
    async close() {
      await Promise.allSettled(drivers.map((d) => d.close?.()));
    },
  };
}

function cost(settings: Placement): number {
  const c = settings.cost ?? 1;
  return typeof c === "number" && Number.isFinite(c) ? c : -1;
}
