/** The placement services of a deployment, or a clear EUNAVAIL when this one runs without them. */
import type { PlacementServices } from "../../../adapters/workflows/placement.ts";
import { strataError } from "../../../core/errors.ts";
import type { OpContext } from "../operation.ts";

export function placementOf(ctx: OpContext, op: string): PlacementServices {
  const p = (ctx.services as { placement?: PlacementServices }).placement;
  if (!p)
    throw strataError(
      "EUNAVAIL",
      `${op}: this deployment runs without placement (volume records, objectives, workflows); start it with openPlacement (adapters/workflows/placement.ts)`,
      { op },
    );
  return p;
}

/** Background work started by an op (a drain, a reconcile): its failure must not crash the server. */
export function inBackground(work: Promise<unknown>): void {
  work.catch(() => {
    // Recorded per file on placement records; the sweeper retries what is left.
  });
}
