/**
 * Lambda's limits around a handler in tests: each handler runs with the settings its stack
 * deploys (read from stacks/*.ts: timeout, memory) and AWS's payload limits, and a call that
 * exceeds one fails the test instead of passing here and failing in the cloud.
 *
 *   timeout      the stack's `timeout` (the call is raced against it; the wrapper rejects at the limit)
 *   response     6 MB for a synchronous invocation (API Gateway / function URL / RequestResponse):
 *                the JSON of the result, as Lambda serialises it
 *   request      6 MB synchronous, 256 KB for an asynchronous event (EventBridge, Scheduler, Pipes)
 *   memory       coarse: the process's `heapUsed` after the call must stay below the function's
 *                memory (tests share one process, so this only catches gross overuse; a real cap
 *                would run the handler in a child with --max-old-space-size)
 *
 * Limits: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");

export const LAMBDA_LIMITS = {
  /** Invocation payload, request and response, synchronous (6 MB). */
  syncPayloadBytes: 6 * 1024 * 1024,
  /** Invocation payload of an asynchronous event (256 KB). */
  asyncPayloadBytes: 256 * 1024,
} as const;

export interface DeployedSettings {
  entry: string;
  timeoutMs: number;
  memoryMb: number;
}

const durationMs = (text: string): number => {
  const m = /^(\d+) (second|minute)s?$/.exec(text);
  if (!m) throw new Error(`lambda-limits: cannot read the duration "${text}"`);
  return Number(m[1]) * (m[2] === "minute" ? 60_000 : 1_000);
};

/**
 * The deployed timeout and memory of the Lambda whose handler is `entry` (e.g.
 * "functions/api/lambda.ts"), read from the stack that deploys it: a literal `sst.aws.Function`
 * ({ handler, timeout, memory }) or a helper call `fn("….handler", "5 minutes")` whose helper
 * declares the defaults.
 */
export function deployedSettings(entry: string): DeployedSettings {
  const handler = `"${entry.replace(/\.ts$/, "")}.handler"`;
  for (const file of readdirSync(join(ROOT, "stacks")).filter((f) => f.endsWith(".ts"))) {
    const text = readFileSync(join(ROOT, "stacks", file), "utf8");
    const at = text.indexOf(handler);
    if (at < 0) continue;
    // A helper call: fn("x.handler", "5 minutes") — the helper's parameters carry the defaults.
    const call = new RegExp(
      `(\\w+)\\(${handler.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}(?:,\\s*"([^"]+)")?\\)`,
    ).exec(text);
    if (call) {
      const helper = new RegExp(`const ${call[1]} = \\(([^)]*)\\) => \\(\\{([\\s\\S]*?)\\}\\)`).exec(text);
      if (!helper) throw new Error(`lambda-limits: helper ${call[1]} not found in stacks/${file}`);
      const defaultTimeout = /timeout[^=]*=\s*"([^"]+)"/.exec(helper[1]!)?.[1];
      const memory = /memory:\s*"(\d+) MB"/.exec(helper[2]!)?.[1];
      const timeout = call[2] ?? defaultTimeout;
      if (!timeout || !memory)
        throw new Error(`lambda-limits: no timeout/memory for ${entry} in stacks/${file}`);
      return { entry, timeoutMs: durationMs(timeout), memoryMb: Number(memory) };
    }
    const block = text.slice(at, at + 1_500);
    const timeout = /timeout:\s*"([^"]+)"/.exec(block)?.[1];
    const memory = /memory:\s*"(\d+) MB"/.exec(block)?.[1];
    if (!timeout || !memory)
      throw new Error(`lambda-limits: no timeout/memory for ${entry} in stacks/${file}`);
    return { entry, timeoutMs: durationMs(timeout), memoryMb: Number(memory) };
  }
  throw new Error(`lambda-limits: no stack deploys ${entry}`);
}

/** What the wrapper saw, per wrapped handler (for figures). */
export interface LimitStats {
  calls: number;
  maxResponseBytes: number;
  maxRequestBytes: number;
  maxMs: number;
  maxHeapMb: number;
}

export class LambdaLimitExceeded extends Error {
  override readonly name = "LambdaLimitExceeded";
}

/**
 * `handler` with the limits of `settings` around it. `invocation` "sync" checks the 6 MB response
 * and request; "async" checks the 256 KB event. Rejects with LambdaLimitExceeded on any excess.
 */
export function withLambdaLimits<E, R>(
  handler: (event: E) => Promise<R>,
  settings: DeployedSettings,
  invocation: "sync" | "async" = "sync",
): ((event: E) => Promise<R>) & { stats: LimitStats } {
  const stats: LimitStats = { calls: 0, maxResponseBytes: 0, maxRequestBytes: 0, maxMs: 0, maxHeapMb: 0 };
  const fail = (what: string): never => {
    throw new LambdaLimitExceeded(`${settings.entry}: ${what}`);
  };
  const wrapped = async (event: E): Promise<R> => {
    stats.calls++;
    const requestBytes = Buffer.byteLength(JSON.stringify(event) ?? "");
    stats.maxRequestBytes = Math.max(stats.maxRequestBytes, requestBytes);
    const requestLimit =
      invocation === "sync" ? LAMBDA_LIMITS.syncPayloadBytes : LAMBDA_LIMITS.asyncPayloadBytes;
    if (requestBytes > requestLimit)
      fail(`event of ${requestBytes} bytes exceeds the ${invocation} invocation limit of ${requestLimit}`);
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new LambdaLimitExceeded(
              `${settings.entry}: still running at its deployed timeout of ${settings.timeoutMs} ms`,
            ),
          ),
        settings.timeoutMs,
      );
    });
    let result: R;
    try {
      result = await Promise.race([handler(event), timedOut]);
    } finally {
      clearTimeout(timer);
    }
    stats.maxMs = Math.max(stats.maxMs, performance.now() - started);
    const responseBytes = Buffer.byteLength(JSON.stringify(result) ?? "");
    stats.maxResponseBytes = Math.max(stats.maxResponseBytes, responseBytes);
    if (invocation === "sync" && responseBytes > LAMBDA_LIMITS.syncPayloadBytes)
      fail(
        `response of ${responseBytes} bytes exceeds Lambda's ${LAMBDA_LIMITS.syncPayloadBytes}-byte limit`,
      );
    const heapMb = process.memoryUsage().heapUsed / 1024 / 1024;
    stats.maxHeapMb = Math.max(stats.maxHeapMb, heapMb);
    if (heapMb > settings.memoryMb)
      fail(`heap of ${heapMb.toFixed(0)} MB after the call exceeds its ${settings.memoryMb} MB`);
    return result;
  };
  return Object.assign(wrapped, { stats });
}
