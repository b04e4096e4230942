/**
 * File bytes for mirrors and backups. A mirror keeps its own copies: every chunk a streamed
 * version references is put on the mirror's own volumes (create-only, with its size and CRC32C,
 * so a wrong body stores nothing) and recorded as an instance there (`chunk#<sha>` /
 * `inst#<volume>`, docs/data.md) before the version that references it is applied — all through
 * the chunk lifecycle (core/data/chunks.ts): an intent of the mirror PFS protects the chunks from
 * before their instances are looked at until the apply commit.
 *
 * In one deployment instances are shared: a chunk already `present` on a target volume (because
 * the source's files live there, or another mirror put it there) costs no copy — the mirror
 * shares it by reference, and its own objectives decide extra instances.
 */

import { groupsOf } from "../batches.ts";
import { chunkRefsOf, instanceKey } from "../data/chunk-items.ts";
import { ensureInstance, Intent, readBest } from "../data/chunks.ts";
import { strataError } from "../errors.ts";
import type { Item, MetadataStore } from "../metadata/port.ts";
import type { Namespace } from "../namespace/api.ts";
import type { VolumeRegistry } from "../volume/registry.ts";
import type { Volume } from "../volume/volume.ts";
import { absolutePk, type StreamRecord } from "./format.ts";
import type { ChunkRef } from "./port.ts";
import { engineOf } from "./stream.ts";

/** A chunk's bytes from the best copy that has them right, on the volumes now (the chunk lifecycle's `readBest`). */
export async function readChunk(
  store: MetadataStore,
  volumes: VolumeRegistry,
  ref: ChunkRef,
): Promise<Uint8Array> {
  return readBest(store, volumes, ref);
}

/** Chunks the version records of a page reference, each naming the record (`from`) that references it. */
export function recordChunks(records: readonly StreamRecord[]): ChunkRef[] {
  return records
    .filter((r) => r.pk.startsWith("ino#"))
    .flatMap((r) => chunkRefsOf(r.item).map((ref) => ({ ...ref, from: { pk: r.pk, sk: r.sk } })));
}

/**
 * True when the stored record `ref.from` of `pfs` references the chunk with `ref`'s size and CRC
 * (one read). The answer is the same for a chunk nobody holds and one only others reference.
 */
export async function chunkReferenced(ns: Namespace, pfs: string, ref: ChunkRef): Promise<boolean> {
  if (!ref.from?.pk.startsWith("ino#")) return false;
  const engine = engineOf(ns);
  const ctx = await engine.context(pfs);
  let pk: string;
  try {
    pk = absolutePk(ref.from.pk, ctx.id);
  } catch {
    return false;
  }
  const item = await engine.store.get({ pk, sk: ref.from.sk });
  if (!item) return false;
  return chunkRefsOf(item).some(
    (c) => c.chunk === ref.chunk && c.size === ref.size && c.crc32c === ref.crc32c,
  );
}

export interface ChunkTarget {
  store: MetadataStore;
  /** THE volume registry of the target deployment. */
  volumes: VolumeRegistry;
  /** Volumes every chunk must have an instance on (the mirror's own volumes). */
  place: string[];
  clock: () => number;
  /**
   * The PFS whose commit will reference the chunks: an intent of it protects them (chunk
   * lifecycle rule 1) from before the first instance is looked at until `release()`.
   */
  pfs: string;
  /** The lease wait's pause (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
}

/** How long a mirror's chunk intent protects its chunks (a page's apply follows at once). */
const MIRROR_INTENT_TTL_MS = 60 * 60 * 1000;

/**
 * Make every chunk present on every `place` volume of the target, through the chunk lifecycle
 * (core/data/chunks.ts): one intent naming every chunk, then one BatchGetItem per 100
 * (chunk, volume) pairs, then per pair `ensureInstance` (a `deleting` one waited out, a present one
 * shared, else the bytes fetched once per chunk, put create-only and recorded conditionally).
 * Call `release()` after the commit that references the chunks (a failure before it leaves the
 * intent to expire, as for any write that never committed). Returns the chunks and bytes copied.
 */
export async function ensureChunks(
  target: ChunkTarget,
  refs: ChunkRef[],
  fetch: (ref: ChunkRef) => Promise<Uint8Array>,
): Promise<{
  copied: number;
  bytes: number;
  /** After a commit that references every chunk: the intent is deleted. */
  release: () => Promise<void>;
  /** After commits that may reference only some (or none): vacuum decides each chunk again. */
  expire: () => Promise<void>;
}> {
  const unique = [...new Map(refs.map((r) => [r.chunk, r])).values()];
  const pairs = unique.flatMap((ref) => target.place.map((volume) => ({ ref, volume })));
  if (pairs.length === 0) return { copied: 0, bytes: 0, release: async () => {}, expire: async () => {} };
  const volumes = new Map<string, Volume>(); // the place volumes now, for this step
  for (const volume of target.place) {
    const handle = await target.volumes.lookup(volume);
    if (!handle)
      throw strataError("EINVAL", `mirror target volume ${volume} is not configured here`, { volume });
    volumes.set(volume, handle.volume);
  }
  const intent = new Intent({
    store: target.store,
    pfs: target.pfs,
    path: "(mirror chunks)",
    volumes: target.place,
    ttlMs: MIRROR_INTENT_TTL_MS,
    clock: target.clock,
  });
  const expire = () => intent.expire();
  await intent.protect(unique.map((r) => r.chunk));
  const have: Array<Item | undefined> = [];
  const keys = pairs.map((p) => instanceKey(p.ref.chunk, p.volume));
  for (const group of groupsOf(keys)) have.push(...(await target.store.batchGet(group)));
  let copied = 0;
  let bytes = 0;
  let body: { chunk: string; bytes: Uint8Array } | undefined; // one chunk's bytes at a time
  for (const [i, { ref, volume }] of pairs.entries()) {
    const done = await ensureInstance(
      target.store,
      { name: volume, volume: volumes.get(volume)! },
      ref,
      async () => {
        if (body?.chunk !== ref.chunk) body = { chunk: ref.chunk, bytes: await fetch(ref) };
        return body.bytes;
      },
      { clock: target.clock, ...(target.sleep ? { sleep: target.sleep } : {}), known: have[i] ?? null },
    );
    if (done === "reused") continue;
    copied++;
    if (done === "uploaded") bytes += ref.size;
  }
  await intent.beforeCommit();
  return { copied, bytes, release: () => intent.remove(), expire };
}
