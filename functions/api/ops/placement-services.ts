/**
 * The placement services of a deployment, or ENOTSUP when this one is configured without them
 * (a configuration fact, not a transient failure: retrying would not help).
 */
import { strataError } from "../../../core/errors.ts";
import type { ScopedView } from "../../../core/placement/index.ts";
import type { PlacementServices } from "../../../runtime/services.ts";
import type { OpContext } from "../operation.ts";

export function placementOf(ctx: OpContext, op: string): PlacementServices {
  const p = ctx.services.placement;
  if (!p)
    throw strataError(
      "ENOTSUP",
      `${op}: this deployment runs without placement (volume records, objectives, workflows); start it with openPlacement (runtime/services.ts)`,
      { op },
    );
  return p;
}

/**
 * A prefix-scoped caller's confined view for placement (core/placement ScopedView), undefined
 * for a token of the whole PFS.
 */
export function scopedView(ctx: OpContext): ScopedView | undefined {
  return ctx.principal.prefix === "/" ? undefined : { fs: ctx.fs, prefix: ctx.principal.prefix };
}

/** Background work started by an op (a drain, a reconcile): its failure must not crash the server. */
export function inBackground(work: Promise<unknown>): void {
  work.catch(() => {
    // Recorded per file on placement records; the sweeper retries what is left.
  });
}
