/**
 * Every `STRATA_*` variable the deployments read, read ONCE here and checked by one schema (zod):
 * a bad value is EINVAL naming the variable (`details.variable`, `details.value`), before anything
 * starts. An empty value counts as unset.
 *
 * | variable | who | value (default) |
 * |---|---|---|
 * | STRATA_HOME | local server | directory (`.strata`) |
 * | STRATA_PORT | local server | port, 0 = any free one (7070) |
 * | STRATA_CHUNK_SIZE | local server, tests | bytes (the data plane's, 8 MiB) |
 * | STRATA_VACUUM_INTERVAL / _SCRUB_ / _MIRROR_ | local server timers | duration or `off` (1h / 6h / 1m) |
 * | STRATA_PLACEMENT_GRACE_SECONDS | local server, Lambdas | seconds ≥ 0 (60) |
 * | STRATA_TEST_AZURITE_LAZY_SAVES | local server, one test | `1` = azurite autosaves lazily |
 * | STRATA_LOG | local server | log level: error, warn, info, debug (info) |
 * | STRATA_LOG_FORMAT | local server | `text` or `json` (text; also `npm start -- --log-format json`) |
 * | STRATA_TABLE | Lambdas | the DynamoDB table (required there) |
 * | STRATA_BUCKET | Lambdas | the deployment's S3 bucket, recorded as volume `s3` |
 * | STRATA_SITE | Lambdas | the reader's site |
 * | STRATA_DEFAULT_VOLUME | Lambdas | default volume (`s3` with a bucket, else `default`) |
 * | STRATA_TOKEN_KEYS | Lambdas (tests) | the token key ring itself |
 * | STRATA_TOKEN_KEYS_PARAMETER | Lambdas | the SSM parameter holding the ring |
 *
 * Not here: the CLI's own variables (STRATA_ENDPOINT, STRATA_TOKEN, STRATA_PFS, STRATA_HOME,
 * STRATA_DEBUG). The CLI is a client: it reads them from the environment its caller hands it
 * (`runCli(argv, io)`, cli/connection.ts), so tests drive it without touching `process.env`, and
 * it never loads the runtime layer. Test-suite variables (STRATA_STANDINS, STRATA_PROPERTY_*,
 * STRATA_BENCH_*, STRATA_TEST_* of the cloud suites) belong to test/ and bench/.
 */
import { z } from "zod";
import { parseDurationMs } from "../core/duration.ts";
import { strataError } from "../core/errors.ts";

/** Periodic jobs of the local server (ms; 0 = not scheduled). */
export interface ScheduleIntervals {
  vacuumMs: number;
  scrubMs: number;
  mirrorMs: number;
}

export const DEFAULT_INTERVALS: ScheduleIntervals = {
  vacuumMs: 60 * 60_000,
  scrubMs: 6 * 60 * 60_000,
  mirrorMs: 60_000,
};

/** The port when STRATA_PORT is not set. */
export const DEFAULT_PORT = 7070;

/** `90s`, `15m`, `2h`, `1d`, `120` (seconds) → ms; `off`/`0` → 0. EINVAL names the variable. */
export function parseInterval(name: string, text: string): number {
  const value = text.trim().toLowerCase();
  if (value === "off" || value === "0") return 0;
  const ms = parseDurationMs(value) ?? Number.NaN;
  if (!(ms >= 1000))
    throw strataError(
      "EINVAL",
      `${name}=${JSON.stringify(text)} is not an interval of at least 1s; use e.g. 90s, 15m, 2h, 1d, or off`,
      { variable: name, value: text },
    );
  return Math.round(ms);
}

/** An optional variable: empty = unset. */
const text = () =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === "" ? undefined : v));

/** A variable whose text `parse` turns into a value, or says what is wrong (the message). */
function parsed<T>(parse: (text: string) => T | string, fallback: T) {
  return text().transform((v, ctx): T => {
    if (v === undefined) return fallback;
    const out = parse(v);
    if (typeof out === "string" && typeof fallback !== "string") {
      ctx.addIssue({ code: "custom", message: out });
      return z.NEVER;
    }
    return out as T;
  });
}

/** A variable that is one of `values` (unset: `fallback`). */
function oneOf<const T extends readonly string[]>(values: T, fallback: T[number]) {
  return text().transform((v, ctx): T[number] => {
    if (v === undefined) return fallback;
    if ((values as readonly string[]).includes(v)) return v as T[number];
    ctx.addIssue({ code: "custom", message: `must be ${values.join(", ")}` });
    return z.NEVER;
  });
}

const interval = (name: string, fallback: number) =>
  text().transform((v) => (v === undefined ? fallback : parseInterval(name, v)));

