/**
 * Parsing the CLI's points in history (`--as-of`, `revert --to`, `snapshot create --as-of`):
 * a 16-hex-digit TID, an ISO-8601 time, or `@name` for a snapshot. Anything else is EINVAL.
 */
import type { AsOf } from "../sdk/index.ts";

export const AS_OF_HELP = "<tid|time|@snapshot>";

/** A point's text form (TID, ISO time, @snapshot) lives with the as-of names in core. */
export { parseAsOf } from "../core/namespace/as-of-names.ts";

/** The JSON form of a point: what `--json` outputs echo back. */
export function describeAsOf(point: AsOf | undefined): string | undefined {
  if (point === undefined) return undefined;
  if (typeof point === "string") return point;
  if (point instanceof Date) return point.toISOString();
  return `@${point.snapshot}`;
}
