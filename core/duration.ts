/**
 * The one parser of operator durations (pure): "3600" (seconds), "90s", "15m", "12h", "30d". Used by the
 * CLI (`--ttl`) and the local server's schedule intervals. The objective and retention languages
 * have their own duration words (weeks, months, years, `forever`) as part of their grammars.
 */

const UNIT_MS = { "": 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Milliseconds of a duration: a non-negative decimal number and an optional unit (s, m, h, d; none
 * means seconds). `undefined` when `text` is not one (white space and upper case are not trimmed
 * or folded here: callers decide).
 */
export function parseDurationMs(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : undefined;
}
