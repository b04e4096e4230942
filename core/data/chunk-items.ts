/**
 * The data plane's items in the MetadataStore (layout documented in docs/data.md):
 *
 *   pk `chunk#<sha256>`   sk `inst#<volume>`  one instance of a chunk: { state, size, crc32c, time }
 *   pk `intent#<pfs>`     sk `<id>`           an upload in progress: { volume(s), chunks, created, expiresAt, path }
 *   pk `intent#`          sk `<id>`           the same for work of no PFS (scrub repair: `DEPLOYMENT_INTENTS`)
 *   pk `datacfg#<pfs>`    sk `cfg`            per-PFS data settings: { defaultVolume }
 *
 * None of these is versioned: instances say where bytes are *now* (moving data never makes a new
 * file version); intents are deleted after their commit; the config is a plain setting.
 */
import type { Item, Key } from "../metadata/port.ts";
import { ttlAttribute } from "../metadata/table.ts";
import type { InstanceState } from "./api.ts";

export const chunkPk = (sha: string): string => `chunk#${sha}`;
export const instanceSk = (volume: string): string => `inst#${volume}`;
export const instanceKey = (sha: string, volume: string): Key => ({
  pk: chunkPk(sha),
  sk: instanceSk(volume),
});
export const intentPk = (pfs: string): string => `intent#${pfs}`;
/**
 * The `pfs` of deployment-wide intents (pk `intent#`): work that writes chunk objects for no PFS
 * (scrub repair). "" is never a PFS name (names are 1..255 bytes), so it cannot collide.
 */
export const DEPLOYMENT_INTENTS = "";
export const configKey = (pfs: string): Key => ({ pk: `datacfg#${pfs}`, sk: "cfg" });

/**
 * THE reading of a version record's (or a Stat's) `content.extents`: the chunks it references,
 * once each, in extent order, with their size and CRC32C. Inline content and records without
 * content reference none. Used by vacuum, scrub, fsck, mirroring and placement.
 */
export function chunkRefsOf(
  version: object | undefined,
): Array<{ chunk: string; size: number; crc32c: number }> {
  const content = (version as { content?: { extents?: unknown } } | undefined)?.content;
  if (!content || !Array.isArray(content.extents)) return [];
  const seen = new Map<string, { chunk: string; size: number; crc32c: number }>();
  for (const e of content.extents as Array<{ chunk?: unknown; length?: unknown; crc32c?: unknown }>) {
    const chunk = String(e.chunk);
    if (!seen.has(chunk)) seen.set(chunk, { chunk, size: Number(e.length), crc32c: Number(e.crc32c) });
  }
  return [...seen.values()];
}

/** Object key of a chunk on every volume: `chunks/<first two hex digits>/<sha256>`. */
export const chunkObjectKey = (sha: string): string => `chunks/${sha.slice(0, 2)}/${sha}`;

export interface InstanceRecord {
  chunk: string;
  volume: string;
  state: InstanceState;
  size: number;
  crc32c: number;
  /** When the state was last set (ms since epoch). */
  time: number;
}

export function instanceItem(r: InstanceRecord): Item {
  return {
    ...instanceKey(r.chunk, r.volume),
    state: r.state,
    size: r.size,
    crc32c: r.crc32c,
    time: r.time,
  };
}

export function decodeInstance(item: Item): InstanceRecord {
  return {
    chunk: item.pk.slice("chunk#".length),
    volume: item.sk.slice("inst#".length),
    state: String(item.state) as InstanceState,
    size: Number(item.size),
    crc32c: Number(item.crc32c),
    time: Number(item.time),
  };
}

export interface IntentRecord {
  pfs: string;
  id: string;
  path: string;
  /** Volumes the chunks go to. */
  volumes: string[];
  /** Every chunk this write stores or reuses, announced before its upload. */
  chunks: string[];
  created: number;
  /** After this time the write gives up (it checks before committing) and vacuum may reclaim. */
  expiresAt: number;
}

/**
 * How long after its expiry an intent may be deleted by the table's TTL: vacuum must read an
 * expired intent to collect the chunks of a write that never committed (it deletes the intent
 * itself then), so the TTL only sweeps intents of a deployment whose vacuum stopped running.
 */
export const INTENT_TTL_GRACE_MS = 30 * 24 * 3600_000;

export function intentItem(r: IntentRecord): Item {
  return {
    pk: intentPk(r.pfs),
    sk: r.id,
    path: r.path,
    volumes: r.volumes,
    chunks: r.chunks,
    created: r.created,
    expiresAt: r.expiresAt,
    ...ttlAttribute(r.expiresAt + INTENT_TTL_GRACE_MS),
  };
}

export function decodeIntent(item: Item): IntentRecord {
  return {
    pfs: item.pk.slice("intent#".length),
    id: item.sk,
    path: String(item.path),
    volumes: (item.volumes as string[]).map(String),
    chunks: (item.chunks as string[]).map(String),
    created: Number(item.created),
    expiresAt: Number(item.expiresAt),
  };
}
