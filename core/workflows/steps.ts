/**
 * The placement workflow's steps by name, and how a step's error is named for the workflow's
 * Retry/Catch rules: a StrataError's code (ECORRUPT, ETHROTTLED, …) or the `workflowError` it
 * carries (GRACE_PENDING, GAVE_UP). Shared by the local runner and the step Lambda.
 */
import { isStrataError } from "../errors.ts";
import type { Placement, PlacementState, SweepState } from "../placement/index.ts";

export type PlacementStep = "copy" | "verify" | "commit" | "trim" | "recordFailure";

export const PLACEMENT_STEPS: readonly PlacementStep[] = [
  "copy",
  "verify",
  "commit",
  "trim",
  "recordFailure",
];

export async function runPlacementStep(
  placement: Placement,
  step: string,
  state: PlacementState,
): Promise<PlacementState> {
  switch (step) {
    case "copy":
      return placement.copy(state);
    case "verify":
      return placement.verify(state);
    case "commit":
      return placement.commit(state);
    case "trim":
      return placement.trim(state);
    case "recordFailure":
      return placement.recordFailure(state);
    case "sweepList":
      return placement.sweepList(state as SweepState) as Promise<PlacementState>;
    default:
      throw Object.assign(new Error(`unknown placement step ${JSON.stringify(step)}`), { name: "EINVAL" });
  }
}

/** The error a workflow sees: `name` is what Retry/Catch `ErrorEquals` match. */
export function workflowError(err: unknown): Error {
  const out = new Error(err instanceof Error ? err.message : String(err));
  if (isStrataError(err))
    out.name = typeof err.details.workflowError === "string" ? err.details.workflowError : err.code;
  else out.name = "EIO";
  return out;
}
