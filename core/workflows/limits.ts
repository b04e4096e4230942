/**
 * Step Functions' hard limits as data, and how the in-process runner counts against them
 * (adapters/workflows/local.ts): the history events one Standard execution may record, and the
 * size of any state's input or output. A local run that passes either fails with
 * {@link limitExceeded} (E2BIG), so a workflow that would die in the cloud dies in tests first.
 *
 * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
 *   "Maximum execution history size: 25,000 events"
 *   "Maximum input or output size for a task, state, or execution: 256 KiB of data as a UTF-8 encoded string"
 */
import { StrataError } from "../errors.ts";

export interface WorkflowLimits {
  /** History events one execution may record (Standard workflows: 25,000). */
  maxEvents: number;
  /** UTF-8 bytes of any state's input or output, JSON-encoded (256 KiB). */
  maxStateBytes: number;
}

export const STEP_FUNCTIONS_LIMITS: WorkflowLimits = { maxEvents: 25_000, maxStateBytes: 256 * 1024 };

/** What one execution used, as the runner counted it. */
export interface ExecutionUsage {
  /** History events, counted as Step Functions records them ({@link historyEventsOf}). */
  events: number;
  /** The largest JSON state (execution input, any state's input or output, any Task payload), in bytes. */
  maxStateBytes: number;
}

/**
 * The history events Step Functions records for one event of the local engine's log
 * (aws-local-stepfunctions' `eventLogs`). AWS's history per state type:
 * - execution: ExecutionStarted, ExecutionSucceeded | ExecutionFailed | ExecutionAborted (1 each);
 * - every state: <Type>StateEntered and <Type>StateExited (1 each);
 * - a Task (Lambda resource): LambdaFunctionScheduled, LambdaFunctionStarted,
 *   LambdaFunctionSucceeded | LambdaFunctionFailed — 3 per attempt, so 3 more on entering and 3
 *   more per retry;
 * - a Map: MapStateStarted and MapStateSucceeded besides entered/exited, and per iteration
 *   MapIterationStarted and MapIterationSucceeded | MapIterationFailed.
 * So a Lambda Task that succeeds first time costs 5 events, as AWS's console shows.
 */
export function historyEventsOf(event: { type: string; state?: { type?: string } }): number {
  switch (event.type) {
    case "ExecutionStarted":
    case "ExecutionSucceeded":
    case "ExecutionFailed":
    case "ExecutionAborted":
    case "ExecutionTimeout":
    case "MapIterationStarted":
    case "MapIterationSucceeded":
    case "MapIterationFailed":
      return 1;
    case "StateEntered":
      return event.state?.type === "Task" ? 4 : event.state?.type === "Map" ? 2 : 1;
    case "StateExited":
      return event.state?.type === "Map" ? 2 : 1;
    case "StateRetried":
      return 3;
    default:
      // StateFailed / StateCaught: the failure is the attempt's LambdaFunctionFailed, counted on entry.
      return 0;
  }
}

/** UTF-8 bytes of a value as JSON (what Step Functions measures). */
export function stateBytes(value: unknown): number {
  const text = JSON.stringify(value ?? null);
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** The typed failure of a run that passed a limit (E2BIG, `details.limit` names which). */
export function limitExceeded(
  workflow: string,
  limit: "history-events" | "state-size",
  used: number,
  max: number,
  where?: string,
): StrataError {
  const what = limit === "history-events" ? "history events" : "bytes of state";
  return new StrataError(
    "E2BIG",
    `workflow ${workflow}: ${used} ${what}${where ? ` at ${where}` : ""} passes Step Functions' limit of ${max}; page the work (a fresh execution per page, chunk lists in pages)`,
    { details: { workflow, limit, used, max, ...(where ? { state: where } : {}) } },
  );
}
