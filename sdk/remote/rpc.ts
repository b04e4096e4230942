/**
 * The remote SDK's transport: one API call (`POST /v1[/pfs/{pfs}]/ops/{op}`) with its
 * Idempotency-Key and retries, HTTP errors back to StrataErrors, and the wire forms of its
 * arguments (core/wire.ts).
 */
import { randomUUID } from "node:crypto";
import { type BackoffPolicy, backoff } from "../../core/backoff.ts";
import {
  ERROR_CODES,
  type ErrorCode,
  type ErrorDetails,
  isStrataError,
  StrataError,
  strataError,
} from "../../core/errors.ts";
import type { AsOf } from "../../core/namespace/api.ts";
import { fromWire, toWire } from "../../core/wire.ts";
import { postJson, type RpcReply } from "./transport.ts";

/** The pause before retrying a call: full jitter, 25 ms · 2^attempt. */
const RPC_BACKOFF: BackoffPolicy = { baseMs: 25 };

/**
 * Is the server's `details` an object (the shape every error's details have)? Its keys and their
 * types are the server's (core/errors.ts DetailsByCode); anything else is dropped.
 */
function isDetails(value: unknown): value is ErrorDetails {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A StrataError from an HTTP error body (exact code round trip); EIO/EUNAVAIL when there is none. */
export function errorFrom(status: number, text: string, what: string): StrataError {
  try {
    const body = JSON.parse(text) as {
      error?: { code?: string; message?: string; details?: unknown };
    };
    const e = body.error;
    if (e && typeof e.code === "string" && e.code in ERROR_CODES) {
      const message = (e.message ?? "").replace(new RegExp(`^${e.code}: `), "");
      const details = fromWire(e.details);
      return new StrataError(e.code as ErrorCode, message, { details: isDetails(details) ? details : {} });
    }
  } catch {
    // not JSON: fall through
  }
  return strataError(
    status >= 500 ? "EUNAVAIL" : "EIO",
    `${what} answered HTTP ${status}: ${text.slice(0, 200)}`,
    {
      status,
    },
  );
}

export function networkError(err: unknown, what: string, signal?: AbortSignal): StrataError {
  if (isStrataError(err)) return err;
  if (signal?.aborted)
    return new StrataError("EABORTED", `${what} was aborted by the caller`, { cause: signal.reason });
  return new StrataError("EUNAVAIL", `${what} failed: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
  });
}

/** strata's HTTP API as calls: `call(op, input)` → the operation's answer, or its StrataError. */
export class Rpc {
  constructor(
    readonly endpoint: string,
    private readonly token: string | undefined,
    readonly defaultPfs: string,
    private readonly retries = 3,
    private readonly idempotencyKeys = true,
  ) {}

  /**
   * One API call. It carries a fresh Idempotency-Key (the server honours it for mutating
   * operations), and every retry — after a network failure, whose request may have been applied,
   * or a retryable answer — sends the same key, so a lost reply comes back as the original answer.
   */
  async call<T>(
    op: string,
    input: unknown,
    options: { pfs?: string; signal?: AbortSignal } = {},
  ): Promise<T> {
    const path =
      options.pfs === undefined ? `/v1/ops/${op}` : `/v1/pfs/${encodeURIComponent(options.pfs)}/ops/${op}`;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "x-strata-pfs": encodeURIComponent(this.defaultPfs),
    };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (this.idempotencyKeys) headers["idempotency-key"] = randomUUID();
    let body: string;
    try {
      body = JSON.stringify(toWire(input));
    } catch (err) {
      // e.g. a BigInt or a cyclic object among the arguments: bad input, not a network failure
      throw strataError(
        "EINVAL",
        `${op}: the arguments cannot be sent as JSON: ${(err as Error).message}`,
        { op },
        err,
      );
    }
    for (let attempt = 0; ; attempt++) {
      let res: RpcReply;
      let text: string;
      try {
        try {
          // A keep-alive connection (./transport.ts): the HTTP path's cost per call.
          res = await postJson(this.endpoint + path, headers, body, options.signal);
          text = res.text;
        } catch (err) {
          throw networkError(err, `${op} at ${this.endpoint}`, options.signal);
        }
        if (!res.ok) throw errorFrom(res.status, text, `${op} at ${this.endpoint}`);
      } catch (err) {
        if (!isStrataError(err) || !err.retryable || attempt >= this.retries || options.signal?.aborted)
          throw err;
        await backoff(attempt, RPC_BACKOFF);
        continue;
      }
      return fromWire(JSON.parse(text)) as T;
    }
  }
}

/** An as-of point as the API takes it (EINVAL for an invalid Date, before any request). */
export function asOfToWire(point: AsOf): string | { snapshot: string } {
  if (!(point instanceof Date)) return point;
  if (Number.isNaN(point.getTime()))
    throw strataError("EINVAL", "an as-of Date must be a valid time", { asOf: String(point) });
  return point.toISOString();
}

/** Every item of a paged list operation (each reply ≤ 1 MB; `next` resumes). */
export async function allPages<P extends { next?: string }, T>(
  page: (cursor: string | undefined) => Promise<P>,
  itemsOf: (page: P) => T[],
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const p = await page(cursor);
    out.push(...itemsOf(p));
    cursor = p.next;
  } while (cursor !== undefined);
  return out;
}
