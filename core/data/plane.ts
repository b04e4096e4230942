/**
 * `createDataPlane(options)`: file contents as fixed-size, SHA-256-addressed, CRC32C-checked chunks
 * on volumes, referenced by one namespace commit per write (the protocol is in docs/data.md).
 *
 * Write: body → (≤ inlineThreshold bytes: inline in the commit, no object PUT) → fixed chunks →
 * intent item (chunk hashes announced before each upload) → per chunk and target volume: skip if a
 * present instance is recorded (dedup), else create-only put → instance record → one engine commit
 * (`create` / `writeContent`) → intent deleted (best effort).
 *
 * Read: stat (as-of through the view given) → extents → instances (one BatchGetItem for every
 * chunk × configured volume) → per chunk the best instance (reader's site, then cost, then recent
 * health) → the whole chunk read, its size and CRC32C checked → on ECORRUPT / ENOENT / unreachable
 * the next instance, the bad one reported (recorded as corrupt / missing, `onBadInstance`).
 */

import { toHex } from "../bytes.ts";
import { StrataError } from "../errors.ts";
import type { MetadataStore } from "../metadata/port.ts";
import type { VolumeRegistry } from "../volume/registry.ts";
import type { Volume } from "../volume/volume.ts";
import type {
  BadInstanceReport,
  ChunkPlacement,
  DataBody,
  DataPlane,
  FileSystem,
  ReadableFileSystem,
  ReadOptions,
  Sha256,
  Stat,
  WriteFileOptions,
} from "./api.ts";
import { configKey } from "./chunk-items.ts";
import { copyFile } from "./copy.ts";
import { ReadHealth } from "./health.ts";
import {
  type Call,
  type Candidate,
  DATA_DEFAULTS,
  MiB,
  type PlaneState,
  type VolumeEntry,
} from "./plane-state.ts";
import * as reading from "./read.ts";
import * as writing from "./write.ts";

export { DATA_DEFAULTS, type Extent, type VolumeEntry } from "./plane-state.ts";

/** What `chooseVolumes` is told about the file being written. */
export interface FileToPlace {
  pfs: string;
  path: string;
  /** The PFS's default volume (its config record, else the plane's `defaultVolume`). */
  defaultVolume: string;
}

export interface DataPlaneOptions {
  store: MetadataStore;
  /** Every volume this process can reach, by the name recorded in instance records. */
  volumes: Record<string, Volume | VolumeEntry>;
  /** Where chunks go when the PFS has no default of its own and `chooseVolumes` is absent. */
  defaultVolume: string;
  /** The reader's site: instances on volumes of this site are read first. */
  site?: string;
  /** Chunk size in bytes (default 8 MiB; 64 KiB .. 512 MiB). A file holds at most 1,000 chunks. */
  chunkSize?: number;
  /** Files of at most this many bytes live inline in the file's metadata (default 4 KiB, max 64 KiB). */
  inlineThreshold?: number;
  /** Chunks uploaded (and read ahead) at once per call (default 4): memory ≈ parallelism × chunkSize. */
  parallelism?: number;
  /** SHA-256 as lowercase hex (default WebCrypto `crypto.subtle`). */
  sha256?: Sha256;
  /**
   * Placement hook (objectives: runtime/services.ts `openPlacement` passes the planner's choice): the volumes a new file's chunks go to, one
   * instance each. Default: `[file.defaultVolume]`.
   */
  chooseVolumes?: (file: FileToPlace) => string[] | Promise<string[]>;
  /** Called for every bad instance a read met (after the record was updated). Must not throw. */
  onBadInstance?: (report: BadInstanceReport) => void;
  /** An intent's lifetime, renewed with every chunk announced (default 1 hour). */
  intentTtlMs?: number;
  /** How long a volume's read failures count against it (default 60 s). */
  healthWindowMs?: number;
  /** How long a PFS's config record is cached (default 30 s). */
  configTtlMs?: number;
  /**
   * The process's volume registry (core/volume/registry.ts, over the volume records): asked before
   * a write chooses its volumes and before a read looks up instances, at most once per
   * `volumesTtlMs` (default 5 s). Its volumes are added to those in `volumes` (same name: the
   * registry's wins); a name it stops returning is dropped unless `volumes` has it.
   */
  registry?: Pick<VolumeRegistry, "handles">;
  volumesTtlMs?: number;
  /**
   * Attempts of an append or truncate that keeps losing the race to concurrent changes of the same
   * file before it fails with ECONFLICT (default 16).
   */
  appendAttempts?: number;
  /** Injectable clock (ms since epoch). */
  clock?: () => number;
  /** Injectable pause while a vacuum `deleting` lease is waited out (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
}

/** Operations beyond `DataPlane` for operators and tests. */
export interface DataPlaneAdmin {
  /** Set the volume new chunks of `pfs` go to (its `datacfg#<pfs>` record). */
  setDefaultVolume(pfs: string, volume: string): Promise<void>;
  /** The PFS's default volume. */
  defaultVolume(pfs: string): Promise<string>;
  readonly chunkSize: number;
  readonly inlineThreshold: number;
}

/** SHA-256 through WebCrypto (a global in Node ≥ 20 and in browsers/workers). */
export const webCryptoSha256: Sha256 = async (bytes) =>
  toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));

