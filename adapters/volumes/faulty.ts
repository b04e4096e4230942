/**
 * `faultyVolume(driver, plan)`: a VolumeDriver that injects faults into another one, for tests of
 * retries, integrity checks and lost replies (the conformance suite and later layers use it).
 *
 * ```ts
 * const flaky = faultyVolume(driver, {
 *   put: [{ fault: "throttle", times: 2 }],                       // first two puts: ETHROTTLED
 *   get: [{ fault: "corrupt", when: (key) => key.endsWith(".bin") }], // flip a byte of every such read
 *   seed: 7, head: [{ fault: "unavailable", probability: 0.1 }],    // seeded, reproducible
 * });
 * flaky.injected.total; flaky.calls.put;
 * ```
 *
 * A rule fires when all its conditions hold: fewer than `times` firings so far (unbounded when
 * absent), `when(key)` (for list: the prefix; for copy: the source, with the target as 2nd
 * argument), and a draw below `probability` from a PRNG seeded with `plan.seed`. Several rules of
 * one op may fire on one call, in order; one that fails the call before it is made (throttle,
 * unavailable) ends the list, so later rules are neither evaluated nor counted.
 *
 * Faults:
 *   throttle     ETHROTTLED before the inner call (nothing applied)
 *   unavailable  EUNAVAIL before the inner call (nothing applied)
 *   latency      wait `ms` before the inner call
 *   drop         the connection drops mid-body: a get's body throws EUNAVAIL after `afterBytes`
 *                bytes (default 1,024, or at its end if shorter); a put's body throws EUNAVAIL to the
 *                inner driver after `afterBytes` bytes, so the driver must abandon the upload. Other
 *                ops: EUNAVAIL before the call.
 *   corrupt      get only: one byte of the body, at offset `at` (default 0), is flipped in transit
 *   lostReply    the op is applied on the inner driver, then `error` (EUNAVAIL default, or ETIMEDOUT)
 *                is thrown instead of its result
 */
import { StrataError } from "../../core/errors.ts";
import { mulberry32 } from "../../core/random.ts";
import type { GetResult, PutBody, VolumeDriver } from "../../core/volume/port.ts";

export type FaultOp = "put" | "get" | "head" | "list" | "delete" | "copy";
export type FaultKind = "throttle" | "unavailable" | "latency" | "drop" | "corrupt" | "lostReply";

export interface FaultRule {
  fault: FaultKind;
  /** Fire at most this many times (default: every matching call). */
  times?: number;
  /** Fire only for matching keys. */
  when?: (key: string, targetKey?: string) => boolean;
  /** Fire with this probability, drawn from the plan's seeded PRNG. */
  probability?: number;
  /** latency: milliseconds to wait. */
  ms?: number;
  /** drop: bytes that get through before the connection drops (default 1,024). */
  afterBytes?: number;
  /** corrupt: offset in the body of the flipped byte (default 0; clipped to the last byte). */
  at?: number;
  /** lostReply: the error thrown after the op was applied (default EUNAVAIL). */
  error?: "EUNAVAIL" | "ETIMEDOUT";
}

export type FaultPlan = Partial<Record<FaultOp, FaultRule | FaultRule[]>> & {
  /** Seed of the PRNG behind `probability` (default 1). */
  seed?: number;
};

export interface FaultCounters {
  total: number;
  byKind: Record<FaultKind, number>;
  byOp: Record<FaultOp, number>;
}

export interface FaultyVolumeDriver extends VolumeDriver {
  /** Faults injected so far. */
  readonly injected: FaultCounters;
  /** Calls received per op (including those that a fault failed). */
  readonly calls: Record<FaultOp, number>;
  readonly inner: VolumeDriver;
}

const OPS: FaultOp[] = ["put", "get", "head", "list", "delete", "copy"];
const KINDS: FaultKind[] = ["throttle", "unavailable", "latency", "drop", "corrupt", "lostReply"];

