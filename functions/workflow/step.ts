/**
 * The placement workflow's step Lambda: every Task state of the state machine invokes it with
 * `{ step, state }` (core/workflows/definition.ts `toAsl`) and gets the next state back. A failure
 * is thrown as an Error whose `name` is the StrataError code (or the step's `workflowError`), which
 * Step Functions reports as the error name its Retry/Catch rules match.
 */
import type { PlacementState } from "../../core/placement/index.ts";
import { runPlacementStep, workflowError } from "../../core/workflows/steps.ts";
import { cloudPlacement } from "../../runtime/lambda.ts";

export interface StepEvent {
  step: string;
  state: PlacementState;
}

export async function handler(event: StepEvent): Promise<PlacementState> {
  const { placement } = await cloudPlacement();
  try {
    return await runPlacementStep(placement, event.step, event.state);
  } catch (err) {
    throw workflowError(err);
  }
}
