/**
 * Parsing the CLI's points in history (`--as-of`, `revert --to`, `snapshot create --as-of`):
 * a 16-hex-digit TID, an ISO-8601 time, or `@name` for a snapshot. Anything else is EINVAL.
 */
import { strataError } from "../core/errors.ts";
import type { AsOf } from "../sdk/index.ts";

const TID = /^[0-9a-fA-F]{16}$/;
// Date, optionally with a time (minutes required, seconds and fraction optional) and a zone.
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

export const AS_OF_HELP = "<tid|time|@snapshot>";

/**
 * @example parseAsOf("0189f3c2a4b10000") // "0189f3c2a4b10000"
 * @example parseAsOf("2026-11-21T07:00:00Z") // Date
 * @example parseAsOf("@before-migration") // { snapshot: "before-migration" }
 */
export function parseAsOf(text: string, option = "--as-of"): AsOf {
  if (TID.test(text)) return text.toLowerCase();
  if (text.startsWith("@")) {
    const name = text.slice(1);
    if (name.length === 0) throw invalid(text, option, "a snapshot name after @ is missing");
    return { snapshot: name };
  }
  const m = ISO_TIME.exec(text);
  if (m) {
    const [year, month, day, hour = "0", minute = "0", second = "0"] = m.slice(1, 7).map((p) => p ?? "0");
    // JavaScript rolls 2026-02-30 over to March 2; refuse impossible dates instead.
    const probe = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
    const dayExists =
      probe.getUTCFullYear() === Number(year) &&
      probe.getUTCMonth() === Number(month) - 1 &&
      probe.getUTCDate() === Number(day);
    const timeValid = Number(hour) < 24 && Number(minute) < 60 && Number(second) < 60;
    const date = new Date(text.replace(" ", "T"));
    if (dayExists && timeValid && !Number.isNaN(date.getTime())) return date;
    throw invalid(text, option, "that date or time does not exist");
  }
  throw invalid(text, option, "it is not a TID, an ISO-8601 time or @snapshot");
}

function invalid(text: string, option: string, why: string) {
  return strataError(
    "EINVAL",
    `${option} ${JSON.stringify(text)}: ${why}. Give a 16-hex-digit TID (\`strata tid\` prints the current one), ` +
      "an ISO-8601 time such as 2026-11-21T07:00:00Z (no zone = local time), or @name of a snapshot (`strata snapshot ls`)",
    { option, value: text },
  );
}

/** The JSON form of a point: what `--json` outputs echo back. */
export function describeAsOf(point: AsOf | undefined): string | undefined {
  if (point === undefined) return undefined;
  if (typeof point === "string") return point;
  if (point instanceof Date) return point.toISOString();
  return `@${point.snapshot}`;
}
