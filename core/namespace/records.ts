/**
 * Record layout of the namespace in one MetadataStore table (docs/namespace.md, "Key layout").
 *
 * | pk                     | sk                       | record                                   |
 * |------------------------|--------------------------|------------------------------------------|
 * | `pfs`                  | `<name>`                 | PFS registry: id, root ino, created tid  |
 * | `epoch#<pfs>#<nn>`     | `closed`                 | closed-TID shard nn (one partition each) |
 * | `alloc`                | `site#<site hex>`        | object-id lease counter of one site      |
 * | `ino#<pfs>#<ino>`      | `v#<inverted ctid>`      | one version of an inode (newest first)   |
 * | `ino#<pfs>#<ino>`      | `ctl`                    | live directory control: parent, name, rm |
 * | `dir#<pfs>#<dir>`      | `<name>`                 | live directory entry                     |
 * | `dh#<pfs>#<dir>`       | `<name>/<inverted ctid>` | directory entry history (ctid, dtid)     |
 * | `chg#<pfs>#<shard>`    | `<tid>#<uniq>`           | change index: the keys one commit wrote  |
 * | `snap#<pfs>`           | `<name>`                 | named snapshot → tid                     |
 *
 * Every record except the counters (epoch shards, allocator) carries `crc`: CRC32C over a
 * canonical encoding of all its attributes except `crc` and `rm` (the transient rmdir lease),
 * checked on every read (ECORRUPT).
 */
import { crc32c } from "../crc32c.ts";
import { strataError } from "../errors.ts";
import type { Item, Key, Value } from "../metadata/port.ts";
import type { ObjectId, Tid } from "./api.ts";
import { invertTid } from "./tid.ts";

export const REGISTRY_PK = "pfs";
export const ALLOC_PK = "alloc";
export const VERSION_PREFIX = "v#";
/** Sorts after every `v#<16 hex>` and every `<name>/<16 hex>` suffix. */
export const HIGH = "g";

export const registryKey = (name: string): Key => ({ pk: REGISTRY_PK, sk: name });
/** One partition per shard: DynamoDB's per-partition throughput applies to each separately. */
export const epochKey = (pfs: string, shard: number): Key => ({
  pk: `epoch#${pfs}#${shard.toString().padStart(2, "0")}`,
  sk: "closed",
});
export const allocKey = (site: number): Key => ({
  pk: ALLOC_PK,
  sk: `site#${site.toString(16).padStart(4, "0")}`,
});
export const inoPk = (pfs: string, ino: ObjectId) => `ino#${pfs}#${ino}`;
export const versionKey = (pfs: string, ino: ObjectId, ctid: Tid): Key => ({
  pk: inoPk(pfs, ino),
  sk: VERSION_PREFIX + invertTid(ctid),
});
export const ctlKey = (pfs: string, ino: ObjectId): Key => ({ pk: inoPk(pfs, ino), sk: "ctl" });
export const dirPk = (pfs: string, dir: ObjectId) => `dir#${pfs}#${dir}`;
export const entryKey = (pfs: string, dir: ObjectId, name: string): Key => ({
  pk: dirPk(pfs, dir),
  sk: name,
});
export const historyPk = (pfs: string, dir: ObjectId) => `dh#${pfs}#${dir}`;
export const historyKey = (pfs: string, dir: ObjectId, name: string, ctid: Tid): Key => ({
  pk: historyPk(pfs, dir),
  sk: `${name}/${invertTid(ctid)}`,
});
export const changePk = (pfs: string, shard: number) => `chg#${pfs}#${shard}`;
export const snapshotPk = (pfs: string) => `snap#${pfs}`;

const EXCLUDED = new Set(["crc", "rm"]);

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** A deterministic encoding: keys sorted, byte strings tagged, numbers in JS's shortest form. */
export function canonical(value: Value): string {
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value instanceof Uint8Array) return `b"${hex(value)}"`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k]!)}`).join(",")}}`;
}

const encoder = new TextEncoder();

export function recordCrc(item: Item): number {
  const body: Record<string, Value> = {};
  for (const [k, v] of Object.entries(item)) if (!EXCLUDED.has(k) && v !== undefined) body[k] = v;
  return crc32c(encoder.encode(canonical(body)));
}

/** The item with its `crc` set. */
export function seal<T extends Item>(item: T): T {
  return { ...item, crc: recordCrc(item) };
}

/** Throws ECORRUPT unless the record's CRC matches; returns it. */
export function verify<T extends Item | undefined>(item: T, pfs?: string): T {
  if (item === undefined) return item;
  const stored = item.crc;
  if (typeof stored !== "number" || stored !== recordCrc(item))
    throw strataError(
      "ECORRUPT",
      `metadata record ${item.pk} / ${item.sk} failed its CRC check; restore it from a mirror or backup`,
      { pk: item.pk, sk: item.sk, pfs },
    );
  return item;
}
