/**
 * The volumes by name: ONE registry per process. A handle is a volume as every layer sees it —
 * the `Volume` (driver wrapped once), the site and cost the reader weighs, its kind, and the
 * presigner that hands out URLs for its objects. The data plane, placement, the API's byte
 * operations, maintenance and mirroring all read volumes through it, so a volume added at runtime
 * (`volume.add`) is one everybody sees within the registry's cache time.
 *
 * Two ways to build one:
 * - {@link describedRegistry}: from descriptions (the volume records, re-read every `ttlMs`) and
 *   an `open` function that builds a driver and presigner per description (adapters/volumes/kinds.ts
 *   `openVolumeKind`); rebuilt when a description's kind or settings change.
 * - {@link fixedRegistry}: a fixed set (tests, a process with no records).
 *
 * Pure: no SDK here; the drivers and presigners come from `open`.
 */
import { StrataError, strataError } from "../errors.ts";
import type { VolumeDriver } from "./port.ts";
import type { PresignedRequest, Presigner, PresignRequest } from "./presign.ts";
import { Volume, type VolumeOptions } from "./volume.ts";

/** What the data plane's reader weighs of a volume: the Volume, its site and its cost. */
export interface VolumeEntry {
  volume: Volume;
  /** Site the volume is in ("aws-eu-west-1", "onprem-a", …); readers prefer their own site. */
  site?: string;
  /** Relative cost of reading from it (egress, request price); lower is preferred. Default 1. */
  cost?: number;
}

/** One volume, ready to use: its entry, name, kind and presigner. */
export interface VolumeHandle extends Readonly<VolumeEntry> {
  readonly name: string;
  /** "local" | "s3" | "azure" | "gcs" | … (shown by status). */
  readonly kind: string;
  readonly cost: number;
  /** Hands out URLs for the volume's objects (ENOTSUP where this process has none). */
  readonly presigner: Presigner;
}

/** What a registry is built from: a volume record, or a configured volume. */
export interface VolumeDescription {
  name: string;
  kind: string;
  /** The driver settings of that kind. */
  config: Readonly<Record<string, unknown>>;
  site?: string;
  cost?: number;
}

/** What `open` makes of a description. */
export interface OpenedVolume {
  driver: VolumeDriver;
  presigner: Presigner;
  /** Release what the driver and presigner share (SDK clients); the driver's own `close` runs too. */
  close?: () => void | Promise<void>;
}

export interface VolumeRegistry<D extends VolumeDescription = VolumeDescription> {
  /** Every description (for records: active and draining), cached for a short time. */
  list(): Promise<D[]>;
  /** Every volume now, by name (a snapshot: callers ask again at their next step). */
  handles(): Promise<Record<string, VolumeHandle>>;
  /** One volume; undefined when there is none of that name (after one fresh re-read). */
  lookup(name: string): Promise<VolumeHandle | undefined>;
  /** The ready Volume of `name`; ENOENT when there is none. */
  volume(name: string): Promise<Volume>;
  /** Forget cached descriptions (after a change made by this process). */
  invalidate(): void;
  /** Release every driver's clients and sockets. */
  close(): Promise<void>;
}

/** A presigner that explains why a volume has no URLs here (ENOTSUP: configuration, not a retry). */
export function noUrls(name: string, why: string): Presigner {
  return {
    presign: async (request: PresignRequest): Promise<PresignedRequest> => {
      throw strataError("ENOTSUP", `volume \`${name}\`: ${why}`, { volume: name, key: request.key });
    },
  };
}

export interface DescribedRegistryOptions<D extends VolumeDescription> {
  /** Read every description (e.g. the `volume` records). */
  describe: () => Promise<D[]>;
  /** Build a volume's driver and presigner (called again when its kind or settings change). */
  open: (description: D) => OpenedVolume;
  /** How long descriptions are cached (default 5 s): a volume added elsewhere is seen within it. */
  ttlMs?: number;
  /** Wrap each driver as it is built (tests inject faults here). */
  wrapDriver?: (name: string, driver: VolumeDriver) => VolumeDriver;
  /** Retry settings of the `Volume` wrappers. */
  retry?: VolumeOptions["retry"];
  /** Message of the ENOENT for an unknown name. */
  missing?: (name: string) => string;
  clock?: () => number;
}

