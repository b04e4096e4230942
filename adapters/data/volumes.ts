/**
 * Volumes from settings: {@link openVolumes} builds a fixed registry from a deployment's config
 * (the driver per kind comes from adapters/volumes/kinds.ts, the one place that picks it);
 * {@link registerVolumes} records configured volumes so the registry over the records
 * (core/volume/registry.ts, wired by runtime/services.ts) serves them; {@link checkVolumeSettings}
 * refuses settings that build no driver before `volume.add` records them.
 *
 * ```ts
 * const registry = openVolumes({
 *   local: { kind: "local", root: "/var/lib/strata/volumes/local", site: "home" },
 *   "s3-eu": { kind: "s3", bucket: "acme-strata-eu", clientConfig: { region: "eu-west-1" }, site: "aws-eu", cost: 2 },
 * });
 * const data = createDataPlane({ store, volumes: {}, registry, defaultVolume: "local", site: "home" });
 * // …
 * await registry.close();
 * ```
 */

import { StrataError } from "../../core/errors.ts";
import type { Value } from "../../core/metadata/port.ts";
import type { VolumeAdmin, VolumeSpec } from "../../core/placement/volumes.ts";
import type { VolumeDriver } from "../../core/volume/port.ts";
import { type FixedVolume, fixedRegistry, noUrls, type VolumeRegistry } from "../../core/volume/registry.ts";
import { Volume } from "../../core/volume/volume.ts";
import { driverFor, type VolumeConfig } from "../volumes/kinds.ts";

export type { VolumeConfig };

/**
 * Build every configured volume as a fixed registry (no URLs; `close` releases every driver's
 * clients and sockets). Bad settings fail here, before any request.
 */
export function openVolumes(config: Record<string, VolumeConfig>): VolumeRegistry {
  const volumes: Record<string, FixedVolume> = {};
  const drivers: VolumeDriver[] = [];
  for (const [name, settings] of Object.entries(config)) {
    if (cost(settings) < 0)
      throw new StrataError("EINVAL", `volume \`${name}\`: cost must be a number ≥ 0`, {
        details: { volume: name },
      });
    const driver = driverFor(name, settings);
    drivers.push(driver);
    volumes[name] = {
      kind: settings.kind,
      volume: new Volume(driver, settings.retry ? { retry: settings.retry } : {}),
      cost: settings.cost ?? 1,
      presigner: noUrls(name, "a configured volume set serves no URLs"),
      ...(settings.site !== undefined ? { site: settings.site } : {}),
    };
  }
  return fixedRegistry(volumes, {
    close: async () => {
      await Promise.allSettled(drivers.map((d) => d.close?.()));
    },
  });
}

function cost(settings: { cost?: number }): number {
  const c = settings.cost ?? 1;
  return typeof c === "number" && Number.isFinite(c) ? c : -1;
}

/**
 * Check that a volume's kind and driver settings build a driver (no request is sent), so a bad
 * `volume.add` fails before its record exists. EINVAL naming the volume otherwise.
 */
export async function checkVolumeSettings(
  name: string,
  kind: string,
  config: Record<string, unknown>,
): Promise<void> {
  const required: Record<string, string[]> = { local: ["root"], s3: ["bucket"], gcs: ["bucket"], azure: [] };
  for (const field of required[kind] ?? [])
    if (typeof config[field] !== "string" || config[field] === "")
      throw new StrataError(
        "EINVAL",
        `volume \`${name}\`: a ${kind} volume needs \`${field}\` in its settings`,
        {
          details: { volume: name, kind, field },
        },
      );
  let driver: VolumeDriver;
  try {
    driver = driverFor(name, { ...config, kind } as unknown as VolumeConfig);
  } catch (err) {
    if (err instanceof StrataError) throw err;
    throw new StrataError(
      "EINVAL",
      `volume \`${name}\`: its ${kind} settings do not build a driver: ${(err as Error).message}`,
      {
        details: { volume: name, kind },
        cause: err,
      },
    );
  }
  await driver.close?.();
}

/**
 * Register statically configured volumes as records, idempotently (a server calls this at
 * startup: `npm start` builds local/s3/azure/gcs this way). Only JSON settings can be recorded:
 * a `kind: "driver"` entry or one holding a client object is EINVAL. An existing record with other
 * settings is left alone and reported in `conflicts` (the records are the source of truth).
 */
export async function registerVolumes(
  admin: VolumeAdmin,
  config: Record<string, VolumeConfig & { cloud?: string; class?: string }>,
): Promise<{ added: string[]; existing: string[]; conflicts: string[] }> {
  const result = { added: [] as string[], existing: [] as string[], conflicts: [] as string[] };
  const before = new Set((await admin.list()).map((r) => r.name));
  for (const [name, settings] of Object.entries(config)) {
    if (settings.kind === "driver")
      throw new StrataError(
        "EINVAL",
        `volume \`${name}\`: a driver object cannot be recorded; give its kind and settings`,
        {
          details: { volume: name },
        },
      );
    const {
      kind,
      site,
      cost,
      retry: _r,
      cloud,
      class: klass,
      ...driverConfig
    } = settings as VolumeConfig & {
      cloud?: string;
      class?: string;
    } & Record<string, unknown>;
    for (const [k, v] of Object.entries(driverConfig))
      if (
        v !== null &&
        typeof v === "object" &&
        Object.getPrototypeOf(v) !== Object.prototype &&
        !Array.isArray(v)
      )
        throw new StrataError(
          "EINVAL",
          `volume \`${name}\`: setting \`${k}\` is an object that cannot be recorded (a client?); pass plain settings`,
          {
            details: { volume: name, field: k },
          },
        );
    const spec: VolumeSpec = { name, kind, config: driverConfig as Record<string, Value> };
    if (site !== undefined) spec.site = site;
    if (cost !== undefined) spec.cost = cost;
    if (cloud !== undefined) spec.cloud = cloud;
    if (klass !== undefined) spec.class = klass;
    try {
      await admin.add(spec);
      (before.has(name) ? result.existing : result.added).push(name);
    } catch (err) {
      if (!(err instanceof StrataError) || err.code !== "EEXIST") throw err;
      result.conflicts.push(name);
    }
  }
  return result;
}
