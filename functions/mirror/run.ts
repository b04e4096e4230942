/**
 * The mirror schedule: every tick, run each defined mirror for at most `maxPages` pages (the
 * next tick resumes from its sync TID). Locally through `services.schedules`
 * (`scheduleMirrors`); on AWS an EventBridge schedule invokes ./schedule.ts, which calls
 * `runMirrors` time-boxed to the invocation.
 */
import { isStrataError } from "../../core/errors.ts";
import {
  getMirrorDefinition,
  listMirrorDefinitions,
  type MirrorRunReport,
  runMirror,
} from "../../core/mirror/index.ts";
import type { Services } from "../api/services.ts";
import { type MirrorDeps, mirrorTarget, sourceFor } from "./sources.ts";

export interface MirrorRunOptions {
  limit?: number;
  maxPages?: number;
  /** No new page starts once `deps.clock()` reaches this time (ms); the next run resumes. */
  deadline?: number;
}

/** Run one mirror by name (the `mirror.run` operation), on the volumes as they are now. */
export async function runNamedMirror(
  deps: MirrorDeps,
  name: string,
  options: MirrorRunOptions = {},
): Promise<MirrorRunReport> {
  const def = await getMirrorDefinition(deps.namespace, name);
  return runMirror(await mirrorTarget(deps), def.target, await sourceFor(deps, def.source), options);
}

export interface MirrorTickEntry {
  name: string;
  report?: MirrorRunReport;
  error?: { code: string; message: string };
  /** Not started: the time box was over before its turn (it runs at the next tick). */
  deferred?: true;
}

/**
 * One tick: every mirror, each failure reported and the others still run. With `timeBudgetMs`,
 * no mirror starts and no page starts after the budget (one page of a started mirror may
 * overrun it; a full comparison is one step).
 */
export async function runMirrors(
  deps: MirrorDeps,
  options: { maxPages?: number; timeBudgetMs?: number } = {},
): Promise<MirrorTickEntry[]> {
  const deadline = options.timeBudgetMs === undefined ? undefined : deps.clock() + options.timeBudgetMs;
  const out: MirrorTickEntry[] = [];
  for (const def of await listMirrorDefinitions(deps.namespace)) {
    if (deadline !== undefined && deps.clock() >= deadline) {
      out.push({ name: def.name, deferred: true });
      continue;
    }
    try {
      out.push({
        name: def.name,
        report: await runNamedMirror(deps, def.name, {
          ...(options.maxPages !== undefined ? { maxPages: options.maxPages } : {}),
          ...(deadline !== undefined ? { deadline } : {}),
        }),
      });
    } catch (err) {
      out.push({
        name: def.name,
        error: { code: isStrataError(err) ? err.code : "EIO", message: (err as Error).message },
      });
    }
  }
  return out;
}

/** Register the schedule (local server); returns its cancel function, or undefined without schedules. */
export function scheduleMirrors(
  services: Services,
  everyMs = 60_000,
  maxPages = 10,
): (() => void) | undefined {
  return services.schedules?.every("mirror", everyMs, async () => {
    await runMirrors(services, { maxPages });
  });
}