/** A registry over descriptions read by `describe`, drivers built on first use by `open`. */
export function describedRegistry<D extends VolumeDescription>(
  options: DescribedRegistryOptions<D>,
): VolumeRegistry<D> {
  const ttl = options.ttlMs ?? 5_000;
  const clock = options.clock ?? Date.now;
  let cached: { list: D[]; until: number } | undefined;
  let loading: Promise<D[]> | undefined;
  const built = new Map<string, { signature: string; volume: Volume; opened: OpenedVolume }>();

  const list = async (): Promise<D[]> => {
    if (cached && cached.until > clock()) return cached.list;
    loading ??= (async () => {
      try {
        const descriptions = await options.describe();
        cached = { list: descriptions, until: clock() + ttl };
        return descriptions;
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  };

  const release = (opened: OpenedVolume) =>
    Promise.allSettled([opened.driver.close?.(), opened.close?.()]).then(() => undefined);

  const handleOf = (d: D): VolumeHandle => {
    const signature = JSON.stringify([d.kind, d.config]);
    let have = built.get(d.name);
    if (!have || have.signature !== signature) {
      if (have) void release(have.opened);
      const opened = options.open(d);
      const driver = options.wrapDriver ? options.wrapDriver(d.name, opened.driver) : opened.driver;
      const volume = new Volume(driver, options.retry ? { retry: options.retry } : {});
      have = { signature, volume, opened };
      built.set(d.name, have);
    }
    return {
      name: d.name,
      kind: d.kind,
      volume: have.volume,
      cost: d.cost ?? 1,
      presigner: have.opened.presigner,
      ...(d.site !== undefined ? { site: d.site } : {}),
    };
  };

  const find = async (name: string): Promise<D | undefined> => {
    let d = (await list()).find((x) => x.name === name);
    if (!d) {
      cached = undefined; // added a moment ago elsewhere?
      d = (await list()).find((x) => x.name === name);
    }
    return d;
  };

  return {
    list,
    async handles() {
      const out: Record<string, VolumeHandle> = {};
      for (const d of await list()) out[d.name] = handleOf(d);
      return out;
    },
    async lookup(name) {
      const d = await find(name);
      return d && handleOf(d);
    },
    async volume(name) {
      const d = await find(name);
      if (!d)
        throw new StrataError("ENOENT", options.missing?.(name) ?? `no volume \`${name}\``, {
          details: { volume: name },
        });
      return handleOf(d).volume;
    },
    invalidate() {
      cached = undefined;
    },
    async close() {
      await Promise.allSettled([...built.values()].map((b) => release(b.opened)));
      built.clear();
    },
  };
}

/** A volume of a fixed registry: the Volume and whatever of its handle is known. */
export interface FixedVolume {
  volume: Volume;
  site?: string;
  cost?: number;
  kind?: string;
  presigner?: Presigner;
}

/**
 * A registry of a fixed set of volumes (tests, or a process with no volume records). Kind
 * defaults to "fixed" and the presigner to ENOTSUP; `close` runs `options.close` (default: nothing,
 * the caller owns the drivers).
 */
export function fixedRegistry(
  volumes: Record<string, Volume | FixedVolume>,
  options: { close?: () => Promise<void> } = {},
): VolumeRegistry {
  const handles: Record<string, VolumeHandle> = {};
  for (const [name, v] of Object.entries(volumes)) {
    const entry: FixedVolume = v instanceof Volume ? { volume: v } : v;
    handles[name] = {
      name,
      kind: entry.kind ?? "fixed",
      volume: entry.volume,
      cost: entry.cost ?? 1,
      presigner: entry.presigner ?? noUrls(name, "this process serves no URLs for it"),
      ...(entry.site !== undefined ? { site: entry.site } : {}),
    };
  }
  const descriptions = Object.values(handles).map((h) => ({
    name: h.name,
    kind: h.kind,
    config: {},
    cost: h.cost,
    ...(h.site !== undefined ? { site: h.site } : {}),
  }));
  return {
    list: async () => descriptions,
    handles: async () => ({ ...handles }),
    lookup: async (name) => (Object.hasOwn(handles, name) ? handles[name] : undefined),
    async volume(name) {
      if (!Object.hasOwn(handles, name))
        throw new StrataError("ENOENT", `no volume \`${name}\``, { details: { volume: name } });
      return handles[name]!.volume;
    },
    invalidate() {},
    async close() {
      await options.close?.();
    },
  };
}
