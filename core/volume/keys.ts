/**
 * Key, prefix, metadata and range validation for volumes. Pure: the `Volume` wrapper calls these
 * before any request, so a bad key never reaches a driver (and never costs a round trip).
 *
 * Keys are stored exactly as given (no Unicode normalisation: NFC and NFD forms are two keys).
 * The rules are the intersection of what S3, Azure Blob, GCS and a POSIX directory tree accept
 * without rewriting the key.
 */
import { type ErrorCode, StrataError } from "../errors.ts";
import type { ByteRange } from "./port.ts";

/** Longest key, in UTF-8 bytes (S3's and GCS's limit; Azure allows 1,024 characters). */
export const MAX_KEY_BYTES = 1024;
/** Reserved prefix of metadata names: adapters keep their own bookkeeping (e.g. `strata-crc32c`) there. */
export const RESERVED_METADATA_PREFIX = "strata-";
export const MAX_METADATA_VALUE_CHARS = 1024;
/** Sum of name and value lengths over all entries (S3 allows 2 KiB of user metadata). */
export const MAX_METADATA_TOTAL_CHARS = 2048;

const METADATA_NAME = /^[a-z0-9-]{1,64}$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function shown(key: string): string {
  const text = JSON.stringify(key.length > 120 ? `${key.slice(0, 120)}…` : key);
  return text;
}

function reject(code: ErrorCode, volume: string, key: string, why: string, todo: string): never {
  throw new StrataError(code, `volume \`${volume}\` cannot use key ${shown(key)}: ${why}. ${todo}`, {
    details: { volume, key },
  });
}

/**
 * One pass over the UTF-16 code units: the UTF-8 length, and the first problem character, if any
 * (lone surrogate, C0/C1 control character, backslash).
 */
function scan(text: string): { bytes: number; problem?: string } {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
      return { bytes, problem: `it contains the control character U+${c.toString(16).padStart(4, "0")}` };
    }
    if (c === 0x5c) return { bytes, problem: "it contains a backslash (Azure Blob rewrites it to '/')" };
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return { bytes, problem: "it contains a lone surrogate" };
      bytes += 4;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return { bytes, problem: "it contains a lone surrogate" };
    else bytes += 3;
  }
  return { bytes };
}

// Defined once in core/text.ts (re-exported: the volume layer's callers import it here).
export { utf8Length } from "../text.ts";

/**
 * Throws unless `key` is a valid object key: non-empty, ≤ 1,024 UTF-8 bytes (ENAMETOOLONG), no
 * lone surrogates, control characters or backslashes, no leading or trailing '/', no empty, '.'
 * or '..' segment (EINVAL).
 */
export function validateKey(volume: string, key: string): void {
  if (typeof key !== "string" || key.length === 0) {
    reject("EINVAL", volume, String(key), "the key is empty", "Give a non-empty key such as `chunks/ab/cd`");
  }
  const { bytes, problem } = scan(key);
  if (problem !== undefined) {
    reject("EINVAL", volume, key, problem, "Remove or encode that character before storing");
  }
  if (bytes > MAX_KEY_BYTES) {
    reject(
      "ENAMETOOLONG",
      volume,
      key,
      `it is ${bytes} UTF-8 bytes long (limit ${MAX_KEY_BYTES})`,
      "Use a shorter key (e.g. a hash of the long name)",
    );
  }
  checkSegments(volume, key, key.split("/"));
}

function checkSegments(volume: string, key: string, segments: string[]): void {
  if (segments[0] === "") reject("EINVAL", volume, key, "it starts with '/'", "Drop the leading '/'");
  segments.forEach((segment, i) => {
    if (segment === "" && i === segments.length - 1) {
      reject(
        "EINVAL",
        volume,
        key,
        "it ends with '/'",
        "Drop the trailing '/' (volumes have no directories)",
      );
    }
    if (segment === "") reject("EINVAL", volume, key, "it has an empty segment ('//')", "Use a single '/'");
    if (segment === "." || segment === "..") {
      reject("EINVAL", volume, key, `it has a '${segment}' segment`, "Resolve relative segments first");
    }
  });
}

/**
 * Throws unless `prefix` is a valid listing prefix: empty (everything), or a key prefix, which may
 * end with '/' and whose last (partial) segment may be anything a key segment may start with.
 */
export function validatePrefix(volume: string, prefix: string): void {
  if (typeof prefix !== "string") reject("EINVAL", volume, String(prefix), "the prefix is not a string", "");
  if (prefix === "") return;
  const { bytes, problem } = scan(prefix);
  if (problem !== undefined) reject("EINVAL", volume, prefix, problem, "No key can match this prefix");
  if (bytes > MAX_KEY_BYTES) {
    reject("ENAMETOOLONG", volume, prefix, `the prefix is ${bytes} UTF-8 bytes long`, "No key can match it");
  }
  // Complete segments are those followed by a '/'; the last piece is a partial segment.
  const complete = prefix.split("/").slice(0, -1);
  if (complete.length > 0) checkSegments(volume, prefix, [...complete, "x"]);
}

/**
 * Throws unless `metadata` is valid user metadata; returns a plain copy. Names `[a-z0-9-]{1,64}`
 * not starting with `strata-`; values printable ASCII ≤ 1,024 characters; names plus values
 * ≤ 2,048 characters in total.
 */
export function validateMetadata(
  volume: string,
  key: string,
  metadata: Record<string, string> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (metadata === undefined) return out;
  let total = 0;
  for (const [name, value] of Object.entries(metadata)) {
    if (!METADATA_NAME.test(name)) {
      reject(
        "EINVAL",
        volume,
        key,
        `metadata name ${JSON.stringify(name)} is not 1–64 characters of [a-z0-9-]`,
        "Use lowercase ASCII letters, digits and '-'",
      );
    }
    if (name.startsWith(RESERVED_METADATA_PREFIX)) {
      reject(
        "EINVAL",
        volume,
        key,
        `metadata name ${JSON.stringify(name)} uses the reserved prefix \`${RESERVED_METADATA_PREFIX}\``,
        "Pick another name; adapters keep their own bookkeeping under that prefix",
      );
    }
    if (typeof value !== "string" || !PRINTABLE_ASCII.test(value)) {
      reject(
        "EINVAL",
        volume,
        key,
        `metadata value of ${JSON.stringify(name)} is not printable ASCII`,
        "Encode it (e.g. percent- or base64-encoding) first",
      );
    }
    if (value.length > MAX_METADATA_VALUE_CHARS) {
      reject(
        "E2BIG",
        volume,
        key,
        `metadata value of ${JSON.stringify(name)} is ${value.length} characters (limit ${MAX_METADATA_VALUE_CHARS})`,
        "Keep large values in the object itself or in the metadata store",
      );
    }
    total += name.length + value.length;
    out[name] = value;
  }
  if (total > MAX_METADATA_TOTAL_CHARS) {
    reject(
      "E2BIG",
      volume,
      key,
      `metadata totals ${total} characters (limit ${MAX_METADATA_TOTAL_CHARS}, S3's)`,
      "Store fewer or shorter entries",
    );
  }
  return out;
}

/** Throws EINVAL unless `range` has integer `start ≥ 0` and, when given, integer `end ≥ start`. */
export function validateRange(volume: string, key: string, range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0) {
    reject("EINVAL", volume, key, `range start ${start} is not an integer ≥ 0`, "Fix the byte range");
  }
  if (end !== undefined && (!Number.isSafeInteger(end) || end < start)) {
    reject(
      "EINVAL",
      volume,
      key,
      `range end ${end} is not an integer ≥ start (${start})`,
      "Fix the byte range",
    );
  }
}
