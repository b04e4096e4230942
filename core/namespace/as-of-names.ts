/**
 * Points in history written as text, and HAMMER's as-of names for clients that only speak paths
 * (the FUSE mount, the WebDAV server, the S3 gateway, the CLI):
 *
 *   a point      a 16-hex-digit TID, an ISO-8601 time, or `@name` of a snapshot (parseAsOf)
 *   name@@point  that version of `name` (a file, or a directory whose subtree is read as of the
 *                point): `/show/shot42/plate.exr@@0189f3c2a4b10000`,
 *                `/show@@2026-11-21T07:00:00Z/shot42/plate.exr`
 *   /.strata/as-of/<tid|time>/…      the whole tree as of that point
 *   /.strata/snapshots/<name>/…      the whole tree in that snapshot
 *
 * Everything reached through an as-of name is read-only (EROFS on a write). A component that
 * contains `@@` followed by text that is not a point (`a@@b`) is an ordinary name; so is a
 * component whose point is empty (`a@@`); when several `@@` could split a name, the last one
 * followed by a point does. Only one as-of marker may appear in a path; a second
 * one is EINVAL, since two points in one path have no meaning. Pure: no I/O.
 */
import { strataError } from "../errors.ts";
import type { AsOf } from "./api.ts";

const TID = /^[0-9a-fA-F]{16}$/;
// Date, optionally with a time (minutes required, seconds and fraction optional) and a zone.
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** The name of the mount root's read-only control directory. */
export const CONTROL_DIR = ".strata";
/** The separator of HAMMER's as-of extension on a file name. */
export const AS_OF_SEPARATOR = "@@";

/**
 * A point in history from its text form; anything else is EINVAL naming `option`.
 * @example parseAsOf("0189f3c2a4b10000") // "0189f3c2a4b10000"
 * @example parseAsOf("2026-11-21T07:00:00Z") // Date
 * @example parseAsOf("@before-migration") // { snapshot: "before-migration" }
 * @example parseAsOf("5 minutes ago") // Date: now − 5 min (`now`: the clock, injectable for tests)
 */
export function parseAsOf(text: string, option = "--as-of", now: () => number = Date.now): AsOf {
  const point = tryParseAsOf(text);
  if (point.ok) return point.value;
  const ago = relativeAgoMs(text);
  if (ago !== undefined) return new Date(now() - ago);
  throw strataError(
    "EINVAL",
    `${option} ${JSON.stringify(text)}: ${point.why}. Give a 16-hex-digit TID (\`strata tid\` prints the current one), ` +
      'an ISO-8601 time such as 2026-11-21T07:00:00Z (no zone = local time), a time ago such as "5 minutes ago" ' +
      "or 2h, or @name of a snapshot (`strata snapshot ls`)",
    { option, value: text },
  );
}

const UNIT_MS: Record<string, number> = {
  s: 1000,
  sec: 1000,
  second: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hour: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
};

/**
 * A time ago, relative to the reader's clock (for options, not for names in paths, which must mean
 * the same thing every time): `5 minutes ago`, `90s ago`, `2h`, `1 day ago`, `1.5 hours ago`.
 * Undefined when `text` is not one.
 */
export function relativeAgoMs(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)(?:\s+ago)?\s*$/i.exec(text);
  if (!m) return undefined;
  const word = m[2]!.toLowerCase();
  // A plural names the same unit ("minutes"); "ms" is not minutes.
  const unit =
    UNIT_MS[word] ?? (word !== "ms" && word.endsWith("s") ? UNIT_MS[word.slice(0, -1)] : undefined);
  return unit === undefined ? undefined : Number(m[1]) * unit;
}

type Parsed = { ok: true; value: AsOf } | { ok: false; why: string };

function tryParseAsOf(text: string): Parsed {
  if (TID.test(text)) return { ok: true, value: text.toLowerCase() };
  if (text.startsWith("@")) {
    const name = text.slice(1);
    if (name.length === 0) return { ok: false, why: "a snapshot name after @ is missing" };
    return { ok: true, value: { snapshot: name } };
  }
  const m = ISO_TIME.exec(text);
  if (!m) return { ok: false, why: "it is not a TID, an ISO-8601 time or @snapshot" };
  const [year, month, day, hour = "0", minute = "0", second = "0"] = m.slice(1, 7).map((p) => p ?? "0");
  // JavaScript rolls 2026-02-30 over to March 2; refuse impossible dates instead.
  const probe = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  const dayExists =
    probe.getUTCFullYear() === Number(year) &&
    probe.getUTCMonth() === Number(month) - 1 &&
    probe.getUTCDate() === Number(day);
  const timeValid = Number(hour) < 24 && Number(minute) < 60 && Number(second) < 60;
  const date = new Date(text.replace(" ", "T"));
  if (dayExists && timeValid && !Number.isNaN(date.getTime())) return { ok: true, value: date };
  return { ok: false, why: "that date or time does not exist" };
}

