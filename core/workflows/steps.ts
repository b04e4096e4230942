/**
 * The placement workflow's steps by name, and how a step's error is named for the workflow's
 * Retry/Catch rules: a StrataError's code (ECORRUPT, ETHROTTLED, …) or the `workflowError` it
 * carries (GRACE_PENDING, GAVE_UP). Shared by the local runner and the step Lambda.
 */
import { isStrataError } from "../errors.ts";
import type { JobStore } from "../jobs/jobs.ts";
import type { Value } from "../metadata/port.ts";
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

/** What the job workflows' steps run against (the step Lambda and the local runner build it). */
export interface StepDeps {
  placement: Placement;
  /** Job records; without it a state naming a job is EINVAL. */
  jobs?: JobStore;
}

/** The job steps every job workflow ends its pages with (core/workflows/placement.ts `jobTail`). */
export const JOB_STEPS = ["jobStart", "jobProgress", "jobFailed"] as const;

/**
 * Any step of any workflow: the job steps, then the placement steps. A state without `job` (a
 * sweep the schedule started, not the API) reports to no record.
 */
export async function runStep(
  deps: StepDeps,
  step: string,
  state: Record<string, unknown>,
): Promise<unknown> {
  const job = typeof state.job === "string" ? state.job : undefined;
  if (job && !deps.jobs && (JOB_STEPS as readonly string[]).includes(step))
    throw Object.assign(new Error(`job ${job}: this runner has no job records`), { name: "EINVAL" });
  if (step === "jobStart") {
    // Started by the table stream (the cloud: a new job record → Pipe → this machine) with only
    // `{ job, start: true }`: the input is the record's cursor (a resumed job) or its input.
    if (!job || state.start !== true) return state;
    const record = await deps.jobs!.get(job);
    const from = (record.cursor as Record<string, unknown> | undefined) ?? record.input;
    return { ...from, job };
  }
  if (step === "jobProgress") {
    if (job)
      await deps.jobs!.progress(job, {
        done: state.done === true,
        ...(state.next !== undefined ? { cursor: state.next as Value } : {}),
        ...(state.counts && typeof state.counts === "object"
          ? { counts: state.counts as Record<string, number> }
          : {}),
      });
    // The page is reported: the next execution carries the cursor, not the page's list.
    const { jobs: _page, ...rest } = state;
    return rest;
  }
  if (step === "jobFailed") {
    const error = state.error as { Error?: string; Cause?: string } | undefined;
    if (job) await deps.jobs!.fail(job, { code: error?.Error ?? "EIO", message: error?.Cause ?? "failed" });
    return state;
  }
  return runPlacementStep(deps.placement, step, state as unknown as PlacementState);
}

/** The error a workflow sees: `name` is what Retry/Catch `ErrorEquals` match. */
export function workflowError(err: unknown): Error {
  const out = new Error(err instanceof Error ? err.message : String(err));
  if (isStrataError(err))
    out.name = typeof err.details.workflowError === "string" ? err.details.workflowError : err.code;
  else out.name = "EIO";
  return out;
}
