/**
 * The mirror schedule: every `everyMs`, run each defined mirror for at most `maxPages` pages
 * (the next tick resumes from its sync TID). Locally through `services.schedules`; on AWS an
 * EventBridge schedule invokes `runMirrors` the same way.
 */
import { isStrataError } from "../../core/errors.ts";
import {
  getMirrorDefinition,
  listMirrorDefinitions,
  type MirrorRunReport,
  runMirror,
} from "../../core/mirror/index.ts";
import type { Services } from "../api/services.ts";
import { sourceFor, volumesOf } from "./sources.ts";

/** Run one mirror by name (the `mirror.run` operation). */
export async function runNamedMirror(
  services: Services,
  name: string,
  options: { limit?: number; maxPages?: number } = {},
): Promise<MirrorRunReport> {
  const def = await getMirrorDefinition(services.namespace, name);
  return runMirror(
    { ns: services.namespace, volumes: volumesOf(services), clock: services.clock },
    def.target,
    sourceFor(services, def.source),
    options,
  );
}

/** One tick: every mirror, each failure reported and the others still run. */
export async function runMirrors(
  services: Services,
  options: { maxPages?: number } = {},
): Promise<Array<{ name: string; report?: MirrorRunReport; error?: { code: string; message: string } }>> {
  const out: Array<{ name: string; report?: MirrorRunReport; error?: { code: string; message: string } }> =
    [];
  for (const def of await listMirrorDefinitions(services.namespace)) {
    try {
      out.push({ name: def.name, report: await runNamedMirror(services, def.name, options) });
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