/**
 * What a client path names once as-of names are taken out:
 * - `path`: a namespace path, read live (`asOf` absent) or as of a point (read-only);
 * - `control`: one of the synthetic directories under `/.strata` (`/.strata` itself,
 *   `/.strata/as-of`, whose entries are not listable, or `/.strata/snapshots`, which lists the
 *   snapshots), always read-only.
 */
export type AsOfName =
  | { kind: "path"; path: string; asOf?: AsOf; readOnly: boolean }
  | { kind: "control"; dir: "root" | "as-of" | "snapshots"; readOnly: true };

/**
 * Splits a client path (absolute, `/`-separated, already normalised: no `.`/`..`/empty parts)
 * into the namespace path and its point in history.
 * @example resolveAsOfName("/a/b.txt@@0189f3c2a4b10000") // { kind: "path", path: "/a/b.txt", asOf: "0189f3c2a4b10000", readOnly: true }
 * @example resolveAsOfName("/.strata/snapshots/nightly/a") // { kind: "path", path: "/a", asOf: { snapshot: "nightly" }, readOnly: true }
 */
export function resolveAsOfName(clientPath: string): AsOfName {
  const parts = clientPath.split("/").filter((p) => p.length > 0);
  if (parts[0] === CONTROL_DIR) {
    if (parts.length === 1) return { kind: "control", dir: "root", readOnly: true };
    const tree = parts[1];
    if (tree !== "as-of" && tree !== "snapshots") {
      throw strataError("ENOENT", `${clientPath}: /${CONTROL_DIR} holds only as-of/ and snapshots/`, {
        path: clientPath,
      });
    }
    if (parts.length === 2) return { kind: "control", dir: tree, readOnly: true };
    const pointName = parts[2] ?? "";
    const pointText = tree === "as-of" ? pointName : `@${pointName}`;
    const point = tryParseAsOf(pointText);
    if (!point.ok || (tree === "as-of" && pointText.startsWith("@"))) {
      throw strataError(
        "ENOENT",
        `${clientPath}: ${JSON.stringify(pointName)} is not a TID or an ISO-8601 time`,
        {
          path: clientPath,
        },
      );
    }
    const rest = parts.slice(3);
    assertNoMarker(rest, clientPath);
    return { kind: "path", path: `/${rest.join("/")}`, asOf: point.value, readOnly: true };
  }
  let asOf: AsOf | undefined;
  const names = parts.map((part) => {
    const split = splitMarker(part);
    if (split === undefined) return part;
    if (asOf !== undefined) {
      throw strataError("EINVAL", `${clientPath}: only one ${AS_OF_SEPARATOR}<point> may appear in a path`, {
        path: clientPath,
      });
    }
    asOf = split.asOf;
    return split.name;
  });
  const path = `/${names.join("/")}`;
  return asOf === undefined
    ? { kind: "path", path, readOnly: false }
    : { kind: "path", path, asOf, readOnly: true };
}

/** `name@@point` → its parts, or undefined when `part` is an ordinary name. */
function splitMarker(part: string): { name: string; asOf: AsOf } | undefined {
  // The last `@@` whose remainder is a point wins, so a name may itself end in `@`:
  // `a@@@0189f3c2a4b10000` is `a@` at that TID, `a@@@nightly` is `a` in snapshot nightly.
  for (let at = part.lastIndexOf(AS_OF_SEPARATOR); at > 0; at = part.lastIndexOf(AS_OF_SEPARATOR, at - 1)) {
    const point = tryParseAsOf(part.slice(at + AS_OF_SEPARATOR.length));
    if (point.ok) return { name: part.slice(0, at), asOf: point.value };
  }
  return undefined;
}

function assertNoMarker(parts: string[], clientPath: string): void {
  if (parts.some((p) => splitMarker(p) !== undefined)) {
    throw strataError("EINVAL", `${clientPath}: only one point in history may appear in a path`, {
      path: clientPath,
    });
  }
}

/** The as-of name of `path` at `point` (the inverse of resolveAsOfName for one component). */
export function asOfName(path: string, point: AsOf): string {
  if (typeof point === "string") return `${path}${AS_OF_SEPARATOR}${point}`;
  if (point instanceof Date) return `${path}${AS_OF_SEPARATOR}${point.toISOString()}`;
  return `${path}${AS_OF_SEPARATOR}@${point.snapshot}`;
}
