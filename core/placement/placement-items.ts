/**
 * Placement's items in the MetadataStore (layout in docs/placement.md). None is versioned: they
 * describe configuration and where bytes are now, not file history.
 *
 *   pk `volume`              sk `<name>`                      a volume: kind, driver config, site, cloud, class, cost, state
 *   pk `objective#<pfs>`     sk `<ino>`                       objectives attached to an inode (PFS root, directory or file)
 *   pk `placement#<pfs>`     sk `<ino>`                       last placement run of a file: status, desired, error
 *   pk `chunk#<sha>`         sk `want#<volume>#<pfs>#<ino>`   a file wants this chunk on this volume (trim guard)
 *   pk `placement-cursor`    sk `feed#<pfs id>#<shard>` / `sweep#<pfs>`   resumable cursors
 *
 * Objectives are keyed by inode id, not path: a rename keeps them (a directory moved elsewhere
 * takes its objectives along), and a deleted-and-recreated name starts without any.
 */
import { StrataError } from "../errors.ts";
import type { Item, Key, Value } from "../metadata/port.ts";
import type { VolumeFacts, VolumeState } from "../objectives/planner.ts";

export const VOLUME_PK = "volume";
export const volumeKey = (name: string): Key => ({ pk: VOLUME_PK, sk: name });
export const objectivePk = (pfs: string) => `objective#${pfs}`;
export const objectiveKey = (pfs: string, ino: string): Key => ({ pk: objectivePk(pfs), sk: ino });
export const placementPk = (pfs: string) => `placement#${pfs}`;
export const placementKey = (pfs: string, ino: string): Key => ({ pk: placementPk(pfs), sk: ino });
export const wantPrefix = (volume: string) => `want#${volume}#`;
export const wantKey = (sha: string, volume: string, pfs: string, ino: string): Key => ({
  pk: `chunk#${sha}`,
  sk: `${wantPrefix(volume)}${pfs}#${ino}`,
});
export const CURSOR_PK = "placement-cursor";
export const feedCursorKey = (pfsId: string, shard: number): Key => ({
  pk: CURSOR_PK,
  sk: `feed#${pfsId}#${shard}`,
});
export const sweepCursorKey = (pfs: string): Key => ({ pk: CURSOR_PK, sk: `sweep#${pfs}` });

/** A volume as a record: what the planner weighs plus how to reach it. */
export interface VolumeRecord extends VolumeFacts {
  /** Driver kind: local, s3, azure, gcs (the adapter registry builds the driver). */
  kind: string;
  /** Driver settings of that kind (adapters/data/volumes.ts `VolumeConfig` without kind/site/cost). */
  config: Record<string, Value>;
  created: number;
  time: number;
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function checkVolumeName(name: unknown): string {
  if (typeof name !== "string" || !NAME.test(name))
    throw new StrataError(
      "EINVAL",
      `volume name ${JSON.stringify(name)} is invalid: use 1-63 of a-z 0-9 . _ - (starting with a letter or digit)`,
      { details: { volume: name } },
    );
  return name;
}

export function volumeItem(r: VolumeRecord): Item {
  const item: Item = {
    ...volumeKey(r.name),
    kind: r.kind,
    config: r.config,
    cost: r.cost ?? 1,
    state: r.state,
    created: r.created,
    time: r.time,
  };
  for (const k of ["site", "cloud", "class"] as const) if (r[k] !== undefined) item[k] = r[k];
  return item;
}

export function decodeVolume(item: Item): VolumeRecord {
  const r: VolumeRecord = {
    name: item.sk,
    kind: String(item.kind),
    config: (item.config ?? {}) as Record<string, Value>,
    cost: Number(item.cost ?? 1),
    state: (item.state === "draining" ? "draining" : "active") as VolumeState,
    created: Number(item.created ?? 0),
    time: Number(item.time ?? 0),
  };
  for (const k of ["site", "cloud", "class"] as const)
    if (typeof item[k] === "string") r[k] = item[k] as string;
  return r;
}

export type PlacementStatus = "placing" | "placed" | "failed" | "unsatisfied";

/** The last placement run of one file, for `placement.get` and the trim guard. */
export interface PlacementRecord {
  pfs: string;
  ino: string;
  path: string;
  status: PlacementStatus;
  /** The run that wrote this record (a newer run supersedes an older one's trim). */
  run: string;
  desired: string[];
  /** When the desired set was fully committed. */
  placedAt?: number;
  /** Volumes holding instances beyond the desired set, not trimmed yet. */
  surplus: string[];
  error?: { code: string; message: string };
  failures: number;
  time: number;
}

export function placementItem(r: PlacementRecord): Item {
  const item: Item = {
    ...placementKey(r.pfs, r.ino),
    path: r.path,
    status: r.status,
    run: r.run,
    desired: r.desired,
    surplus: r.surplus,
    failures: r.failures,
    time: r.time,
  };
  if (r.placedAt !== undefined) item.placedAt = r.placedAt;
  if (r.error) item.error = r.error;
  return item;
}

export function decodePlacement(item: Item): PlacementRecord {
  const r: PlacementRecord = {
    pfs: item.pk.slice("placement#".length),
    ino: item.sk,
    path: String(item.path),
    status: String(item.status) as PlacementStatus,
    run: String(item.run ?? ""),
    desired: ((item.desired as Value[]) ?? []).map(String),
    surplus: ((item.surplus as Value[]) ?? []).map(String),
    failures: Number(item.failures ?? 0),
    time: Number(item.time ?? 0),
  };
  if (typeof item.placedAt === "number") r.placedAt = item.placedAt;
  if (item.error && typeof item.error === "object") {
    const e = item.error as Record<string, Value>;
    r.error = { code: String(e.code), message: String(e.message) };
  }
  return r;
}
