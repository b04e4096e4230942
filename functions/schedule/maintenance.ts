/**
 * Vacuum and scrub as scheduled work over a deployment's `Services`: the operations
 * (functions/api/ops/maintenance.ts), the local server's timers (`scheduleMaintenance`) and the
 * Lambda handlers (vacuum.ts, scrub.ts next to this file) all call these. Both runs are
 * time-boxed and resume from cursors kept in the table (core/maintenance), so a tick that runs
 * out of time simply continues at the next one.
 */
import { type FsckReport, fsck } from "../../core/maintenance/fsck.ts";
import { type ScrubReport, scrub } from "../../core/maintenance/scrub.ts";
import { type VacuumLogEntry, type VacuumReport, vacuum } from "../../core/maintenance/vacuum.ts";
import type { Services } from "../api/services.ts";

/**
 * What the maintenance runs need (a subset of the API's Services, so Lambda handlers can build
 * less). The runs take THE volume registry itself and ask it at each step, so a volume added at
 * runtime is vacuumed and scrubbed by the next step, and a removed one is no longer touched.
 */
export type MaintenanceDeps = Pick<Services, "store" | "namespace" | "clock" | "sha256" | "volumes"> & {
  /** Waits (vacuum's reader grace, scrub's pacing); tests pass one on their fake clock. */
  sleep?: (ms: number) => Promise<void>;
};

/** One line per deletion on stdout (JSON), as `apply` promises; silent in dry runs. */
function logDeletion(entry: VacuumLogEntry): void {
  if (entry.applied) console.info(JSON.stringify({ vacuum: entry }));
}

export async function runVacuum(
  deps: MaintenanceDeps | Services,
  options: { apply?: boolean; timeBudgetSeconds?: number; log?: (e: VacuumLogEntry) => void } = {},
): Promise<VacuumReport> {
  return vacuum({
    store: deps.store,
    namespace: deps.namespace,
    volumes: deps.volumes,
    clock: deps.clock,
    ...("sleep" in deps && deps.sleep ? { sleep: deps.sleep } : {}),
    apply: options.apply === true,
    ...(options.timeBudgetSeconds !== undefined ? { timeBudgetMs: options.timeBudgetSeconds * 1000 } : {}),
    log: options.log ?? logDeletion,
  });
}

export async function runScrub(
  deps: MaintenanceDeps | Services,
  options: { timeBudgetSeconds?: number; bytesPerSecond?: number; restart?: boolean } = {},
): Promise<ScrubReport> {
  return scrub({
    store: deps.store,
    volumes: deps.volumes,
    clock: deps.clock,
    ...("sleep" in deps && deps.sleep ? { sleep: deps.sleep } : {}),
    sha256: deps.sha256,
    ...(options.timeBudgetSeconds !== undefined ? { timeBudgetMs: options.timeBudgetSeconds * 1000 } : {}),
    ...(options.bytesPerSecond !== undefined ? { bytesPerSecond: options.bytesPerSecond } : {}),
    ...(options.restart ? { restart: true } : {}),
  });
}

/** fsck; with `objects` (default true) it also HEADs the objects of `present` instances. */
export async function runFsck(
  deps: Pick<Services, "store" | "volumes">,
  pfs?: string[],
  options: { objects?: boolean } = {},
): Promise<FsckReport> {
  return fsck({
    store: deps.store,
    ...(pfs ? { pfs } : {}),
    ...(options.objects === false ? {} : { volumes: deps.volumes }),
  });
}

/**
 * Register vacuum (applying, every `vacuumEveryMs`, default 1 h) and scrub (every `scrubEveryMs`,
 * default 6 h) on the local server's timers; each tick is time-boxed to half its interval (at
 * most 10 / 30 minutes).
 */
export function scheduleMaintenance(
  services: Services,
  options: { vacuumEveryMs?: number; scrubEveryMs?: number } = {},
): Array<() => void> {
  const schedules = services.schedules;
  if (!schedules) return [];
  const vacuumEvery = options.vacuumEveryMs ?? 60 * 60_000;
  const scrubEvery = options.scrubEveryMs ?? 6 * 60 * 60_000;
  const report = (name: string) => (r: { aborted?: { code: string; message: string } }) => {
    if (r.aborted) console.warn(JSON.stringify({ [name]: { aborted: r.aborted } }));
  };
  const off = () => {};
  // [cancel vacuum, cancel scrub]; an interval ≤ 0 registers nothing (its cancel is a no-op).
  return [
    vacuumEvery > 0
      ? schedules.every("vacuum", vacuumEvery, async () => {
          report("vacuum")(
            await runVacuum(services, { apply: true, timeBudgetSeconds: Math.min(600, vacuumEvery / 2000) }),
          );
        })
      : off,
    scrubEvery > 0
      ? schedules.every("scrub", scrubEvery, async () => {
          report("scrub")(await runScrub(services, { timeBudgetSeconds: Math.min(1800, scrubEvery / 2000) }));
        })
      : off,
  ];
}
