/**
 * The mirroring stream's record format, version 1 (docs/mirroring.md, "Record format").
 *
 * A stream is the ordered history records of one PFS whose state changed at a TID in
 * (since, upto]: inode versions (`ino#<pfs>#<ino>` / `v#<inv(ctid)>`) and directory-entry history
 * (`dh#<pfs>#<dir>` / `<name>/<inv(ctid)>`). A record appears once per commit that wrote it — at
 * its creation (`ctid`) without `dtid`, and again at its end (`dtid`) with it — so applying the
 * records of the commits up to T, in order, gives exactly the state as of T. Live directory
 * entries and directory `ctl` items are not streamed: the applier derives them from the entry
 * history (core/mirror/apply.ts), so a record never carries a value from after its TID.
 *
 * Keys are PFS-relative (`ino#<ino>`, `dh#<dir>`): the target rewrites them under its own PFS id.
 * Every record carries a CRC32C over its canonical encoding (tid, key and attributes).
 */
import { base64ToBytes, bytesToBase64 } from "../bytes.ts";
import { strataError } from "../errors.ts";
import type { Item, Value } from "../metadata/port.ts";
import type { ObjectId, Tid } from "../namespace/api.ts";
import { recordCrc } from "../namespace/records.ts";
import { isTid } from "../namespace/tid.ts";

export const STREAM_FORMAT = 1;

export interface StreamRecord {
  /** TID of the commit that gave the record this state. */
  tid: Tid;
  /** PFS-relative partition key: `ino#<ino>` or `dh#<dir>`. */
  pk: string;
  sk: string;
  /** The record's attributes as of `tid` (without pk, sk and the store's crc). */
  item: Record<string, Value>;
  /** CRC32C of {tid, pk, sk, item} in the namespace's canonical encoding. */
  crc: number;
}

/** What a target needs to know about the source PFS before applying its stream. */
export interface SourceInfo {
  /** PFS name at the source. */
  pfs: string;
  /** PFS id at the source (its keys' `<pfs>` part). */
  id: string;
  rootIno: ObjectId;
  createdTid: Tid;
  /** The highest TID a stream read may reach now (the source's closed TID, or a mirror's sync TID). */
  closed: Tid;
}

export interface StreamPage {
  format: typeof STREAM_FORMAT;
  source: SourceInfo;
  /** Records with since < tid ≤ upto, in TID order (commit by commit). */
  since: Tid;
  /** This page is complete: no record with tid ≤ upto comes later. */
  upto: Tid;
  records: StreamRecord[];
  /** Commits in this page. */
  commits: number;
  /** Present when more records follow up to the requested end: pass it back as `token`. */
  next?: string;
}

export interface StreamRequest {
  /** Exclusive lower bound (a mirror's sync TID); default 0 (the whole retained history). */
  since?: Tid;
  /** Inclusive upper bound; clamped to the source's closed TID (default: now, closed). */
  upto?: Tid;
  /** Resume token from the previous page (`next`); `since`/`upto` are then taken from it. */
  token?: string;
  /** Commits per page, roughly (default 1,000). */
  limit?: number;
  /** Bytes of records a page stops after (default STREAM_DEFAULTS.pageBytes; the first TID always goes whole). */
  pageBytes?: number;
}

const HISTORY_KINDS = new Set(["ino", "dh"]);

/**
 * `ino#<pfs>#<ino>` → `ino#<ino>`; undefined for keys the stream does not carry (other PFSs,
 * live entries, `ctl`, snapshots, the registry). Only inode versions (`v#…`) of `ino#` partitions.
 */
export function streamedPk(pk: string, sk: string, pfsId: string): string | undefined {
  if (pk.startsWith("ino#") && !sk.startsWith("v#")) return undefined;
  return relativePk(pk, pfsId);
}

export function relativePk(pk: string, pfsId: string): string | undefined {
  const hash = pk.indexOf("#");
  if (hash < 0) return undefined;
  const kind = pk.slice(0, hash);
  if (!HISTORY_KINDS.has(kind) || !pk.startsWith(`${kind}#${pfsId}#`)) return undefined;
  return `${kind}#${pk.slice(kind.length + pfsId.length + 2)}`;
}

