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
 * | `mirror#<pfs>`         | `state`                  | a read-only mirror: source, sync TID     |
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
/** A mirror PFS's state (core/mirror): its source and `sync` — the TID up to which it applied the stream. */
export const mirrorKey = (pfs: string): Key => ({ pk: `mirror#${pfs}`, sk: "state" });

//
// A tagged, length-prefixed byte encoding, streamed into one reused buffer and checksummed with
// one CRC32C call (no intermediate strings). It is injective — two different records never encode
// alike (but -0 encodes as 0: the stores' JSON and decimal forms turn -0 into 0 anyway) — because every value starts with a type tag and every variable-length part (string,
// bytes, array, map) carries its length or count up front:
//
//   string  "s" u32(utf8 length) utf8      number  "n" f64 (big-endian; -0 as 0)
//   bytes   "b" u32(length) bytes          true/false/null  "t" / "f" / "z"
//   array   "a" u32(count) values…         map  "m" u32(count) (string key, value)… keys sorted
//
// A record is the map of its attributes without `crc`, `rm` and undefined ones. Keys sort by
// UTF-16 code units (any fixed order would do). Only the CRC is stored, so changing this encoding
// makes records sealed before the change fail verify (none were persisted before it).

const EXCLUDED_CRC = "crc";
const EXCLUDED_RM = "rm";

let buf = new Uint8Array(4096);
let view = new DataView(buf.buffer);
let pos = 0;

function ensure(extra: number): void {
  if (pos + extra <= buf.length) return;
  let size = buf.length * 2;
  while (size < pos + extra) size *= 2;
  const next = new Uint8Array(size);
  next.set(buf.subarray(0, pos));
  buf = next;
  view = new DataView(buf.buffer);
}

const encoder = new TextEncoder();

function putString(text: string): void {
  const n = text.length;
  // UTF-8 takes at most 3 bytes per UTF-16 code unit.
  ensure(5 + 3 * n);
  buf[pos] = 0x73; // "s"
  const lengthAt = pos + 1;
  let p = pos + 5;
  let i = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) break;
    buf[p++] = c;
  }
  if (i < n) p += encoder.encodeInto(text.slice(i), buf.subarray(p)).written;
  view.setUint32(lengthAt, p - lengthAt - 4);
  pos = p;
}

function keysOf(value: { [key: string]: Value }): string[] {
  const keys = Object.keys(value);
  // Insertion sort: records have ~20 keys, mostly in a few fixed orders.
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

function putCount(tag: number, count: number): void {
  ensure(5);
  buf[pos] = tag;
  view.setUint32(pos + 1, count);
  pos += 5;
}

function putValue(value: Value): void {
  if (typeof value === "string") {
    putString(value);
    return;
  }
  if (typeof value === "number") {
    ensure(9);
    buf[pos] = 0x6e; // "n"
    view.setFloat64(pos + 1, value === 0 ? 0 : value);
    pos += 9;
    return;
  }
  if (typeof value === "boolean" || value === null) {
    ensure(1);
    buf[pos++] = value === null ? 0x7a : value ? 0x74 : 0x66; // "z" / "t" / "f"
    return;
  }
  if (value instanceof Uint8Array) {
    putCount(0x62, value.length); // "b"
    ensure(value.length);
    buf.set(value, pos);
    pos += value.length;
    return;
  }
  if (Array.isArray(value)) {
    putCount(0x61, value.length); // "a"
    for (const v of value) putValue(v);
    return;
  }
  const keys = keysOf(value);
  putCount(0x6d, keys.length); // "m"
  for (const k of keys) {
    putString(k);
    putValue(value[k]!);
  }
}

/** CRC32C of the record's canonical encoding (all attributes but `crc`, `rm` and undefined ones). */
export function recordCrc(item: Item): number {
  pos = 0;
  const keys = keysOf(item);
  let count = 0;
  for (const k of keys) if (k !== EXCLUDED_CRC && k !== EXCLUDED_RM && item[k] !== undefined) count++;
  putCount(0x6d, count);
  for (const k of keys) {
    if (k === EXCLUDED_CRC || k === EXCLUDED_RM) continue;
    const v = item[k];
    if (v === undefined) continue;
    putString(k);
    putValue(v);
  }
  return crc32c(buf.subarray(0, pos));
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
