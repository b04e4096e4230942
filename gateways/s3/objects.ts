/**
 * The mapping between S3 objects and strata files (docs/s3-gateway.md "Mapping"):
 *
 * - bucket = PFS, key = path (`a/b/c` → `/a/b/c`), `/` = directories;
 * - a key ending in `/` is a directory marker: the directory itself, carrying `user.s3` with
 *   `marker: true` when a client PUT it explicitly (listed as an object then);
 * - object metadata (ETag = MD5 computed while writing, Content-Type and the other standard
 *   headers, `x-amz-meta-*`, the verified checksum, multipart part sizes) is one JSON xattr,
 *   `user.s3`, written right after the content. It is *fresh* when its recorded size and mtime
 *   are the file's: a file written by another client (SDK, CLI, mount) without it, or changed
 *   since, gets a stable ETag derived from its identity instead of a wrong MD5.
 */
import { createHash } from "node:crypto";
import type { StrataStats } from "../../sdk/index.ts";
import { S3Error } from "./errors.ts";

export const META_XATTR = "user.s3";

/** The standard headers kept with an object. */
export const KEPT_HEADERS = [
  "content-type",
  "content-encoding",
  "content-disposition",
  "content-language",
  "cache-control",
  "expires",
] as const;

export interface ObjectMeta {
  etag?: string;
  size?: number;
  mtimeMs?: number;
  headers?: Record<string, string>;
  /** x-amz-meta-* without the prefix, lower-cased names. */
  meta?: Record<string, string>;
  checksum?: { algorithm: string; value: string };
  /** Sizes of the parts of a multipart object. */
  parts?: number[];
  /** A directory marker PUT by a client. */
  marker?: boolean;
}

/** Key → strata path. Keys with empty, `.` or `..` segments cannot name a strata path: refused. */
export function keyToPath(key: string): string {
  if (key.length === 0) throw new S3Error("InvalidArgument", "An object key may not be empty.");
  if (Buffer.byteLength(key) > 1024) throw new S3Error("KeyTooLongError", "Your key is too long");
  const body = key.endsWith("/") ? key.slice(0, -1) : key;
  const segments = body.split("/");
  if (segments.some((s) => s === "" || s === "." || s === ".."))
    throw new S3Error(
      "InvalidArgument",
      "strata keys are paths: a key may not start with `/`, hold `//`, or have `.` or `..` segments.",
    );
  return `/${body}`;
}

/** A directory path → its key prefix ("/" → "", "/a/b" → "a/b/"). */
export function dirKey(path: string): string {
  return path === "/" ? "" : `${path.slice(1)}/`;
}

export function parseMeta(bytes: Uint8Array | undefined): ObjectMeta | undefined {
  if (!bytes) return undefined;
  try {
    const value = JSON.parse(Buffer.from(bytes).toString("utf8")) as unknown;
    return value && typeof value === "object" ? (value as ObjectMeta) : undefined;
  } catch {
    return undefined;
  }
}

export function encodeMeta(meta: ObjectMeta): Uint8Array {
  return Buffer.from(JSON.stringify(meta), "utf8");
}

/** The metadata that describes this version of the file, or undefined when it is stale or absent. */
export function freshMeta(meta: ObjectMeta | undefined, st: StrataStats): ObjectMeta | undefined {
  if (!meta) return undefined;
  if (st.type === "dir") return meta;
  return meta.size === st.size && meta.mtimeMs === st.mtimeMs ? meta : undefined;
}

const EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e";

/** The ETag (quoted) of a version: its MD5 or multipart ETag, else one derived from its identity. */
export function etagOf(st: StrataStats, meta: ObjectMeta | undefined): string {
  if (st.type === "dir") return `"${EMPTY_MD5}"`;
  if (meta?.etag) return `"${meta.etag}"`;
  const id = createHash("md5").update(`strata:${st.pfs}:${st.ino}:${st.size}:${st.mtimeMs}`).digest("hex");
  return `"${id}"`;
}

/** ETag comparison as S3 does it: quotes optional, `*` matches anything. */
export function etagMatches(header: string, etag: string): boolean {
  const bare = etag.replace(/^"|"$/g, "");
  return header
    .split(",")
    .map((t) => t.trim().replace(/^W\//, "").replace(/^"|"$/g, ""))
    .some((t) => t === "*" || t === bare);
}

/** S3's XML timestamp. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** `x-amz-meta-*` and the kept headers of a request. */
export function metaFromRequest(
  headers: Record<string, string | string[] | undefined>,
): Pick<ObjectMeta, "headers" | "meta"> {
  const kept: Record<string, string> = {};
  const meta: Record<string, string> = {};
  let size = 0;
  for (const [name, raw] of Object.entries(headers)) {
    const value = Array.isArray(raw) ? raw.join(",") : raw;
    if (value === undefined) continue;
    if ((KEPT_HEADERS as readonly string[]).includes(name)) kept[name] = value;
    else if (name.startsWith("x-amz-meta-")) {
      meta[name.slice("x-amz-meta-".length)] = value;
      size += name.length + value.length;
    }
  }
  if (size > 2048)
    throw new S3Error(
      "MetadataTooLarge",
      "Your metadata headers exceed the maximum allowed metadata size.",
      400,
    );
  return { headers: kept, meta };
}
