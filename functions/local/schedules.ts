/**
 * The local deployment's timers (`services.schedules`): periodic jobs in this process. On AWS
 * EventBridge schedules invoke the same handlers. Their intervals are configuration
 * (STRATA_VACUUM_INTERVAL, STRATA_SCRUB_INTERVAL, STRATA_MIRROR_INTERVAL: runtime/config.ts).
 */
import { isStrataError } from "../../core/errors.ts";
import type { Schedules } from "../api/services.ts";
import type { Log } from "./log.ts";

/**
 * Jobs on timers. A job never runs twice at once (a tick while it runs is skipped). `stop()`
 * clears the timers, aborts each running job through its signal and waits for it to return, so a
 * deployment closes its stores only after every job has finished or given up. With a `log`, one
 * line per run: `job name=… status=ok|failed ms=…` (failed: at level error, with the code).
 */
export function timerSchedules(log?: Log): Schedules & { stop(): Promise<void> } {
  type Entry = { timer: NodeJS.Timeout; running?: Promise<void>; abort: AbortController };
  const tasks = new Map<string, Entry>();
  return {
    every(name, everyMs, task) {
      const abort = new AbortController();
      const entry: Entry = {
        abort,
        timer: setInterval(() => {
          if (entry.running || abort.signal.aborted) return;
          const started = performance.now();
          const ms = () => Math.round(performance.now() - started);
          entry.running = task(abort.signal)
            .then(() => log?.write("info", "job", { name, status: "ok", ms: ms() }))
            .catch((err) => {
              if (abort.signal.aborted) return;
              if (!log) console.error(`strata: schedule ${name} failed:`, err);
              else
                log.write("error", "job", {
                  name,
                  status: "failed",
                  ms: ms(),
                  code: isStrataError(err) ? err.code : "EIO",
                  error: (err as Error)?.message ?? String(err),
                });
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
