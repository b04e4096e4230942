/**
 * File bytes for mirrors and backups. A mirror keeps its own copies: every chunk a streamed
 * version references is put on the mirror's own volumes (create-only, with its size and CRC32C,
 * so a wrong body stores nothing) and recorded as an instance there (`chunk#<sha>` /
 * `inst#<volume>`, docs/data.md) before the version that references it is applied.
 *
 * In one deployment instances are shared: a chunk already `present` on a target volume (because
 * the source's files live there, or another mirror put it there) costs no copy — the mirror
 * shares it by reference, and its own objectives decide extra instances.
 */
import { crc32c } from "../crc32c.ts";
import { chunkObjectKey, chunkPk, decodeInstance, instanceItem, instanceKey } from "../data/records.ts";
import { isStrataError, strataError } from "../errors.ts";
import type { MetadataStore, Value } from "../metadata/port.ts";
import type { Namespace } from "../namespace/api.ts";
import type { Volume } from "../volume/volume.ts";
import { absolutePk, type StreamRecord } from "./format.ts";
import { engineOf } from "./stream.ts";
import type { ChunkRef } from "./transport.ts";

/** A chunk's bytes from any instance that has them right (present ones first, then every volume). */
export async function readChunk(
  store: MetadataStore,
  volumes: Record<string, Volume>,
  ref: ChunkRef,
): Promise<Uint8Array> {
  const page = await store.query(chunkPk(ref.chunk));
  const recorded = page.items.map(decodeInstance);
  const order = [
    ...recorded.filter((r) => r.state === "present").map((r) => r.volume),
    ...Object.keys(volumes),
  ].filter((v, i, all) => volumes[v] && all.indexOf(v) === i);
  let last: unknown;
  for (const name of order) {
    try {
      const bytes = await volumes[name]!.getBytes(chunkObjectKey(ref.chunk));
      if (bytes.length === ref.size && crc32c(bytes) === ref.crc32c) return bytes;
      last = strataError("ECORRUPT", `chunk ${ref.chunk} on volume ${name} has the wrong bytes`, {
        chunk: ref.chunk,
        volume: name,
      });
    } catch (err) {
      last = err;
    }
  }
  throw strataError(
    isStrataError(last, "ECORRUPT") ? "ECORRUPT" : "EUNAVAIL",
    `no readable instance of chunk ${ref.chunk} (tried ${order.join(", ") || "no volume"})`,
    { chunk: ref.chunk, tried: order },
    last,
  );
}

/** Chunks referenced by a version record's `content.extents`. */
export function chunksOf(item: Record<string, Value>): ChunkRef[] {
  const content = item.content as
    | { extents?: Array<{ chunk: string; length: number; crc32c: number }> }
    | undefined;
  if (!content || !Array.isArray(content.extents)) return [];
  return content.extents.map((e) => ({ chunk: e.chunk, size: e.length, crc32c: e.crc32c }));
}

/** Chunks the version records of a page reference, each naming the record (`from`) that references it. */
export function recordChunks(records: readonly StreamRecord[]): ChunkRef[] {
  return records
    .filter((r) => r.pk.startsWith("ino#"))
    .flatMap((r) => chunksOf(r.item).map((ref) => ({ ...ref, from: { pk: r.pk, sk: r.sk } })));
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
  return chunksOf(item).some((c) => c.chunk === ref.chunk && c.size === ref.size && c.crc32c === ref.crc32c);
}

export interface ChunkTarget {
  store: MetadataStore;
  volumes: Record<string, Volume>;
  /** Volumes every chunk must have an instance on (the mirror's own volumes). */
  place: string[];
  clock: () => number;
}

/**
 * Make every chunk present on every `place` volume of the target: one BatchGetItem per 100
 * (chunk, volume) pairs to find what is there, then for each missing one a read from the source,
 * a create-only put and an instance record. Returns the bytes copied.
 */
export async function ensureChunks(
  target: ChunkTarget,
  refs: ChunkRef[],
  fetch: (ref: ChunkRef) => Promise<Uint8Array>,
): Promise<{ copied: number; bytes: number }> {
  const unique = [...new Map(refs.map((r) => [r.chunk, r])).values()];
  const pairs = unique.flatMap((ref) => target.place.map((volume) => ({ ref, volume })));
  if (pairs.length === 0) return { copied: 0, bytes: 0 };
  const have = await target.store.batchGet(pairs.map((p) => instanceKey(p.ref.chunk, p.volume)));
  const missing = pairs.filter((_, i) => have[i]?.state !== "present");
  let bytes = 0;
  const fetched = new Map<string, Uint8Array>();
  for (const { ref, volume } of missing) {
    const v = target.volumes[volume];
    if (!v) throw strataError("EINVAL", `mirror target volume ${volume} is not configured here`, { volume });
    let body = fetched.get(ref.chunk);
    if (!body) {
      body = await fetch(ref);
      fetched.set(ref.chunk, body);
    }
    try {
      await v.put(chunkObjectKey(ref.chunk), body, { size: ref.size, crc32c: ref.crc32c, ifNoneMatch: true });
      bytes += ref.size;
    } catch (err) {
      // Content-addressed: an object already under that key with our size and CRC is this chunk.
      if (!isStrataError(err, "EEXIST")) throw err;
      const info = await v.head(chunkObjectKey(ref.chunk));
      if (info.size !== ref.size || info.crc32c !== ref.crc32c) {
        await v.put(chunkObjectKey(ref.chunk), body, { size: ref.size, crc32c: ref.crc32c });
        bytes += ref.size;
      }
    }
    await target.store.put(
      instanceItem({
        chunk: ref.chunk,
        volume,
        state: "present",
        size: ref.size,
        crc32c: ref.crc32c,
        time: target.clock(),
      }),
    );
  }
  return { copied: missing.length, bytes };
}
