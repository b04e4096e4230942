/**
 * Idempotent commits (DESIGN.md "Rules of trust: idempotence"): what makes a retried call after a
 * lost reply return its original result instead of EEXIST/ECONFLICT.
 *
 * Two mechanisms, one per way a reply can be lost:
 *
 * 1. **The store's reply to the engine is lost** (timeout, connection reset, a DynamoDB 5xx after
 *    the transaction committed). Every planned transaction is sent with a token (DynamoDB's
 *    ClientRequestToken; SQLite and memory keep the same contract, core/metadata/port.ts); the
 *    engine re-sends the SAME ops with the SAME token after an ambiguous failure, and the store
 *    answers "done" without applying them twice. A re-planned transaction (after a real conflict)
 *    is a new transaction: new TID, new token.
 *
 * 2. **The engine's reply to its caller is lost** (the HTTP response never arrived, the server
 *    crashed between commit and reply). When the caller names the operation with an idempotency
 *    key, the commit also writes an *idempotency record* — keyed by PFS + key, holding a
 *    fingerprint of the request and the result — IN the same transaction. A retried call with
 *    that key that fails (EEXIST, ENOENT, a condition on the record itself…) or plans nothing
 *    finds the record and returns the original result; with a different request it is EINVAL
 *    (`details.idempotency = "mismatch"`). The happy path costs nothing extra (no read first).
 *
 * Records expire after {@link RECORD_TTL_MS} (`expiresAt`, epoch seconds: DynamoDB's TTL deletes
 * them; on SQLite and memory an expired record is ignored and overwritten, not deleted).
 */
import { crc32c } from "../crc32c.ts";
import type { Condition, Item, Key } from "../metadata/port.ts";
import { ttlAttribute } from "../metadata/table.ts";
import { canonicalText } from "../metadata/values.ts";
import { fromWire, toWire } from "../wire.ts";
import type { Tid } from "./api.ts";

/** How long a caller may retry an operation with the same idempotency key (24 h). */
export const RECORD_TTL_MS = 24 * 60 * 60 * 1000;

/** A result larger than this (as wire JSON) is not kept: its replay answers as a first call would. */
export const MAX_RESULT_CHARS = 64 * 1024;

/** The longest idempotency key accepted (the HTTP header allows the same). */
export const MAX_KEY_LENGTH = 255;

/** An operation's idempotency: the caller's key and a fingerprint of what it asked for. */
export interface Idempotency {
  key: string;
  fingerprint: string;
}

const utf8 = new TextEncoder();

/** 64 bits of hash (CRC32C and FNV-1a side by side) as 16 hex digits: not cryptographic. */
export function hash64(text: string): string {
  const bytes = utf8.encode(text);
  let fnv = 0x811c9dc5;
  for (const b of bytes) fnv = Math.imul(fnv ^ b, 0x01000193) >>> 0;
  return crc32c(bytes).toString(16).padStart(8, "0") + fnv.toString(16).padStart(8, "0");
}

/** The fingerprint of a request (any value: op objects with paths, bytes, options). */
export function fingerprintOf(request: unknown): string {
  return hash64(canonicalText(request));
}

/** A valid idempotency key: 1..255 printable ASCII characters. */
export function isIdempotencyKey(key: unknown): key is string {
  return typeof key === "string" && key.length <= MAX_KEY_LENGTH && /^[\x21-\x7e]+$/.test(key);
}

/**
 * The store token of one planned transaction: 32 characters (DynamoDB allows 36), derived from
 * the operation's key (or "" without one), the engine's nonce and the transaction's TID — the
 * same for every re-send of that transaction, different for every re-plan and every engine.
 */
export function tokenOf(key: string, nonce: string, tid: Tid): string {
  return hash64(`${key}\u0000${nonce}`) + tid;
}

export function recordKey(pfsId: string, key: string): Key {
  return { pk: `idem#${pfsId}#${key}`, sk: "r" };
}

/** The record may be written: absent, or expired (`nowMs`). */
export function recordFree(nowMs: number): Condition {
  return {
    op: "or",
    of: [{ op: "notExists" }, { op: "lt", attr: "expiresAt", value: Math.floor(nowMs / 1000) }],
  };
}

/** The record written in the commit's transaction (unsealed; the engine seals it). */
export function recordItem(pfsId: string, idem: Idempotency, result: unknown, tid: Tid, nowMs: number): Item {
  const item: Item = {
    ...recordKey(pfsId, idem.key),
    fp: idem.fingerprint,
    tid,
    expiresAt: Math.floor((nowMs + RECORD_TTL_MS) / 1000),
    ...ttlAttribute(nowMs + RECORD_TTL_MS), // the table's TTL (epoch seconds)
  };
  if (result !== undefined) {
    const text = JSON.stringify(toWire(result));
    // A huge result (a stat with large xattrs) would push the record past the item limit.
    if (text.length <= MAX_RESULT_CHARS) item.result = text;
    else item.big = true;
  }
  return item;
}

/**
 * The original outcome in a live record; undefined when absent, expired, or too big to have been
 * kept (the retry then answers as any call would — the documented exception).
 */
export function recordOutcome(
  item: Item | undefined,
  nowMs: number,
): { fingerprint: string; tid: Tid; result: unknown } | undefined {
  if (!item || Number(item.expiresAt) < Math.floor(nowMs / 1000)) return undefined;
  if (item.big === true) return undefined;
  return {
    fingerprint: String(item.fp),
    tid: String(item.tid),
    result: typeof item.result === "string" ? fromWire(JSON.parse(item.result)) : undefined,
  };
}
