/**
 * The local server's log (npm start): one line per HTTP request and one per job run, with a
 * level; text (`<time> <level> <event> key=value …`) or JSON (one object per line). The level and
 * format come from STRATA_LOG (error | warn | info | debug; default info) and STRATA_LOG_FORMAT
 * or `npm start -- --log-format json` (runtime/config.ts). Servers started without a log (tests,
 * benchmarks, embedded deployments) log nothing.
 */

export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = "text" | "json";

export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Log {
  readonly level: LogLevel;
  /** Whether a line at `level` would be written (skip building fields that would be dropped). */
  enabled(level: LogLevel): boolean;
  write(level: LogLevel, event: string, fields?: LogFields): void;
}

/** A value in a text line: bare when it has no space, quote or `=`; else JSON-quoted. */
function textValue(v: string | number | boolean): string {
  const s = String(v);
  return s.length > 0 && !/[\s"=]/.test(s) ? s : JSON.stringify(s);
}

/** One log line (no newline), as `createLog` writes it. */
export function formatLine(
  format: LogFormat,
  time: Date,
  level: LogLevel,
  event: string,
  fields: LogFields = {},
): string {
  const defined = Object.entries(fields).filter(
    (e): e is [string, string | number | boolean] => e[1] !== undefined,
  );
  if (format === "json")
    return JSON.stringify({ time: time.toISOString(), level, event, ...Object.fromEntries(defined) });
  return [
    time.toISOString(),
    level.padEnd(5),
    event,
    ...defined.map(([k, v]) => `${k}=${textValue(v)}`),
  ].join(" ");
}

export function createLog(options: {
  level: LogLevel;
  format: LogFormat;
  /** Where lines go (default: stderr). */
  write?: (line: string) => void;
  clock?: () => Date;
}): Log {
  const rank = LOG_LEVELS.indexOf(options.level);
  const out = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const clock = options.clock ?? (() => new Date());
  return {
    level: options.level,
    enabled: (level) => LOG_LEVELS.indexOf(level) <= rank,
    write(level, event, fields) {
      if (LOG_LEVELS.indexOf(level) > rank) return;
      out(formatLine(options.format, clock(), level, event, fields));
    },
  };
}

/**
 * The operation and PFS a request path names: `/v1/pfs/{pfs}/ops/{op}` and `/v1/ops/{op}`; any
 * other path is its own name (`/v1/health`, `/v1/openapi.json`, a blob URL's prefix).
 */
export function routeOf(path: string): { op: string; pfs?: string } {
  const m = /^\/v1\/(?:pfs\/([^/]+)\/)?ops\/([^/]+)$/.exec(path);
  if (m) return { op: decodeURIComponent(m[2]!), ...(m[1] ? { pfs: decodeURIComponent(m[1]) } : {}) };
  return { op: path.startsWith("/v1/blobs/") ? "blob" : path };
}

/** The request line's level: 5xx are errors, other 4xx… are info like the rest (the client's problem). */
export function requestLevel(status: number): LogLevel {
  return status >= 500 ? "error" : "info";
}

let requestSeq = 0;

/**
 * Log one finished request (the local server calls this once per request, after its response):
 * op, pfs, status, error code, ms and the request id (`x-strata-request-id`: the one an
 * unexpected error already carries, else a new one the response is given too).
 */
export function logRequest(
  log: Log,
  request: { method: string; path: string },
  response: { status: number; headers?: Record<string, string>; body?: string },
  ms: number,
  id: string,
): void {
  const level = requestLevel(response.status);
  if (!log.enabled(level)) return;
  const code =
    response.status >= 400 && response.body ? /"code":"([A-Z0-9]+)"/.exec(response.body)?.[1] : undefined;
  log.write(level, "request", {
    method: request.method,
    ...routeOf(request.path),
    status: response.status,
    ...(code ? { code } : {}),
    ms: Math.round(ms * 10) / 10,
    id,
    // debug: the response's size too
    ...(log.enabled("debug") && response.body !== undefined
      ? { bytes: Buffer.byteLength(response.body) }
      : {}),
  });
}

/** A request id unique in this process: its pid and a counter (no randomness on the hot path). */
export function nextRequestId(): string {
  return `${process.pid.toString(36)}-${(++requestSeq).toString(36)}`;
}

/** The log settings of `npm start`: the configuration's, with `--log-format json|text` from argv over it. */
export function logOptions(
  config: { level: LogLevel; format: LogFormat },
  argv: string[],
): { level: LogLevel; format: LogFormat } {
  const i = argv.findIndex((a) => a === "--log-format" || a.startsWith("--log-format="));
  if (i < 0) return config;
  const value = argv[i]!.includes("=") ? argv[i]!.slice(argv[i]!.indexOf("=") + 1) : argv[i + 1];
  if (value !== "json" && value !== "text")
    throw new Error(`--log-format takes json or text, got ${JSON.stringify(value ?? "")}`);
  return { ...config, format: value };
}