export function createDataPlane(options: DataPlaneOptions): DataPlane & DataPlaneAdmin {
  return new StrataDataPlane(options);
}

class StrataDataPlane implements DataPlane, DataPlaneAdmin, PlaneState {
  readonly chunkSize: number;
  readonly inlineThreshold: number;
  readonly store: MetadataStore;
  readonly volumes = new Map<string, Candidate["entry"]>();
  private readonly fallbackVolume: string;
  readonly site: string | undefined;
  readonly parallelism: number;
  readonly sha256: Sha256;
  private readonly chooseVolumes: DataPlaneOptions["chooseVolumes"];
  readonly onBadInstance: DataPlaneOptions["onBadInstance"];
  readonly intentTtlMs: number;
  private readonly configTtlMs: number;
  readonly clock: () => number;
  readonly sleep: ((ms: number) => Promise<void>) | undefined;
  readonly appendAttempts: number;
  /** Recent read failures per volume, for the health tie-break. */
  readonly health: ReadHealth;
  private readonly configCache = new Map<string, { volume: string; until: number }>();
  private readonly registry: DataPlaneOptions["registry"];
  private readonly volumesTtlMs: number;
  private readonly staticVolumes = new Map<string, Candidate["entry"]>();
  private volumesUntil = 0;
  private volumesLoading: Promise<void> | undefined;

  constructor(options: DataPlaneOptions) {
    const invalid = (message: string) => new StrataError("EINVAL", `data plane: ${message}`);
    this.store = options.store;
    for (const [name, given] of Object.entries(options.volumes)) {
      const entry = "volume" in given ? given : { volume: given };
      this.volumes.set(name, { ...entry, cost: entry.cost ?? 1 });
    }
    // With a registry the default may be a record only (checked when a write chooses it).
    if (!this.volumes.has(options.defaultVolume) && !options.registry)
      throw invalid(`defaultVolume \`${options.defaultVolume}\` is not among the volumes given`);
    this.fallbackVolume = options.defaultVolume;
    this.site = options.site;
    this.chunkSize = options.chunkSize ?? DATA_DEFAULTS.chunkSize;
    if (!Number.isSafeInteger(this.chunkSize) || this.chunkSize < 64 * 1024 || this.chunkSize > 512 * MiB)
      throw invalid(`chunkSize ${this.chunkSize} is not an integer in 64 KiB .. 512 MiB`);
    this.inlineThreshold = options.inlineThreshold ?? DATA_DEFAULTS.inlineThreshold;
    if (
      !Number.isSafeInteger(this.inlineThreshold) ||
      this.inlineThreshold < 0 ||
      this.inlineThreshold > 64 * 1024
    )
      throw invalid(`inlineThreshold ${this.inlineThreshold} is not an integer in 0 .. 64 KiB`);
    this.parallelism = options.parallelism ?? DATA_DEFAULTS.parallelism;
    if (!Number.isSafeInteger(this.parallelism) || this.parallelism < 1 || this.parallelism > 64)
      throw invalid(`parallelism ${this.parallelism} is not an integer in 1..64`);
    this.sha256 = options.sha256 ?? webCryptoSha256;
    this.chooseVolumes = options.chooseVolumes;
    this.onBadInstance = options.onBadInstance;
    this.intentTtlMs = options.intentTtlMs ?? DATA_DEFAULTS.intentTtlMs;
    this.configTtlMs = options.configTtlMs ?? DATA_DEFAULTS.configTtlMs;
    this.registry = options.registry;
    this.volumesTtlMs = options.volumesTtlMs ?? 5_000;
    for (const [name, entry] of this.volumes) this.staticVolumes.set(name, entry);
    this.clock = options.clock ?? Date.now;
    this.health = new ReadHealth(options.healthWindowMs ?? DATA_DEFAULTS.healthWindowMs, this.clock);
    this.sleep = options.sleep;
    this.appendAttempts = options.appendAttempts ?? DATA_DEFAULTS.appendAttempts;
    if (!Number.isSafeInteger(this.appendAttempts) || this.appendAttempts < 1)
      throw invalid(`appendAttempts ${this.appendAttempts} is not an integer ≥ 1`);
  }

