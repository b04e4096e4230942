/**
 * Volumes as records (`volume` / `<name>` items): add, list, drain, remove. The data plane and
 * placement reach the volumes through a {@link VolumeSet} that reads these records (cached
 * briefly), so a volume added on one process is used by every other one without a restart.
 *
 * Lifecycle: `add` (active) → `drain` (never chosen again; placement moves every instance off
 * while reads keep using it) → `remove` (refused while the volume still holds a chunk object or an
 * objective names it).
 */
import { StrataError } from "../errors.ts";
import type { MetadataStore, Value } from "../metadata/port.ts";
import { parseObjectives } from "../objectives/language.ts";
import type { VolumeRegistry } from "../volume/registry.ts";
import {
  checkVolumeName,
  decodeVolume,
  objectivePk,
  VOLUME_PK,
  type VolumeRecord,
  volumeItem,
  volumeKey,
} from "./placement-items.ts";

/**
 * What placement needs of the volume registry (core/volume/registry.ts, over these records):
 * `list` every record (active and draining, cached briefly), `volume(name)` its ready Volume
 * (ENOENT without a record), `invalidate` after a change made by this process.
 */
export type VolumeSet = Pick<VolumeRegistry<VolumeRecord>, "list" | "volume" | "invalidate">;

/** Every volume record (one query per page of the `volume` partition). */
export async function listVolumeRecords(store: MetadataStore): Promise<VolumeRecord[]> {
  const out: VolumeRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.query(VOLUME_PK, { cursor });
    out.push(...page.items.map(decodeVolume));
    cursor = page.cursor;
  } while (cursor !== undefined);
  return out;
}

export interface VolumeSpec {
  name: string;
  kind: string;
  config?: Record<string, Value>;
  site?: string;
  cloud?: string;
  class?: string;
  cost?: number;
}

const KINDS = ["local", "s3", "azure", "gcs"];

function checkSpec(spec: VolumeSpec): void {
  checkVolumeName(spec.name);
  const bad = (message: string, field: string) =>
    new StrataError("EINVAL", `volume \`${spec.name}\`: ${message}`, {
      details: { volume: spec.name, field },
    });
  if (!KINDS.includes(spec.kind))
    throw bad(`kind ${JSON.stringify(spec.kind)} is unknown; use ${KINDS.join(", ")}`, "kind");
  if (
    spec.config !== undefined &&
    (typeof spec.config !== "object" || spec.config === null || Array.isArray(spec.config))
  )
    throw bad("config must be an object of driver settings", "config");
  for (const k of ["site", "cloud", "class"] as const)
    if (spec[k] !== undefined && (typeof spec[k] !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(spec[k]!)))
      throw bad(`${k} must be 1-64 of A-Z a-z 0-9 . _ -`, k);
  if (
    spec.cost !== undefined &&
    (typeof spec.cost !== "number" || !Number.isFinite(spec.cost) || spec.cost < 0)
  )
    throw bad("cost must be a number ≥ 0", "cost");
}

export interface VolumeAdminOptions {
  store: MetadataStore;
  clock?: () => number;
  /** Told after every change, so this process's caches see it at once. */
  onChange?: () => void;
  /** Chunk objects on a volume (for `remove`): the first few keys under `chunks/`, [] when empty. */
  chunkObjects: (name: string) => Promise<string[]>;
  /** PFS names (objectives are stored per PFS). */
  listPfs: () => Promise<string[]>;
}

export class VolumeAdmin {
  private readonly clock: () => number;
  constructor(private readonly options: VolumeAdminOptions) {
    this.clock = options.clock ?? Date.now;
  }

  /**
   * Register a volume. Idempotent: the same spec again is a no-op (returns the record); a
   * different spec for an existing name is EEXIST (remove it first, or drain and re-add).
   */
  async add(spec: VolumeSpec): Promise<VolumeRecord> {
    checkSpec(spec);
    const now = this.clock();
    const record: VolumeRecord = {
      name: spec.name,
      kind: spec.kind,
      config: spec.config ?? {},
      cost: spec.cost ?? 1,
      state: "active",
      created: now,
      time: now,
    };
    for (const k of ["site", "cloud", "class"] as const) if (spec[k] !== undefined) record[k] = spec[k];
    try {
      await this.options.store.put(volumeItem(record), { condition: { op: "notExists" } });
    } catch (err) {
      if (!(err instanceof StrataError) || err.code !== "ECONFLICT") throw err;
      const existing = decodeVolume(err.details.item as never);
      if (sameSpec(existing, record)) return existing;
      throw new StrataError(
        "EEXIST",
        `volume \`${spec.name}\` already exists with other settings; remove it first (or pick another name)`,
        { details: { volume: spec.name, existing: describe(existing) } },
      );
    }
    this.options.onChange?.();
    return record;
  }