/** The one schema of the environment. */
const schema = z.object({
  STRATA_HOME: parsed((v) => v, ".strata"),
  STRATA_PORT: parsed<number>((v) => {
    const n = Number(v);
    return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : "must be a port number (0 = any free port)";
  }, DEFAULT_PORT),
  STRATA_CHUNK_SIZE: parsed<number | undefined>((v) => {
    const n = Number(v);
    return Number.isInteger(n) && n > 0 ? n : "must be a chunk size in bytes (≥ 64 KiB)";
  }, undefined),
  STRATA_PLACEMENT_GRACE_SECONDS: parsed<number>((v) => {
    const n = Number(v);
    return n >= 0 ? n : "must be a number of seconds ≥ 0";
  }, 60),
  STRATA_TEST_AZURITE_LAZY_SAVES: text().transform((v) => v === "1"),
  STRATA_LOG: oneOf(["error", "warn", "info", "debug"] as const, "info"),
  STRATA_LOG_FORMAT: oneOf(["text", "json"] as const, "text"),
  STRATA_VACUUM_INTERVAL: interval("STRATA_VACUUM_INTERVAL", DEFAULT_INTERVALS.vacuumMs),
  STRATA_SCRUB_INTERVAL: interval("STRATA_SCRUB_INTERVAL", DEFAULT_INTERVALS.scrubMs),
  STRATA_MIRROR_INTERVAL: interval("STRATA_MIRROR_INTERVAL", DEFAULT_INTERVALS.mirrorMs),
  STRATA_TABLE: text(),
  STRATA_BUCKET: text(),
  STRATA_SITE: text(),
  STRATA_DEFAULT_VOLUME: text(),
  STRATA_TOKEN_KEYS: text(),
  STRATA_TOKEN_KEYS_PARAMETER: text(),
  AWS_LAMBDA_FUNCTION_NAME: text(),
});

/** The deployment's configuration, as read from the environment. */
export interface StrataConfig {
  /** The local server's home (not yet resolved against the working directory). */
  home: string;
  port: number;
  chunkSize?: number;
  placementGraceSeconds: number;
  azuriteLazySaves: boolean;
  /** The local server's log (functions/local/log.ts). */
  log: { level: "error" | "warn" | "info" | "debug"; format: "text" | "json" };
  intervals: ScheduleIntervals;
  /** The Lambdas' settings (stacks/*.ts set them). */
  cloud: {
    table?: string;
    bucket?: string;
    site?: string;
    defaultVolume?: string;
    tokenKeys?: string;
    tokenKeysParameter?: string;
    functionName?: string;
  };
}

/** Read and check every variable. EINVAL (`details.variable`, `details.value`) for the first bad one. */
export function readConfig(env: Record<string, string | undefined> = process.env): StrataConfig {
  const result = schema.safeParse(env);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const variable = String(issue.path[0]);
    throw strataError("EINVAL", `${variable} ${issue.message}, got ${JSON.stringify(env[variable])}`, {
      variable,
      value: env[variable],
    });
  }
  const e = result.data;
  return {
    home: e.STRATA_HOME,
    port: e.STRATA_PORT,
    ...(e.STRATA_CHUNK_SIZE === undefined ? {} : { chunkSize: e.STRATA_CHUNK_SIZE }),
    placementGraceSeconds: e.STRATA_PLACEMENT_GRACE_SECONDS,
    azuriteLazySaves: e.STRATA_TEST_AZURITE_LAZY_SAVES,
    log: { level: e.STRATA_LOG, format: e.STRATA_LOG_FORMAT },
    intervals: {
      vacuumMs: e.STRATA_VACUUM_INTERVAL,
      scrubMs: e.STRATA_SCRUB_INTERVAL,
      mirrorMs: e.STRATA_MIRROR_INTERVAL,
    },
    cloud: {
      table: e.STRATA_TABLE,
      bucket: e.STRATA_BUCKET,
      site: e.STRATA_SITE,
      defaultVolume: e.STRATA_DEFAULT_VOLUME,
      tokenKeys: e.STRATA_TOKEN_KEYS,
      tokenKeysParameter: e.STRATA_TOKEN_KEYS_PARAMETER,
      functionName: e.AWS_LAMBDA_FUNCTION_NAME,
    },
  };
}

/** The local server's job intervals (STRATA_VACUUM_INTERVAL, STRATA_SCRUB_INTERVAL, STRATA_MIRROR_INTERVAL). */
export function intervalsFromEnv(env: Record<string, string | undefined> = process.env): ScheduleIntervals {
  return readConfig(env).intervals;
}
