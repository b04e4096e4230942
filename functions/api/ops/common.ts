/** Schemas and helpers shared by the operation areas. */
import { z } from "zod";
import { strataError } from "../../../core/errors.ts";
import type { AsOf, ReadableFileSystem, Stat } from "../../../core/namespace/api.ts";
import { base64ToBytes } from "../../../core/wire.ts";
import type { OpContext } from "../operation.ts";

export const pathSchema = z.string().min(1).describe("absolute path inside the PFS, e.g. /a/b.txt");

/** A TID (16 hex digits), an ISO 8601 time, or { snapshot: name }. */
export const asOfSchema = z
  .union([z.string().min(1), z.object({ snapshot: z.string().min(1) }).strict()])
  .describe('a TID (16 hex digits), an ISO time, or {"snapshot": name}');

/** Bytes on the wire: { "$bytes": base64 } (core/wire.ts). */
export const bytesSchema = z.object({ $bytes: z.string() }).strict().describe("bytes as base64");

export function toBytes(value: { $bytes: string }, field: string): Uint8Array {
  const bytes = base64ToBytes(value.$bytes);
  if (!bytes) throw strataError("EINVAL", `${field} is not valid base64`, { field });
  return bytes;
}

const TID = /^[0-9a-f]{16}$/;
/** ISO 8601 date or date-time (Date.parse alone also takes "00000000000000000" and other non-ISO text). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

export function toAsOf(value: string | { snapshot: string }): AsOf {
  if (typeof value !== "string") return value;
  if (TID.test(value)) return value;
  const ms = ISO_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms))
    throw strataError(
      "EINVAL",
      `asOf ${JSON.stringify(value)} is neither a TID (16 hex digits) nor an ISO time`,
      {
        field: "asOf",
      },
    );
  return new Date(ms);
}

/** The live FileSystem, or its as-of view. */
export function reader(ctx: OpContext, asOf: string | { snapshot: string } | undefined): ReadableFileSystem {
  return asOf === undefined ? ctx.fs : ctx.fs.asOf(toAsOf(asOf));
}

/**
 * A stat as the API returns it: without `content` (chunk hashes are handed out only by fs.read
 * and fs.placement, for paths the token may read; inline bytes only by fs.read).
 */
export function publicStat(st: Stat): Omit<Stat, "content"> {
  const { content: _content, ...rest } = st;
  return rest;
}

/** Where a symlink at `path` with `target` points, as an absolute path (for prefix checks). */
export function symlinkDestination(path: string, target: string): string {
  if (target.startsWith("/")) return target;
  const parent = path.replace(/\/+$/, "").replace(/\/[^/]*$/, "") || "/";
  return `${parent}/${target}`;
}
