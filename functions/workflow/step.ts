/**
 * The placement workflow's step Lambda: every Task state of the state machine invokes it with
 * `{ step, state }` (core/workflows/definition.ts `toAsl`) and gets the next state back. A failure
 * is thrown as an Error whose `name` is the StrataError code (or the step's `workflowError`), which
 * Step Functions reports as the error name its Retry/Catch rules match.
 */
import { runStep, workflowError } from "../../core/workflows/steps.ts";
import { cloudPlacement } from "../../runtime/lambda.ts";

export interface StepEvent {
  step: string;
  state: Record<string, unknown>;
}

/** Every step of every workflow: placement's, the sweep's, the job steps (core/workflows/steps.ts `runStep`). */
export async function handler(event: StepEvent): Promise<unknown> {
  const { placement, jobs } = await cloudPlacement();
  try {
    return await runStep({ placement, jobs: jobs.store }, event.step, event.state);
  } catch (err) {
    throw workflowError(err);
  }
}
