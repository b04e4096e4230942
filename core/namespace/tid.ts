/**
 * TIDs: a hybrid logical clock. A TID is 64 bits — 48 bits of milliseconds since the epoch and a
 * 16-bit logical counter — written as 16 lowercase hex digits, so string order = numeric order =
 * commit order, and a TID converts to and from wall time (`tidToDate`, `dateToTid`).
 *
 * The clock never goes backwards: `next()` is above every TID it issued or `observe`d, even when
 * the physical clock stalls or steps back (the counter absorbs it; on counter overflow the
 * millisecond part advances).
 */
import { strataError } from "../errors.ts";
import type { Tid } from "./api.ts";

export const ZERO_TID: Tid = "0000000000000000";
export const MAX_TID: Tid = "ffffffffffffffff";
const TID_RE = /^[0-9a-f]{16}$/;
const MAX_MS = 2 ** 48 - 1;

export function isTid(value: unknown): value is Tid {
  return typeof value === "string" && TID_RE.test(value);
}

export function makeTid(ms: number, counter: number): Tid {
  return ms.toString(16).padStart(12, "0") + counter.toString(16).padStart(4, "0");
}

export function tidMs(tid: Tid): number {
  return Number.parseInt(tid.slice(0, 12), 16);
}

export function tidCounter(tid: Tid): number {
  return Number.parseInt(tid.slice(12), 16);
}

/** The wall-clock time of a TID (millisecond precision). */
export function tidToDate(tid: Tid): Date {
  return new Date(tidMs(tid));
}

/** The last TID of that millisecond: every commit at or before `date` has a TID ≤ this one. */
export function dateToTid(date: Date): Tid {
  const ms = date.getTime();
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_MS)
    throw strataError("EINVAL", `date ${String(date)} is outside the TID range`);
  return makeTid(Math.floor(ms), 0xffff);
}

/** Bitwise complement, digit by digit: newer TIDs get smaller inverted keys, so they sort first. */
const INVERTED: Readonly<Record<string, string>> = Object.fromEntries(
  [..."0123456789abcdef"].map((d, i) => [d, (15 - i).toString(16)]),
);

export function invertTid(tid: Tid): string {
  let out = "";
  for (let i = 0; i < tid.length; i++) {
    const d = tid[i]!;
    // Table lookup for hex digits (every TID); the arithmetic form for anything else, as before.
    out += INVERTED[d] ?? (15 - Number.parseInt(d, 16)).toString(16);
  }
  return out;
}

/** The TID right after `tid`. */
export function nextTid(tid: Tid): Tid {
  const ms = tidMs(tid);
  const c = tidCounter(tid);
  return c === 0xffff ? makeTid(ms + 1, 0) : makeTid(ms, c + 1);
}

export function maxTid(a: Tid, b: Tid): Tid {
  return a > b ? a : b;
}

/** A hybrid logical clock over an injected millisecond clock. */
export class HybridClock {
  private last: Tid = ZERO_TID;

  constructor(private readonly clock: () => number) {}

  /** A fresh TID above every TID issued or observed so far. */
  next(): Tid {
    const physical = Math.floor(this.clock());
    const lastMs = tidMs(this.last);
    this.last = physical > lastMs ? makeTid(Math.min(physical, MAX_MS), 0) : nextTid(this.last);
    return this.last;
  }

  /** Move the clock past a TID seen elsewhere (another engine's commit, a closed TID). */
  observe(tid: Tid): void {
    if (tid > this.last) this.last = tid;
  }

  /** The highest TID issued or observed (without issuing a new one). */
  peek(): Tid {
    return this.last;
  }
}
