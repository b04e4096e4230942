/** Schemas and helpers shared by the operation areas. */
import { z } from "zod";
import { base64ToBytes } from "../../../core/bytes.ts";
import { strataError } from "../../../core/errors.ts";
import type { AsOf, ReadableFileSystem, Stat } from "../../../core/namespace/api.ts";
import { toWire } from "../../../core/wire.ts";
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

/** Longest one request waits for work to finish (placement.wait, volume.drain `wait`), by default. */
export const MAX_WAIT_SECONDS = 30;

/** The wait limit of a deployment (Services.maxWaitSeconds, else {@link MAX_WAIT_SECONDS}). */
export function waitLimitSeconds(ctx: OpContext): number {
  return Math.min(ctx.services.maxWaitSeconds ?? MAX_WAIT_SECONDS, MAX_WAIT_SECONDS);
}

/**
 * The "not yet" answer of a capped wait: ETIMEDOUT with `details.again: true` — the work goes on,
 * call again. The SDK (`waitForPlacement`) and the CLI (`callOp`) loop on it until their own deadline.
 */
export function notYet(
  ctx: OpContext,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
) {
  const limit = waitLimitSeconds(ctx);
  return strataError(
    "ETIMEDOUT",
    `${message} (one request waits at most ${limit} s; call again to keep waiting)`,
    { ...details, again: true, limitSeconds: limit },
    cause,
  );
}

/** `work`'s result if it settles within the wait limit, else {@link notYet} (the work goes on). */
export async function waitCapped<T>(
  ctx: OpContext,
  work: Promise<T>,
  what: string,
  details: Record<string, unknown> = {},
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const capped = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(notYet(ctx, `${what} is still running`, details)),
      waitLimitSeconds(ctx) * 1000,
    );
    timer.unref?.();
  });
  try {
    return await Promise.race([work, capped]);
  } finally {
    clearTimeout(timer);
  }
}

/** Default and largest page of a list operation, and the bytes of items a page stops after (≤ 1 MB a reply). */
export const LIST_PAGE = { limit: 1000, bytes: 512 * 1024 } as const;

/** The paging fields of a list operation's input: `cursor` = the previous page's `next`. */
export const pageFields = {
  cursor: z.string().max(4096).optional().describe("the previous page's `next`"),
  limit: z.number().int().min(1).max(LIST_PAGE.limit).optional(),
};

/**
 * One page of `all` in the order of `keyOf` (unique keys): items after `cursor`, at most `limit`
 * and about {@link LIST_PAGE}.bytes of JSON (the first always goes); `next` resumes after the last.
 */
export function pageOf<T>(
  all: readonly T[],
  keyOf: (item: T) => string,
  request: { cursor?: string | undefined; limit?: number | undefined },
): { items: T[]; next?: string } {
  const keyed = all.map((item) => ({ key: keyOf(item), item }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let start = 0;
  if (request.cursor !== undefined)
    while (start < keyed.length && keyed[start]!.key <= request.cursor) start++;
  const at =
    start +
    takePage(
      keyed.slice(start).map((k) => k.item),
      request.limit,
    );
  return {
    items: keyed.slice(start, at).map((k) => k.item),
    ...(at < keyed.length ? { next: keyed[at - 1]!.key } : {}),
  };
}

/**
 * How many of `items` (in order) one page takes: at most `limit` (default {@link LIST_PAGE}.limit)
 * and about {@link LIST_PAGE}.bytes of JSON (the first always goes).
 */
export function takePage<T>(items: readonly T[], limit: number | undefined): number {
  const max = limit ?? LIST_PAGE.limit;
  let bytes = 0;
  let taken = 0;
  for (; taken < items.length && taken < max; taken++) {
    bytes += JSON.stringify(toWire(items[taken])).length;
    if (bytes > LIST_PAGE.bytes && taken > 0) break;
  }
  return taken;
}
