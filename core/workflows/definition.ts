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
  /** Run `iterator` for every element of the array at `itemsPath`; the state itself passes on unchanged. */
  | {
      type: "map";
      itemsPath: string;
      maxConcurrency: number;
      iterator: StateGraph;
      next?: string;
      comment?: string;
    }
  /** `next` of the first rule whose boolean at `variable` equals `equals`, else `otherwise`. */
  | { type: "choice"; rules: Array<{ variable: string; equals: boolean; next: string }>; otherwise: string }
  /**
   * End this execution by starting a fresh one of the same state machine with the JSON at
   * `inputPath` as its input (Step Functions' `states:startExecution` integration; the local runner
   * chains the run). How a long job stays far below 25,000 history events: one execution per page.
   */
  | { type: "continue"; inputPath: string; comment?: string }
  | { type: "fail"; error: string; cause: string }
  /** `empty`: the output is `{}` (a Map iteration's end, so the Map's gathered results stay small). */
  | { type: "succeed"; empty?: boolean };

/** States and where to start: a workflow's body, or a Map's iterator. */
export interface StateGraph {
  startAt: string;
  states: Record<string, WorkflowState>;
}

export interface WorkflowDefinition extends StateGraph {
  name: string;
  comment: string;
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
  return {
    Comment: definition.comment,
    ...graphToAsl(definition, resourceFor),
    ...(definition.timeoutSeconds ? { TimeoutSeconds: definition.timeoutSeconds } : {}),
  };
}

function graphToAsl(
  graph: StateGraph,
  resourceFor: ResourceFor,
): { StartAt: string; States: Record<string, unknown> } {
  const states: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(graph.states)) {
    if (s.type === "fail") states[name] = { Type: "Fail", Error: s.error, Cause: s.cause };
    else if (s.type === "succeed")
      states[name] = s.empty ? { Type: "Succeed", OutputPath: null } : { Type: "Succeed" };
    else if (s.type === "choice")
      states[name] = {
        Type: "Choice",
        // IsPresent first: a missing field is then the default, not a States.Runtime failure.
        Choices: s.rules.map((r) => ({
          And: [
            { Variable: r.variable, IsPresent: true },
            { Variable: r.variable, BooleanEquals: r.equals },
          ],
          Next: r.next,
        })),
        Default: s.otherwise,
      };
    else if (s.type === "continue")
      states[name] = {
        Type: "Task",
        ...(s.comment ? { Comment: s.comment } : {}),
        Resource: START_EXECUTION,
        // $$.StateMachine.Id: this machine's own ARN (no circular reference in the stack).
        Parameters: { "StateMachineArn.$": "$$.StateMachine.Id", "Input.$": s.inputPath },
        ResultPath: null,
        End: true,
      };
    else if (s.type === "map")
      states[name] = {
        Type: "Map",
        ...(s.comment ? { Comment: s.comment } : {}),
        ItemsPath: s.itemsPath,
        MaxConcurrency: s.maxConcurrency,
        ItemProcessor: { ProcessorConfig: { Mode: "INLINE" }, ...graphToAsl(s.iterator, resourceFor) },
        // The iterations' outputs are dropped: the state passes on unchanged.
        ResultPath: null,
        ...(s.next ? { Next: s.next } : { End: true }),
      };
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
  return { StartAt: graph.startAt, States: states };
}

/** The Step Functions service integration a `continue` state calls (fire and forget). */
export const START_EXECUTION = "arn:aws:states:::states:startExecution";

/** Names of the `continue` states of a graph (Map iterators included). */
export function continueStates(graph: StateGraph): string[] {
  const out: string[] = [];
  for (const [name, s] of Object.entries(graph.states)) {
    if (s.type === "continue") out.push(name);
    if (s.type === "map") out.push(...continueStates(s.iterator));
  }
  return out;
}

/** The step names a definition's tasks call (Map iterators included). */
export function stepsOf(graph: StateGraph): string[] {
  return [...new Set(Object.values(taskStates(graph)))];
}

/** Task state name → step name, Map iterators included (the local runner overrides Task states by name). */
export function taskStates(graph: StateGraph): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, s] of Object.entries(graph.states)) {
    if (s.type === "task") out[name] = s.step;
    if (s.type === "map") {
      for (const [inner, step] of Object.entries(taskStates(s.iterator))) {
        if (out[inner] !== undefined && out[inner] !== step)
          throw new Error(`workflow: Task state ${inner} calls two different steps (${out[inner]}, ${step})`);
        out[inner] = step;
      }
    }
  }
  return out;
}