  list(): Promise<VolumeRecord[]> {
    return listVolumeRecords(this.options.store);
  }

  async get(name: string): Promise<VolumeRecord> {
    checkVolumeName(name);
    const item = await this.options.store.get(volumeKey(name));
    if (!item)
      throw new StrataError(
        "ENOENT",
        `volume \`${name}\` does not exist; \`volume.list\` shows the volumes`,
        {
          details: { volume: name },
        },
      );
    return decodeVolume(item);
  }

  /** Mark draining: never chosen again; the caller then runs placement over everything (orchestrator). */
  async drain(name: string): Promise<VolumeRecord> {
    const record = await this.get(name);
    if (record.state === "draining") return record;
    const time = this.clock();
    await this.options.store.update(
      volumeKey(name),
      { set: { state: "draining", time } },
      { condition: { op: "exists" } },
    );
    this.options.onChange?.();
    // The record as stored (with its new `time`): what a repeated drain answers too.
    return { ...record, state: "draining", time };
  }

  /**
   * Delete the record. Refused (ENOTEMPTY) while the volume holds any chunk object, and
   * (ECONFLICT) while an objective names it with `volume:<name>` or it is still active.
   */
  async remove(name: string): Promise<void> {
    const record = await this.get(name);
    if (record.state !== "draining")
      throw new StrataError(
        "ECONFLICT",
        `volume \`${name}\` is active; drain it first (volume.drain), then remove it`,
        {
          details: { volume: name, state: record.state },
        },
      );
    const naming = await this.objectivesNaming(name);
    if (naming.length > 0)
      throw new StrataError(
        "ECONFLICT",
        `volume \`${name}\` is named by ${naming.length} objective(s); change them first (${naming
          .slice(0, 3)
          .map((o) => `${o.pfs} ino ${o.ino} at ${o.path}`)
          .join(", ")})`,
        { details: { volume: name, objectives: naming.slice(0, 10) } },
      );
    const left = await this.options.chunkObjects(name);
    if (left.length > 0)
      throw new StrataError(
        "ENOTEMPTY",
        `volume \`${name}\` still holds chunk objects (e.g. ${left[0]}); wait for the drain to finish (placement.get, or run the sweeper), then retry`,
        { details: { volume: name, keys: left.slice(0, 10) } },
      );
    await this.options.store.delete(volumeKey(name), {
      condition: { op: "eq", attr: "state", value: "draining" },
    });
    this.options.onChange?.();
  }

  private async objectivesNaming(name: string): Promise<Array<{ pfs: string; ino: string; path: string }>> {
    const out: Array<{ pfs: string; ino: string; path: string }> = [];
    for (const pfs of await this.options.listPfs()) {
      let cursor: string | undefined;
      do {
        const page = await this.options.store.query(objectivePk(pfs), { cursor });
        for (const item of page.items) {
          const set = parseObjectives(String(item.text));
          const names = set.statements.some((s) =>
            s.action.on.terms.some(
              (t) => t.key === "volume" && "literal" in t.value && t.value.literal === name,
            ),
          );
          if (names) out.push({ pfs, ino: item.sk, path: String(item.path) });
        }
        cursor = page.cursor;
      } while (cursor !== undefined);
    }
    return out;
  }
}

function sameSpec(a: VolumeRecord, b: VolumeRecord): boolean {
  return stable(describe(a)) === stable(describe(b));
}

/** JSON with sorted keys (stores may return an item's map attributes in another order). */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(",")}]`;
  if (v !== null && typeof v === "object")
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

function describe(r: VolumeRecord) {
  return { kind: r.kind, config: r.config, site: r.site, cloud: r.cloud, class: r.class, cost: r.cost ?? 1 };
}
