/**
 * Retention calculus (pure): HAMMER-style policies per PFS, the points in history they retain,
 * and the *watermark* that says which as-of points are still complete after vacuum pruned.
 *
 * A policy is a list of rules separated by `;`:
 *
 *   all 1h; hourly 1d; daily 30d; monthly 1y
 *
 * - `all <d>`: every point of the last `<d>` is kept exactly (any TID can be read as of).
 * - `<granularity> <d>` (minutely, hourly, daily, weekly, monthly, yearly): one point per
 *   boundary (UTC: the hour, midnight, Monday 00:00, the 1st, January 1st) during the last `<d>`.
 *   The point of boundary b is the state at the end of millisecond b (`dateToTid(b)`).
 * - durations: `<n>s|m|h|d|w|mo|y` (minutes, …, weeks = 7 d, mo = 30 d, y = 365 d) or `forever`.
 * - named snapshots are always kept until they are deleted; the live state is always kept.
 * - no policy (or the empty policy) keeps everything.
 *
 * A history record lives for [ctid, dtid): it is visible at point P iff ctid ≤ P < dtid. Vacuum
 * may remove it once no retained point sees it.
 */
import { strataError } from "../errors.ts";
import type { Tid } from "../namespace/api.ts";
import { makeTid, tidMs } from "../namespace/tid.ts";

export type Granularity = "minutely" | "hourly" | "daily" | "weekly" | "monthly" | "yearly";

export interface RetentionRule {
  /** "all" keeps every point of the window; a granularity keeps one point per boundary. */
  every: "all" | Granularity;
  /** How far back the rule reaches, ms (Infinity = forever). */
  forMs: number;
  /** The duration as written ("30d", "forever"). */
  duration: string;
}

