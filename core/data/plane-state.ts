/**
 * What the data plane's write, intent and read halves share (core/data/write.ts, intents.ts,
 * read.ts): the plane's state as they see it, the per-call context and the small helpers on it.
 * The plane itself (core/data/plane.ts) implements `PlaneState`.
 */

import { isStrataError, StrataError } from "../errors.ts";
import type { MetadataStore } from "../metadata/port.ts";
import type { FileContent } from "../namespace/api.ts";
import type { VolumeEntry } from "../volume/registry.ts";
import type { BadInstanceReport, InstanceState, ReadableFileSystem, Sha256, Stat } from "./api.ts";
import type { Extent } from "./chunker.ts";
import type { ReadHealth } from "./health.ts";

export const MiB = 1024 * 1024;

export const DATA_DEFAULTS = {
  chunkSize: 8 * MiB,
  inlineThreshold: 4096,
  parallelism: 4,
  intentTtlMs: 60 * 60 * 1000,
  healthWindowMs: 60 * 1000,
  configTtlMs: 30 * 1000,
  appendAttempts: 16,
  /** The namespace engine's limit on extents per version: the largest file is this × chunkSize. */
  maxChunksPerFile: 1000,
} as const;

export type { Extent } from "./chunker.ts";

/** A volume as the reader weighs it: the registry's entry (core/volume/registry.ts). */
export type { VolumeEntry };

/** The plane's state and configuration as its write, intent and read halves use them. */
export interface PlaneState {
  readonly chunkSize: number;
  readonly inlineThreshold: number;
  readonly store: MetadataStore;
  /** The volumes this plane reaches now (static + the volume source's), by name. */
  readonly volumes: Map<string, Candidate["entry"]>;
  readonly site: string | undefined;
  readonly parallelism: number;
  readonly sha256: Sha256;
  readonly onBadInstance: ((report: BadInstanceReport) => void) | undefined;
  readonly intentTtlMs: number;
  readonly clock: () => number;
  readonly sleep: ((ms: number) => Promise<void>) | undefined;
  readonly appendAttempts: number;
  /** Recent read failures per volume, for the health tie-break. */
  readonly health: ReadHealth;
  /** Merge the dynamic volume set in, when its cache expired (one load at a time). */
  refreshVolumes(): Promise<void>;
  /** The volumes a new file's chunks go to (the placement hook, else the PFS's default volume). */
  targetVolumes(call: Call): Promise<string[]>;
}

export interface Candidate {
  name: string;
  entry: Required<Pick<VolumeEntry, "cost">> & VolumeEntry;
  state: InstanceState | undefined;
}

/** Per-call context: where errors point and what cancels. */
export interface Call {
  pfs: string;
  path: string;
  signal: AbortSignal | undefined;
}

/** Attach the path (and PFS) to an error on its way out; turn an abort into EABORTED. */
export function located(err: unknown, call: Call): unknown {
  if (call.signal?.aborted && !isStrataError(err, "EABORTED")) {
    return new StrataError("EABORTED", `${call.pfs}:${call.path}: the caller aborted`, {
      cause: call.signal.reason,
      details: { path: call.path, pfs: call.pfs },
    });
  }
  if (err instanceof StrataError) {
    if (err.details.path === undefined) err.details.path = call.path;
    if (err.details.pfs === undefined) err.details.pfs = call.pfs;
    return err;
  }
  return new StrataError("EIO", `${call.pfs}:${call.path}: ${String(err)}`, {
    cause: err,
    details: { path: call.path, pfs: call.pfs },
  });
}

export function checkAbort(call: Call): void {
  if (call.signal?.aborted) throw located(call.signal.reason, call);
}

export async function statOrUndefined(fs: ReadableFileSystem, path: string): Promise<Stat | undefined> {
  try {
    return await fs.stat(path);
  } catch (err) {
    if (isStrataError(err, "ENOENT")) return undefined;
    throw err;
  }
}

export function fileContent(stat: Stat, call: Call): FileContent {
  if (stat.type === "dir")
    throw new StrataError("EISDIR", `${call.pfs}:${call.path} is a directory`, {
      details: { path: call.path, pfs: call.pfs },
    });
  return stat.content ?? { size: stat.size };
}

export function sortedExtents(content: FileContent): Extent[] {
  return [...(content.extents ?? [])].sort((a, b) => a.offset - b.offset);
}
