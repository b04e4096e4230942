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
import type { MetadataStore, Value } from "../../core/metadata/port.ts";
import { decodeVolume, VOLUME_PK, type VolumeRecord } from "../../core/placement/records.ts";
import type { VolumeAdmin, VolumeSet, VolumeSpec } from "../../core/placement/volumes.ts";
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

export interface VolumeRecordsOptions {
  store: MetadataStore;
  /** How long the record list is cached (default 5 s): a volume added elsewhere is seen within it. */
  ttlMs?: number;
  /** Wrap each driver as it is built (tests inject faults here). */
  wrapDriver?: (name: string, driver: VolumeDriver) => VolumeDriver;
  /** Retry settings of the `Volume` wrappers. */
  retry?: VolumeOptions["retry"];
  clock?: () => number;
}

/**
 * The dynamic registry: volume records (`volume` items, core/placement/volumes.ts) → ready
 * Volumes, built on first use and rebuilt when a record's settings change. It is the
 * `VolumeSet` placement uses and, through `dataPlaneSource`, the data plane's `volumeSource`.
 *
 * ```ts
 * const records = openVolumeRecords({ store });
 * const data = createDataPlane({ store, volumes: {}, volumeSource: records.dataPlaneSource, defaultVolume: "local" });
 * ```
 */
export interface VolumeRecords extends VolumeSet {
  /** For `createDataPlane({ volumeSource })`: every recorded volume with its site and cost. */
  dataPlaneSource: () => Promise<Record<string, VolumeEntry>>;
  close(): Promise<void>;
}

export function openVolumeRecords(options: VolumeRecordsOptions): VolumeRecords {
  const ttl = options.ttlMs ?? 5_000;
  const clock = options.clock ?? Date.now;
  let cached: { records: VolumeRecord[]; until: number } | undefined;
  let loading: Promise<VolumeRecord[]> | undefined;
  const built = new Map<string, { signature: string; volume: Volume; driver: VolumeDriver }>();

  const list = async (): Promise<VolumeRecord[]> => {
    if (cached && cached.until > clock()) return cached.records;
    loading ??= (async () => {
      try {
        const records: VolumeRecord[] = [];
        let cursor: string | undefined;
        do {
          const page = await options.store.query(VOLUME_PK, { cursor });
          records.push(...page.items.map(decodeVolume));
          cursor = page.cursor;
        } while (cursor !== undefined);
        cached = { records, until: clock() + ttl };
        return records;
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  };

  const volumeOf = (record: VolumeRecord): Volume => {
    const signature = JSON.stringify([record.kind, record.config]);
    const have = built.get(record.name);
    if (have && have.signature === signature) return have.volume;
    if (have) void have.driver.close?.();
    const config = { ...record.config, kind: record.kind } as unknown as VolumeConfig;
    let driver = driverFor(record.name, config);
    if (options.wrapDriver) driver = options.wrapDriver(record.name, driver);
    const volume = new Volume(driver, options.retry ? { retry: options.retry } : {});
    built.set(record.name, { signature, volume, driver });
    return volume;
  };

  return {
    list,
    invalidate() {
      cached = undefined;
    },
    async volume(name: string): Promise<Volume> {
      let record = (await list()).find((r) => r.name === name);
      if (!record) {
        cached = undefined; // added a moment ago elsewhere?
        record = (await list()).find((r) => r.name === name);
      }
      if (!record)
        throw new StrataError("ENOENT", `volume \`${name}\` has no record; \`volume.add\` registers it`, {
          details: { volume: name },
        });
      return volumeOf(record);
    },
    async dataPlaneSource(): Promise<Record<string, VolumeEntry>> {
      const out: Record<string, VolumeEntry> = {};
      for (const r of await list()) {
        const entry: VolumeEntry = { volume: volumeOf(r), cost: r.cost ?? 1 };
        if (r.site !== undefined) entry.site = r.site;
        out[r.name] = entry;
      }
      return out;
    },
    async close() {
      await Promise.allSettled([...built.values()].map((b) => b.driver.close?.()));
      built.clear();
    },
  };
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