/** `ino#<ino>` → `ino#<pfs>#<ino>`; ECORRUPT for a key no stream produces. */
export function absolutePk(rel: string, pfsId: string): string {
  const hash = rel.indexOf("#");
  const kind = rel.slice(0, hash);
  if (hash < 0 || !HISTORY_KINDS.has(kind))
    throw strataError("ECORRUPT", `stream record key ${rel} is not an ino# or dh# key`, { pk: rel });
  return `${kind}#${pfsId}#${rel.slice(hash + 1)}`;
}

export function recordCrcOf(r: Omit<StreamRecord, "crc">): number {
  return recordCrc({ pk: r.pk, sk: r.sk, "@tid": r.tid, "@item": r.item });
}

export function makeRecord(tid: Tid, pk: string, sk: string, item: Record<string, Value>): StreamRecord {
  const r = { tid, pk, sk, item };
  return { ...r, crc: recordCrcOf(r) };
}

/** Throws ECORRUPT unless the record is well-formed and its CRC matches. */
export function checkRecord(r: StreamRecord, where: string): StreamRecord {
  const ok =
    r !== null &&
    typeof r === "object" &&
    isTid(r.tid) &&
    typeof r.pk === "string" &&
    typeof r.sk === "string" &&
    r.item !== null &&
    typeof r.item === "object" &&
    typeof r.crc === "number" &&
    recordCrcOf(r) === r.crc;
  if (!ok)
    throw strataError(
      "ECORRUPT",
      `stream record ${r?.pk} / ${r?.sk} at ${r?.tid} from ${where} failed its CRC check; re-read the stream from the mirror's sync TID`,
      { pk: r?.pk, sk: r?.sk, tid: r?.tid, where },
    );
  return r;
}

/** The store item for a stream record on a target PFS (the store's own crc is added by the caller's seal). */
export function targetItem(r: StreamRecord, pfsId: string): Item {
  return { ...r.item, pk: absolutePk(r.pk, pfsId), sk: r.sk };
}

/** The state of a stored history record as of the commit `tid` that wrote it (see the header). */
export function stateAt(item: Item, tid: Tid): Record<string, Value> | undefined {
  const { pk: _pk, sk: _sk, crc: _crc, ...attrs } = item;
  if (attrs.dtid === tid) return attrs;
  if (attrs.ctid !== tid) return undefined;
  if (attrs.dtid !== undefined) {
    delete attrs.dtid;
    delete attrs.dchange;
  }
  return attrs;
}

// Resume tokens. A page is complete up to its `upto`, so a token only needs where the next page starts and where
// the reader wants to stop: `s1.<since>.<end>`.

export function encodeToken(since: Tid, end: Tid): string {
  return `s1.${since}.${end}`;
}

export function decodeToken(token: string): { since: Tid; end: Tid } {
  const parts = typeof token === "string" ? token.split(".") : [];
  if (parts.length !== 3 || parts[0] !== "s1" || !isTid(parts[1]) || !isTid(parts[2]) || parts[1] > parts[2])
    throw strataError("EINVAL", `stream token ${String(token)} is not one a strata stream produced`, {
      token,
    });
  return { since: parts[1], end: parts[2] };
}

// The JSON form (bundles, HTTP): plain JSON plus one tag: bytes are `{"$b": "<base64>"}`. Object keys that start with `$` get one
// more `$` (`$x` → `$$x`), so no user key (a tag, an xattr name) can be mistaken for the tag.

/** Bytes of a `$b` tag; EINVAL when the text is not base64 (a damaged bundle changes nothing). */
function tagBytes(text: string): Uint8Array {
  const bytes = base64ToBytes(text);
  if (!bytes)
    throw strataError("EINVAL", "a bundle's bytes (`$b`) are not base64", { value: text.slice(0, 40) });
  return bytes;
}

export function toJsonValue(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $b: bytesToBase64(value) };
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      if (v !== undefined) out[k.startsWith("$") ? `$${k}` : k] = toJsonValue(v);
    return out;
  }
  return value;
}

export function fromJsonValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJsonValue);
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && keys[0] === "$b" && typeof obj.$b === "string") return tagBytes(obj.$b);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k.startsWith("$$") ? k.slice(1) : k] = fromJsonValue(v);
    return out;
  }
  return value;
}

/** Checks a page received from elsewhere before anyone applies it. */
export function checkPage(page: StreamPage, label: string): StreamPage {
  if (page?.format !== 1 || !Array.isArray(page.records))
    throw strataError("ECORRUPT", `stream page from ${label} is not format 1`, { source: label });
  return page;
}