  /** Merge the dynamic volume set in, when its cache expired (one load at a time). */
  async refreshVolumes(): Promise<void> {
    if (!this.registry || this.clock() < this.volumesUntil) return;
    this.volumesLoading ??= (async () => {
      try {
        const loaded = await this.registry!.handles();
        for (const name of [...this.volumes.keys()])
          if (!(name in loaded) && !this.staticVolumes.has(name)) this.volumes.delete(name);
        for (const name of this.staticVolumes.keys())
          if (!(name in loaded)) this.volumes.set(name, this.staticVolumes.get(name)!);
        for (const [name, handle] of Object.entries(loaded))
          this.volumes.set(name, {
            volume: handle.volume,
            cost: handle.cost,
            ...(handle.site !== undefined ? { site: handle.site } : {}),
          });
        this.volumesUntil = this.clock() + this.volumesTtlMs;
      } finally {
        this.volumesLoading = undefined;
      }
    })();
    await this.volumesLoading;
  }

  async setDefaultVolume(pfs: string, volume: string): Promise<void> {
    await this.refreshVolumes();
    if (!this.volumes.has(volume))
      throw new StrataError("EINVAL", `data plane: volume \`${volume}\` is not configured`, {
        details: { pfs, volume },
      });
    await this.store.put({ ...configKey(pfs), defaultVolume: volume, time: this.clock() });
    this.configCache.set(pfs, { volume, until: this.clock() + this.configTtlMs });
  }

  async defaultVolume(pfs: string): Promise<string> {
    const cached = this.configCache.get(pfs);
    if (cached && cached.until > this.clock()) return cached.volume;
    const item = await this.store.get(configKey(pfs));
    const volume = typeof item?.defaultVolume === "string" ? item.defaultVolume : this.fallbackVolume;
    this.configCache.set(pfs, { volume, until: this.clock() + this.configTtlMs });
    return volume;
  }

  async targetVolumes(call: Call): Promise<string[]> {
    await this.refreshVolumes();
    const defaultVolume = await this.defaultVolume(call.pfs);
    const chosen = this.chooseVolumes
      ? await this.chooseVolumes({ pfs: call.pfs, path: call.path, defaultVolume })
      : [defaultVolume];
    const names = [...new Set(chosen)];
    if (names.length === 0)
      throw new StrataError("EINVAL", `${call.pfs}:${call.path}: chooseVolumes returned no volume`, {
        details: { path: call.path, pfs: call.pfs },
      });
    for (const name of names) {
      if (!this.volumes.has(name))
        throw new StrataError(
          "EINVAL",
          `${call.pfs}:${call.path}: volume \`${name}\` is chosen for the data but not configured in this data plane. Add it to \`volumes\``,
          { details: { path: call.path, pfs: call.pfs, volume: name } },
        );
    }
    return names;
  }

  writeFile(fs: FileSystem, path: string, body: DataBody, options?: WriteFileOptions): Promise<Stat> {
    return writing.writeFile(this, fs, path, body, options);
  }

  appendFile(
    fs: FileSystem,
    path: string,
    body: DataBody,
    options?: { signal?: AbortSignal },
  ): Promise<Stat> {
    return writing.appendFile(this, fs, path, body, options);
  }

  truncate(fs: FileSystem, path: string, length: number, options?: { signal?: AbortSignal }): Promise<Stat> {
    return writing.truncate(this, fs, path, length, options);
  }

  read(
    fs: ReadableFileSystem,
    path: string,
    options?: ReadOptions,
  ): Promise<{ stat: Stat; body: AsyncIterable<Uint8Array> }> {
    return reading.read(this, fs, path, options);
  }

  readFile(fs: ReadableFileSystem, path: string, options?: { signal?: AbortSignal }): Promise<Uint8Array> {
    return reading.readFile(this, fs, path, options);
  }

  placement(fs: ReadableFileSystem, path: string): Promise<ChunkPlacement[]> {
    return reading.placement(this, fs, path);
  }

  copyFile(
    fromFs: ReadableFileSystem,
    from: string,
    toFs: FileSystem,
    to: string,
    options?: { exclusive?: boolean; signal?: AbortSignal },
  ): Promise<Stat> {
    return copyFile(this, fromFs, from, toFs, to, options);
  }
}