export interface RetentionPolicy {
  rules: RetentionRule[];
  /** The policy as written (normalised spacing). */
  text: string;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const UNITS: Record<string, number> = {
  s: SECOND,
  m: MINUTE,
  h: HOUR,
  d: DAY,
  w: 7 * DAY,
  mo: 30 * DAY,
  y: 365 * DAY,
};
/** Rough length of one boundary step, to bound how many points a rule can retain. */
const STEP: Record<Granularity, number> = {
  minutely: MINUTE,
  hourly: HOUR,
  daily: DAY,
  weekly: 7 * DAY,
  monthly: 28 * DAY,
  yearly: 365 * DAY,
};
/** At most this many boundary points per rule (each is one TID in the watermark item). */
export const MAX_POINTS_PER_RULE = 2000;

function invalid(policy: string, message: string, rule?: string): never {
  throw strataError(
    "EINVAL",
    `retention policy "${policy}": ${message}. Write rules like "all 1h; hourly 1d; daily 30d; monthly 1y"`,
    { policy, ...(rule !== undefined ? { rule } : {}) },
  );
}

function parseDuration(policy: string, rule: string, text: string): number {
  if (text === "forever") return Number.POSITIVE_INFINITY;
  const m = /^(\d{1,6})(s|m|h|d|w|mo|y)$/.exec(text);
  if (!m) invalid(policy, `"${text}" is not a duration (<n>s|m|h|d|w|mo|y or forever)`, rule);
  const n = Number(m[1]);
  if (n <= 0) invalid(policy, `duration "${text}" must be positive`, rule);
  return n * UNITS[m[2]!]!;
}

/** Parse a policy; EINVAL (naming the bad rule) on any mistake, nothing else happens. */
export function parsePolicy(text: string): RetentionPolicy {
  if (typeof text !== "string") invalid(String(text), "the policy must be a string");
  if (text.length > 1000) invalid(text.slice(0, 40), "the policy is longer than 1,000 characters");
  const rules: RetentionRule[] = [];
  const seen = new Set<string>();
  for (const raw of text.split(";")) {
    const rule = raw.trim().replace(/\s+/g, " ");
    if (rule === "") continue;
    const parts = rule.split(" ");
    if (parts.length !== 2) invalid(text, `rule "${rule}" must be "<all|granularity> <duration>"`, rule);
    const [every, duration] = parts as [string, string];
    if (every !== "all" && !(every in STEP))
      invalid(
        text,
        `"${every}" is not "all" or a granularity (minutely, hourly, daily, weekly, monthly, yearly)`,
        rule,
      );
    if (seen.has(every)) invalid(text, `"${every}" appears twice`, rule);
    seen.add(every);
    const forMs = parseDuration(text, rule, duration);
    if (every !== "all" && !Number.isFinite(forMs) && every !== "monthly" && every !== "yearly")
      invalid(
        text,
        `"${every} forever" keeps unboundedly many points; only monthly and yearly may be kept forever`,
        rule,
      );
    if (every !== "all" && Number.isFinite(forMs)) {
      const points = forMs / STEP[every as Granularity];
      if (points > MAX_POINTS_PER_RULE)
        invalid(
          text,
          `rule "${rule}" keeps ~${Math.ceil(points)} points; at most ${MAX_POINTS_PER_RULE} per rule (use a coarser granularity)`,
          rule,
        );
    }
    rules.push({ every: every as RetentionRule["every"], forMs, duration });
  }
  return { rules, text: rules.map((r) => `${r.every} ${r.duration}`).join("; ") };
}

/** True when the policy keeps every point forever (no rule, or `all forever`). */
export function keepsEverything(policy: RetentionPolicy | undefined): boolean {
  return (
    !policy ||
    policy.rules.length === 0 ||
    policy.rules.some((r) => r.every === "all" && !Number.isFinite(r.forMs))
  );
}

/** The last boundary at or before `ms`. */
export function floorTo(ms: number, g: Granularity): number {
  switch (g) {
    case "minutely":
      return ms - (((ms % MINUTE) + MINUTE) % MINUTE);
    case "hourly":
      return ms - (((ms % HOUR) + HOUR) % HOUR);
    case "daily":
      return ms - (((ms % DAY) + DAY) % DAY);
    case "weekly": {
      const day = ms - (((ms % DAY) + DAY) % DAY);
      const weekday = (new Date(day).getUTCDay() + 6) % 7; // Monday = 0
      return day - weekday * DAY;
    }
    case "monthly": {
      const d = new Date(ms);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    }
    case "yearly":
      return Date.UTC(new Date(ms).getUTCFullYear(), 0, 1);
  }
}

/** The state at boundary ms `b`: every commit up to the end of that millisecond. */
export const boundaryTid = (b: number): Tid => makeTid(Math.max(0, b), 0xffff);

/** Boundary TIDs a rule retains at time `now` (newest first), capped at MAX_POINTS_PER_RULE. */
function ruleBoundaries(rule: RetentionRule & { every: Granularity }, now: number, oldestMs: number): Tid[] {
  const out: Tid[] = [];
  // No point before the PFS existed (`oldestMs`): the oldest retained point is one it can show.
  const from = Math.max(Number.isFinite(rule.forMs) ? now - rule.forMs : 0, oldestMs - 1);
  for (let b = floorTo(now, rule.every); b > from && b >= 0 && out.length < MAX_POINTS_PER_RULE; ) {
    out.push(boundaryTid(b));
    b = floorTo(b - 1, rule.every);
  }
  return out;
}

/**
 * What the policy keeps at time `now`: every point ≥ `exactFrom`, plus the boundary `points`
 * below it (sorted ascending). `oldestMs` bounds `forever` granular rules (the PFS's birth).
 */
export function retainedAt(
  policy: RetentionPolicy,
  now: number,
  oldestMs = 0,
): { exactFrom: Tid; points: Tid[] } {
  const all = policy.rules.find((r) => r.every === "all");
  const exactMs = all ? (Number.isFinite(all.forMs) ? now - all.forMs : -1) : now;
  const exactFrom = exactMs < 0 ? makeTid(0, 0) : makeTid(exactMs, 0);
  const points = new Set<Tid>();
  for (const rule of policy.rules)
    if (rule.every !== "all")
      for (const p of ruleBoundaries(rule as RetentionRule & { every: Granularity }, now, oldestMs))
        if (p < exactFrom) points.add(p);
  return { exactFrom, points: [...points].sort() };
}

/**
 * When a record living [ctid, dtid) stops being visible at any point the policy retains
 * (ignoring snapshots): ms since the epoch; 0 = already. Vacuum schedules its check then.
 */
export function dueAt(policy: RetentionPolicy, ctid: Tid, dtid: Tid): number {
  let due = 0;
  const dMs = tidMs(dtid);
  for (const rule of policy.rules) {
    if (!Number.isFinite(rule.forMs)) {
      if (rule.every === "all") return Number.POSITIVE_INFINITY;
    }
    if (rule.every === "all") {
      // Points just below dtid (ms ≤ dMs) stay in the window until now - forMs > dMs.
      due = Math.max(due, dMs + rule.forMs + 1);
      continue;
    }
    let b = floorTo(dMs, rule.every);
    if (boundaryTid(b) >= dtid) b = floorTo(b - 1, rule.every);
    if (b < 0 || boundaryTid(b) < ctid) continue;
    if (!Number.isFinite(rule.forMs)) return Number.POSITIVE_INFINITY;
    due = Math.max(due, b + rule.forMs + 1);
  }
  return due;
}

/**
 * Which as-of points are complete (no record visible there was removed): every point ≥
 * `exactFrom`, and exactly the TIDs in `points` below it. Absent watermark = everything is
 * complete (nothing was ever pruned). Vacuum writes the next one BEFORE it deletes anything, and
 * deletes only records that no complete point of the new watermark (nor any snapshot) sees.
 */
export interface Watermark {
  exactFrom: Tid;
  /** Complete points below exactFrom, ascending (policy boundaries and snapshot TIDs). */
  points: Tid[];
  /** When vacuum computed it (ms). */
  time: number;
  /** Incremented by every advance (the conditional write's guard). */
  seq: number;
}

export function isComplete(w: Watermark | undefined, tid: Tid): boolean {
  return !w || tid >= w.exactFrom || w.points.includes(tid);
}

/**
 * The next watermark: what the policy keeps now ∩ what was still complete before (a point pruned
 * earlier never becomes complete again, even if the policy grows), plus complete snapshot TIDs.
 * Returns `prev` unchanged when the policy keeps everything.
 */
export function nextWatermark(
  prev: Watermark | undefined,
  policy: RetentionPolicy | undefined,
  now: number,
  snapshotTids: Tid[],
  oldestMs = 0,
): Watermark | undefined {
  if (!policy || keepsEverything(policy)) return prev;
  const kept = retainedAt(policy, now, oldestMs);
  const exactFrom = prev && prev.exactFrom > kept.exactFrom ? prev.exactFrom : kept.exactFrom;
  const points = new Set<Tid>();
  for (const p of [...kept.points, ...snapshotTids]) if (p < exactFrom && isComplete(prev, p)) points.add(p);
  // Points that were ≥ the old exactFrom but fall below the new one are kept only if retained.
  return { exactFrom, points: [...points].sort(), time: now, seq: (prev?.seq ?? 0) + 1 };
}

/** True when any complete point of `w` (or a snapshot) sees a record living [ctid, dtid). */
export function visibleAtAny(w: Watermark | undefined, snapshotTids: Tid[], ctid: Tid, dtid: Tid): boolean {
  if (!w) return true;
  if (dtid > w.exactFrom) return true;
  for (const p of w.points) if (ctid <= p && p < dtid) return true;
  for (const p of snapshotTids) if (ctid <= p && p < dtid) return true;
  return false;
}

/** The oldest point still complete (for EPRUNED's details). */
export function oldestComplete(w: Watermark): Tid {
  return w.points[0] ?? w.exactFrom;
}

/**
 * The TID an as-of read at `tid` uses: `tid` itself when complete; inside a coarse zone the
 * newest complete point at or before it (a whole, older state — never a mix); older than every
 * complete point: EPRUNED with `details.oldest` = { tid, time }.
 */
export function snapToComplete(w: Watermark | undefined, tid: Tid, pfs?: string): Tid {
  if (isComplete(w, tid)) return tid;
  const ws = w!;
  let best: Tid | undefined;
  for (const p of ws.points) if (p <= tid) best = p;
  if (best !== undefined) return best;
  const oldest = oldestComplete(ws);
  throw strataError(
    "EPRUNED",
    `history of PFS ${pfs ?? "?"} at ${tid} (${new Date(tidMs(tid)).toISOString()}) was pruned by retention; the oldest point that still exists is ${oldest} (${new Date(tidMs(oldest)).toISOString()})`,
    { pfs, asOf: tid, oldest: { tid: oldest, time: new Date(tidMs(oldest)).toISOString() } },
  );
}
