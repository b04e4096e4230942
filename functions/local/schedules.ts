/**
 * The local deployment's schedules: periodic jobs on timers (`services.schedules`), and their
 * intervals from the environment. On AWS EventBridge schedules invoke the same handlers.
 *
 *   STRATA_VACUUM_INTERVAL   default 1h   vacuum, APPLYING (the CLI's `vacuum` is a dry run)
 *   STRATA_SCRUB_INTERVAL    default 6h   scrub
 *   STRATA_MIRROR_INTERVAL   default 1m   every defined mirror
 *
 * A value is a duration (`90s`, `15m`, `2h`, `1d`, or plain seconds); `off` or `0` disables it.
 */
import { parseDurationMs } from "../../core/duration.ts";
import { strataError } from "../../core/errors.ts";
import type { Schedules } from "../api/services.ts";

export interface ScheduleIntervals {
  /** ms; 0 = not scheduled. */
  vacuumMs: number;
  scrubMs: number;
  mirrorMs: number;
}

export const DEFAULT_INTERVALS: ScheduleIntervals = {
  vacuumMs: 60 * 60_000,
  scrubMs: 6 * 60 * 60_000,
  mirrorMs: 60_000,
};

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

/** Intervals from STRATA_VACUUM_INTERVAL, STRATA_SCRUB_INTERVAL, STRATA_MIRROR_INTERVAL. */
export function intervalsFromEnv(env: NodeJS.ProcessEnv = process.env): ScheduleIntervals {
  const pick = (name: string, fallback: number) =>
    env[name] === undefined || env[name] === "" ? fallback : parseInterval(name, env[name]!);
  return {
    vacuumMs: pick("STRATA_VACUUM_INTERVAL", DEFAULT_INTERVALS.vacuumMs),
    scrubMs: pick("STRATA_SCRUB_INTERVAL", DEFAULT_INTERVALS.scrubMs),
    mirrorMs: pick("STRATA_MIRROR_INTERVAL", DEFAULT_INTERVALS.mirrorMs),
  };
}

/**
 * Jobs on timers. A job never runs twice at once (a tick while it runs is skipped). `stop()`
 * clears the timers, aborts each running job through its signal and waits for it to return, so a
 * deployment closes its stores only after every job has finished or given up.
 */
export function timerSchedules(): Schedules & { stop(): Promise<void> } {
  type Entry = { timer: NodeJS.Timeout; running?: Promise<void>; abort: AbortController };
  const tasks = new Map<string, Entry>();
  return {
    every(name, everyMs, task) {
      const abort = new AbortController();
      const entry: Entry = {
        abort,
        timer: setInterval(() => {
          if (entry.running || abort.signal.aborted) return;
          entry.running = task(abort.signal)
            .catch((err) => {
              if (!abort.signal.aborted) console.error(`strata: schedule ${name} failed:`, err);
            })
            .finally(() => {
              entry.running = undefined;
            });
        }, everyMs),
      };
      entry.timer.unref();
      tasks.set(name, entry);
      return () => {
        clearInterval(entry.timer);
        abort.abort();
        tasks.delete(name);
      };
    },
    names: () => [...tasks.keys()],
    async stop() {
      for (const t of tasks.values()) {
        clearInterval(t.timer);
        t.abort.abort();
      }
      await Promise.allSettled([...tasks.values()].map((t) => t.running));
      tasks.clear();
    },
  };
}
