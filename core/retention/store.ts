/**
 * Where retention lives in the MetadataStore, and the as-of hook the namespace engine calls.
 *
 * | pk            | sk          | attributes                                  |
 * |---------------|-------------|---------------------------------------------|
 * | `ret#<pfs id>`| `policy`    | `text` (the normalised policy), `time`      |
 * | `ret#<pfs id>`| `watermark` | `exactFrom`, `points`, `time`, `seq`        |
 *
 * Both carry the namespace records' CRC (seal/verify).
 */
import { strataError } from "../errors.ts";
import type { Key, MetadataStore } from "../metadata/port.ts";
import type { Tid } from "../namespace/api.ts";
import { registryKey, seal, verify } from "../namespace/records.ts";
import { parsePolicy, type RetentionPolicy, snapToComplete, type Watermark } from "./policy.ts";

export const policyKey = (pfsId: string): Key => ({ pk: `ret#${pfsId}`, sk: "policy" });
export const watermarkKey = (pfsId: string): Key => ({ pk: `ret#${pfsId}`, sk: "watermark" });

/** The PFS's id from the registry (ENOENT when missing). */
export async function pfsId(store: MetadataStore, name: string): Promise<{ id: string; ctid: Tid }> {
  if (typeof name !== "string" || name === "")
    throw strataError("EINVAL", "a PFS name is required", { pfs: name });
  const item = verify(await store.get(registryKey(name)), name);
  if (!item) throw strataError("ENOENT", `PFS ${name} does not exist`, { pfs: name });
  return { id: String(item.id), ctid: String(item.ctid) };
}

export async function readPolicy(store: MetadataStore, id: string): Promise<RetentionPolicy | undefined> {
  const item = verify(await store.get(policyKey(id)));
  return item ? parsePolicy(String(item.text)) : undefined;
}

/** Set (or with "" clear: keep everything) the policy of a PFS. EINVAL before anything is written. */
export async function setRetention(
  store: MetadataStore,
  pfs: string,
  text: string,
  clock: () => number = Date.now,
): Promise<{ pfs: string; policy: string }> {
  const policy = parsePolicy(text);
  const { id } = await pfsId(store, pfs);
  await store.put(seal({ ...policyKey(id), text: policy.text, time: clock() }));
  return { pfs, policy: policy.text };
}

export interface RetentionInfo {
  pfs: string;
  /** "" = keep everything. */
  policy: string;
  /** What vacuum has pruned: complete points (absent = nothing pruned yet). */
  watermark?: { exactFrom: Tid; points: Tid[]; time: string; oldest: Tid };
}

export async function getRetention(store: MetadataStore, pfs: string): Promise<RetentionInfo> {
  const { id } = await pfsId(store, pfs);
  const policy = await readPolicy(store, id);
  const w = await readWatermark(store, id);
  return {
    pfs,
    policy: policy?.text ?? "",
    ...(w
      ? {
          watermark: {
            exactFrom: w.exactFrom,
            points: w.points,
            time: new Date(w.time).toISOString(),
            oldest: w.points[0] ?? w.exactFrom,
          },
        }
      : {}),
  };
}

export async function readWatermark(store: MetadataStore, id: string): Promise<Watermark | undefined> {
  const item = verify(await store.get(watermarkKey(id)));
  if (!item) return undefined;
  return {
    exactFrom: String(item.exactFrom),
    points: (item.points as string[]).map(String),
    time: Number(item.time),
    seq: Number(item.seq),
  };
}

/** Advance the watermark; ECONFLICT when another vacuum advanced it first (nothing written). */
export async function writeWatermark(
  store: MetadataStore,
  id: string,
  prev: Watermark | undefined,
  next: Watermark,
): Promise<void> {
  await store.put(
    seal({
      ...watermarkKey(id),
      exactFrom: next.exactFrom,
      points: next.points,
      time: next.time,
      seq: next.seq,
    }),
    { condition: prev ? { op: "eq", attr: "seq", value: prev.seq } : { op: "notExists" } },
  );
}

/**
 * The engine's as-of hook: snap a read TID to a complete point or fail EPRUNED. Watermarks are
 * cached per PFS for `ttlMs` (default 5 s); vacuum waits longer than that (`readerGraceMs`)
 * between advancing a watermark and deleting, so a cached one is never unsafe.
 */
export class RetentionFloor {
  private readonly cache = new Map<string, { w: Watermark | undefined; until: number }>();

  constructor(
    private readonly store: MetadataStore,
    private readonly clock: () => number,
    private readonly ttlMs = RETENTION_CACHE_MS,
  ) {}

  async snap(pfs: { id: string; name: string }, tid: Tid): Promise<Tid> {
    const now = this.clock();
    let entry = this.cache.get(pfs.id);
    if (!entry || entry.until <= now) {
      entry = { w: await readWatermark(this.store, pfs.id), until: now + this.ttlMs };
      this.cache.set(pfs.id, entry);
    }
    return snapToComplete(entry.w, tid, pfs.name);
  }

  /** Drop the cached watermark of a PFS (a fresh read showed it stale). */
  forget(pfsId: string): void {
    this.cache.delete(pfsId);
  }
}

export const RETENTION_CACHE_MS = 5_000;