export function faultyVolume(inner: VolumeDriver, plan: FaultPlan): FaultyVolumeDriver {
  const random = mulberry32(plan.seed ?? 1);
  const rules = new Map<FaultOp, { rule: FaultRule; fired: number }[]>();
  for (const op of OPS) {
    const given = plan[op];
    const list = given === undefined ? [] : Array.isArray(given) ? given : [given];
    for (const rule of list) {
      if (rule.fault === "corrupt" && op !== "get") {
        throw new StrataError("EINVAL", `faultyVolume: "corrupt" applies to get only, not to ${op}`);
      }
    }
    rules.set(
      op,
      list.map((rule) => ({ rule, fired: 0 })),
    );
  }
  const injected: FaultCounters = {
    total: 0,
    byKind: Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<FaultKind, number>,
    byOp: Object.fromEntries(OPS.map((o) => [o, 0])) as Record<FaultOp, number>,
  };
  const calls = Object.fromEntries(OPS.map((o) => [o, 0])) as Record<FaultOp, number>;

  const fail = (code: "ETHROTTLED" | "EUNAVAIL" | "ETIMEDOUT", op: FaultOp, key: string, what: string) =>
    new StrataError(
      code,
      `volume \`${inner.name}\`: injected fault (${what}) on ${op} of ${JSON.stringify(key)}`,
      {
        details: { volume: inner.name, key, injected: true },
      },
    );

  /** The rules that fire for this call (counted), in plan order. */
  function firing(op: FaultOp, key: string, target?: string): FaultRule[] {
    calls[op]++;
    const out: FaultRule[] = [];
    for (const entry of rules.get(op) ?? []) {
      const { rule } = entry;
      if (rule.times !== undefined && entry.fired >= rule.times) continue;
      if (rule.when && !rule.when(key, target)) continue;
      if (rule.probability !== undefined && !(random() < rule.probability)) continue;
      entry.fired++;
      injected.total++;
      injected.byKind[rule.fault]++;
      injected.byOp[op]++;
      out.push(rule);
      // A fault that fails the call before it is made ends the list: later rules never see it.
      const failsNow =
        rule.fault === "throttle" ||
        rule.fault === "unavailable" ||
        (rule.fault === "drop" && op !== "get" && op !== "put");
      if (failsNow) break;
    }
    return out;
  }

  /** Faults that act before the inner call; returns those that act after or on the body. */
  async function before(op: FaultOp, key: string, fired: FaultRule[]): Promise<FaultRule[]> {
    const later: FaultRule[] = [];
    for (const rule of fired) {
      switch (rule.fault) {
        case "throttle":
          throw fail("ETHROTTLED", op, key, "throttled");
        case "unavailable":
          throw fail("EUNAVAIL", op, key, "unavailable");
        case "latency":
          await new Promise((resolve) => setTimeout(resolve, rule.ms ?? 0));
          break;
        case "drop":
          if (op !== "get" && op !== "put") throw fail("EUNAVAIL", op, key, "connection dropped");
          later.push(rule);
          break;
        default:
          later.push(rule);
      }
    }
    return later;
  }

  async function run<T>(op: FaultOp, key: string, fired: FaultRule[], fn: () => Promise<T>): Promise<T> {
    const later = await before(op, key, fired);
    const result = await fn();
    const lost = later.find((r) => r.fault === "lostReply");
    if (lost) {
      const body = (result as Partial<GetResult> | undefined)?.body;
      if (body) await body[Symbol.asyncIterator]().return?.();
      throw fail(lost.error ?? "EUNAVAIL", op, key, "applied, reply lost");
    }
    return result;
  }

  const driver: FaultyVolumeDriver = {
    name: inner.name,
    capabilities: inner.capabilities,
    injected,
    calls,
    inner,

    async put(key, body, options) {
      const fired = firing("put", key);
      const drop = fired.find((r) => r.fault === "drop");
      return await run("put", key, fired, () =>
        inner.put(
          key,
          drop
            ? droppingPutBody(body, drop.afterBytes ?? 1024, () =>
                fail("EUNAVAIL", "put", key, "connection dropped mid-body"),
              )
            : body,
          options,
        ),
      );
    },

    async get(key, options) {
      const fired = firing("get", key);
      const result = await run("get", key, fired, () => inner.get(key, options));
      let body = result.body;
      for (const rule of fired) {
        if (rule.fault === "corrupt") body = corrupting(body, rule.at ?? 0);
        if (rule.fault === "drop") {
          body = dropping(body, rule.afterBytes ?? 1024, () =>
            fail("EUNAVAIL", "get", key, "connection dropped mid-body"),
          );
        }
      }
      return { info: result.info, body };
    },

    async head(key, options) {
      return await run("head", key, firing("head", key), () => inner.head(key, options));
    },

    async list(prefix, options) {
      return await run("list", prefix, firing("list", prefix), () => inner.list(prefix, options));
    },

    async delete(key, options) {
      await run("delete", key, firing("delete", key), () => inner.delete(key, options));
    },

    close: inner.close ? () => inner.close!() : undefined,
  };
  if (inner.copy) {
    const copy = inner.copy.bind(inner);
    driver.copy = async (source, target, options) =>
      await run("copy", source, firing("copy", source, target), () => copy(source, target, options));
  }
  return driver;
}

async function* dropping(
  body: AsyncIterable<Uint8Array>,
  afterBytes: number,
  error: () => StrataError,
): AsyncGenerator<Uint8Array> {
  let sent = 0;
  const iterator = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      const chunk = next.value;
      if (sent + chunk.byteLength >= afterBytes) {
        if (afterBytes > sent) yield chunk.subarray(0, afterBytes - sent);
        break;
      }
      sent += chunk.byteLength;
      yield chunk;
    }
  } finally {
    await iterator.return?.();
  }
  throw error();
}

/** A PutBody whose bytes stop after `afterBytes` with an error, as a dropped upload connection. */
function droppingPutBody(body: PutBody, afterBytes: number, error: () => StrataError): PutBody {
  return {
    declaredSize: body.declaredSize,
    declaredCrc32c: body.declaredCrc32c,
    crc32c: () => body.crc32c(),
    size: () => body.size(),
    [Symbol.asyncIterator]: () => dropping(body, afterBytes, error),
  };
}

async function* corrupting(body: AsyncIterable<Uint8Array>, at: number): AsyncGenerator<Uint8Array> {
  let offset = 0;
  let done = false;
  let last: Uint8Array | undefined;
  for await (const chunk of body) {
    if (last) yield last;
    last = undefined;
    if (!done && at < offset + chunk.byteLength) {
      const copy = Uint8Array.from(chunk);
      copy[at - offset] = (copy[at - offset] ?? 0) ^ 0xff;
      done = true;
      yield copy;
    } else if (!done) {
      last = chunk; // held back, so a short body still gets its last byte flipped
    } else {
      yield chunk;
    }
    offset += chunk.byteLength;
  }
  if (last) {
    const copy = Uint8Array.from(last);
    copy[copy.length - 1] = (copy[copy.length - 1] ?? 0) ^ 0xff;
    yield copy;
  }
}
