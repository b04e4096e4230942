/**
 * Workflows as data: a small typed model of a state machine (tasks that name a *step*, with
 * retries and catches; choices are not needed yet) and its compilation to Amazon States Language
 * (JSONPath only — aws-local-stepfunctions ignores JSONata, and Step Functions runs JSONPath
 * everywhere). The same compiled definition runs in-process (adapters/workflows/local.ts, Task
 * states overridden by the step functions) and on AWS Step Functions (stacks/workflows.ts, Task
 * states invoking the step Lambda with `{ step, state }`).
 */

export interface Retry {
  /** Error names (a StrataError's code, or a step's `workflowError`), or "States.ALL". */
  errors: string[];
  intervalSeconds: number;
  maxAttempts: number;
  backoffRate?: number;
  maxDelaySeconds?: number;
  jitter?: boolean;
}

export interface Catch {
  errors: string[];
  next: string;
  /** Where Step Functions' `{Error, Cause}` goes in the state (default `$.error`). */
  resultPath?: string;
}

export type WorkflowState =
  | {
      type: "task";
      step: string;
      next?: string;
      retry?: Retry[];
      catch?: Catch[];
      timeoutSeconds?: number;
      comment?: string;
    }
  | { type: "fail"; error: string; cause: string }
  | { type: "succeed" };

export interface WorkflowDefinition {
  name: string;
  comment: string;
  startAt: string;
  states: Record<string, WorkflowState>;
  /** Whole-run limit. */
  timeoutSeconds?: number;
}

/** How a Task state reaches its step: a Lambda ARN (cloud) or a placeholder (local; overridden). */
export type ResourceFor = (step: string) => string;

/** A placeholder ARN for local runs: aws-local-stepfunctions replaces every Task by its local handler. */
export const LOCAL_RESOURCE: ResourceFor = (step) =>
  `arn:aws:lambda:us-east-1:000000000000:function:strata-local-${step}`;

/**
 * ASL for `definition`. Each Task invokes `resourceFor(step)` with `{ "step": <step>, "state": $ }`
 * as its payload (one Lambda serves every step) and replaces the state with the step's result.
 */
export function toAsl(definition: WorkflowDefinition, resourceFor: ResourceFor): Record<string, unknown> {
  const states: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(definition.states)) {
    if (s.type === "fail") states[name] = { Type: "Fail", Error: s.error, Cause: s.cause };
    else if (s.type === "succeed") states[name] = { Type: "Succeed" };
    else {
      const state: Record<string, unknown> = {
        Type: "Task",
        Resource: resourceFor(s.step),
        Parameters: { step: s.step, "state.$": "$" },
        ...(s.comment ? { Comment: s.comment } : {}),
        ...(s.timeoutSeconds ? { TimeoutSeconds: s.timeoutSeconds } : {}),
      };
      if (s.retry?.length)
        state.Retry = s.retry.map((r) => ({
          ErrorEquals: r.errors,
          IntervalSeconds: r.intervalSeconds,
          MaxAttempts: r.maxAttempts,
          BackoffRate: r.backoffRate ?? 2,
          ...(r.maxDelaySeconds ? { MaxDelaySeconds: r.maxDelaySeconds } : {}),
          ...(r.jitter ? { JitterStrategy: "FULL" } : {}),
        }));
      if (s.catch?.length)
        state.Catch = s.catch.map((c) => ({
          ErrorEquals: c.errors,
          Next: c.next,
          ResultPath: c.resultPath ?? "$.error",
        }));
      if (s.next) state.Next = s.next;
      else state.End = true;
      states[name] = state;
    }
  }
  return {
    Comment: definition.comment,
    StartAt: definition.startAt,
    ...(definition.timeoutSeconds ? { TimeoutSeconds: definition.timeoutSeconds } : {}),
    States: states,
  };
}

/** The step names a definition's tasks call. */
export function stepsOf(definition: WorkflowDefinition): string[] {
  return [...new Set(Object.values(definition.states).flatMap((s) => (s.type === "task" ? [s.step] : [])))];
}

/** Task state name → step name (the local runner overrides Task states by name). */
export function taskStates(definition: WorkflowDefinition): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, s] of Object.entries(definition.states)) if (s.type === "task") out[name] = s.step;
  return out;
}
