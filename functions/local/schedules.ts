/**
 * The local deployment's timers (`services.schedules`): periodic jobs in this process. On AWS
 * EventBridge schedules invoke the same handlers. Their intervals are configuration
 * (STRATA_VACUUM_INTERVAL, STRATA_SCRUB_INTERVAL, STRATA_MIRROR_INTERVAL: runtime/config.ts).
 */
import type { Schedules } from "../api/services.ts";

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
