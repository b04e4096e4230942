/**
 * The in-process workflow runner: a workflow's ASL (core/workflows, compiled by `toAsl`) executed
 * by aws-local-stepfunctions, each Task state overridden by the step function of the same name —
 * the very definition Step Functions runs in the cloud, with the same retries, catches and error
 * paths. It is also the Step Functions half of the limits harness: every execution's history
 * events are counted as AWS records them and every state's JSON is measured
 * (core/workflows/limits.ts); an execution that passes 25,000 events or 256 KiB of state is
 * stopped and the run rejects with E2BIG, as the cloud would fail it.
 *
 * ```ts
 * const runner = new LocalPlacementRunner({ placement, retryIntervalMs: 50 });
 * const run = await runner.run({ pfs: "default", path: "/show/shot42/a.exr" });
 * run.status; run.transitions; run.events; run.maxStateBytes; // "succeeded", 4, 22, 812
 * ```
 */
import { StateMachine } from "aws-local-stepfunctions";
import type { JobStore } from "../../core/jobs/jobs.ts";
import type { Placement, PlacementState } from "../../core/placement/index.ts";
import {
  continueStates,
  LOCAL_RESOURCE,
  taskStates,
  toAsl,
  type WorkflowDefinition,
} from "../../core/workflows/definition.ts";
import {
  type ExecutionUsage,
  historyEventsOf,
  limitExceeded,
  STEP_FUNCTIONS_LIMITS,
  stateBytes,
  type WorkflowLimits,
} from "../../core/workflows/limits.ts";
import { placementWorkflow, sweepWorkflow } from "../../core/workflows/placement.ts";
import { runPlacementStep, runStep, workflowError } from "../../core/workflows/steps.ts";

// aws-local-stepfunctions 3 calls Promise.withResolvers (Node ≥ 22); Node 20 lacks it.
const P = Promise as unknown as { withResolvers?: () => unknown };
P.withResolvers ??= <T>() => {
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (reason?: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

/** Runs one step of a workflow: the Task's step name and the state it gets; returns the next state. */
export type StepRunner = (step: string, state: Record<string, unknown>) => Promise<unknown>;

export interface LocalRunnerOptions {
  /** The placement steps (copy, verify, …, sweepList); or give `steps`. */
  placement?: Placement;
  /** Any steps (job workflows); replaces `placement`'s. */
  steps?: StepRunner;
  /** The grace the Trim state's first retrier waits (ms; default `placement.graceMs`, else 0). */
  graceMs?: number;
  /**
   * Pause before each retry in ms, instead of the definition's backoff (seconds). Tests and the
   * local server use small values; the grace retry of Trim always waits the grace.
   */
  retryIntervalMs?: number;
  /** Step Functions' limits enforced on every execution (default the real ones). */
  limits?: WorkflowLimits;
}

export interface RunResult extends ExecutionUsage {
  status: "succeeded" | "failed";
  output?: PlacementState;
  error?: { name: string; message: string };
  /** Task invocations, retries included: Step Functions bills each as a state transition. */
  transitions: number;
  /** The input of the next execution when this one ended in a `continue` state (a chain's next page). */
  continued?: Record<string, unknown>;
}

type Json = Parameters<StateMachine["run"]>[0];

/** Any workflow of core/workflows run in-process, counted against Step Functions' limits. */
export class LocalWorkflowRunner {
  readonly asl: Record<string, unknown>;
  readonly name: string;
  private readonly machine: StateMachine;
  private readonly steps: StepRunner;
  private readonly graceMs: number;
  private readonly retryIntervalMs: number | undefined;
  private readonly limits: WorkflowLimits;
  private readonly tasks: Record<string, string>;
  private readonly continues: string[];
  /** Executions in flight, so `abortAll` can stop them (a Trim waits out the grace in a timer). */
  private readonly running = new Set<{ abort: () => void }>();

  constructor(definition: WorkflowDefinition, options: LocalRunnerOptions) {
    const placement = options.placement;
    if (options.steps) this.steps = options.steps;
    else if (placement)
      this.steps = (step, state) => runPlacementStep(placement, step, state as unknown as PlacementState);
    else throw new Error("LocalWorkflowRunner: give `steps` or `placement`");
    this.name = definition.name;
    this.graceMs = options.graceMs ?? placement?.graceMs ?? 0;
    this.retryIntervalMs = options.retryIntervalMs;
    this.limits = options.limits ?? STEP_FUNCTIONS_LIMITS;
    this.asl = toAsl(definition, LOCAL_RESOURCE);
    this.tasks = taskStates(definition);
    this.continues = continueStates(definition);
    this.machine = new StateMachine(structuredClone(this.asl) as never, {
      validationOptions: { checkArn: false },
    });
  }

  /**
   * One execution. Rejects with E2BIG (core/workflows/limits.ts) when it passes Step Functions'
   * history or state-size limit; any other failure resolves as `status: "failed"`.
   */
  async run(input: Record<string, unknown>, options: { signal?: AbortSignal } = {}): Promise<RunResult> {
    let transitions = 0;
    let events = 0;
    let maxStateBytes = 0;
    let overLimit: Error | undefined;
    let continued: Record<string, unknown> | undefined;
    let abort = () => {};
    const measure = (value: unknown, where: string) => {
      const bytes = stateBytes(value);
      if (bytes > maxStateBytes) maxStateBytes = bytes;
      if (bytes > this.limits.maxStateBytes && !overLimit) {
        overLimit = limitExceeded(this.name, "state-size", bytes, this.limits.maxStateBytes, where);
        abort();
      }
    };
    const handlers: Record<string, (payload: Json) => Promise<Json>> = {};
    for (const [stateName, step] of Object.entries(this.tasks)) {
      handlers[stateName] = async (payload) => {
        transitions++;
        measure(payload, `${stateName} (input)`);
        const { state } = payload as unknown as { state: Record<string, unknown> };
        let out: unknown;
        try {
          out = await this.steps(step, state);
        } catch (err) {
          throw workflowError(err);
        }
        measure(out, `${stateName} (output)`);
        return out as Json;
      };
    }
    for (const stateName of this.continues)
      handlers[stateName] = async (payload) => {
        transitions++;
        const { Input } = payload as unknown as { Input: Record<string, unknown> };
        measure(Input, `${stateName} (next execution's input)`);
        continued = Input;
        return {} as Json;
      };
    const retryIntervalOverrides: Record<string, number | number[]> = {};
    if (this.retryIntervalMs !== undefined)
      for (const stateName of Object.keys(this.tasks))
        retryIntervalOverrides[stateName] = this.retryIntervalMs;
    // Trim's first retrier is the grace wait: always the grace itself.
    if (this.tasks.Trim !== undefined)
      retryIntervalOverrides.Trim = [this.graceMs, this.retryIntervalMs ?? -1];
    measure(input, "execution input");
    if (overLimit) throw overLimit;
    const execution = this.machine.run(input as unknown as Json, {
      overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides },
      context: {
        StateMachine: {
          Id: `arn:aws:states:us-east-1:000000000000:stateMachine:${this.name}`,
          Name: this.name,
        },
        Execution: {
          Id: `local-${Date.now().toString(36)}`,
          Input: input,
          StartTime: new Date().toISOString(),
        },
      } as never,
    });
    abort = () => execution.abort();
    this.running.add(execution);
    const onAbort = () => execution.abort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) execution.abort();
    const counting = (async () => {
      for await (const event of execution.eventLogs) {
        events += historyEventsOf(event);
        const state = (event as { state?: { name?: string; input?: unknown; output?: unknown } }).state;
        if (event.type === "StateEntered" && state) measure(state.input, `${state.name} (entered)`);
        if (event.type === "StateExited" && state) measure(state.output, `${state.name} (exited)`);
        if (events > this.limits.maxEvents && !overLimit) {
          overLimit = limitExceeded(this.name, "history-events", events, this.limits.maxEvents);
          execution.abort();
        }
      }
    })();
    try {
      const output = (await execution.result) as unknown as PlacementState;
      await counting;
      if (overLimit) throw overLimit;
      return {
        status: "succeeded",
        output,
        transitions,
        events,
        maxStateBytes,
        ...(continued ? { continued } : {}),
      };
    } catch (err) {
      await counting.catch(() => {});
      if (overLimit) throw overLimit;
      const e = err as Error & { cause?: unknown };
      return {
        status: "failed",
        error: { name: e.name, message: e.message },
        transitions,
        events,
        maxStateBytes,
      };
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      this.running.delete(execution);
    }
  }

  /**
   * Run an execution and every execution it continues into (`continue` states: one per page),
   * one after another; `before` is asked before each next one (false stops the chain: a
   * cancelled job). Resolves with every execution's result, in order.
   */
  async runChain(
    input: Record<string, unknown>,
    options: {
      before?: (input: Record<string, unknown>) => Promise<boolean> | boolean;
      after?: (run: RunResult) => Promise<void> | void;
      signal?: AbortSignal;
    } = {},
  ): Promise<RunResult[]> {
    const out: RunResult[] = [];
    let next: Record<string, unknown> | undefined = input;
    while (next !== undefined && !options.signal?.aborted) {
      if (out.length > 0 && options.before && !(await options.before(next))) break;
      const run = await this.run(next, options.signal ? { signal: options.signal } : {});
      out.push(run);
      await options.after?.(run);
      next = run.status === "succeeded" ? run.continued : undefined;
    }
    return out;
  }

  /**
   * Abort every execution in flight (each resolves as failed at once). For shutdown: a Trim
   * waiting out its grace period would otherwise keep the process alive for that long and then
   * run against closed stores. Every step is idempotent, so the sweeper redoes what was cut short.
   */
  abortAll(): number {
    const count = this.running.size;
    for (const execution of this.running) execution.abort();
    return count;
  }
}

/** The per-file placement workflow, in-process. */
export class LocalPlacementRunner extends LocalWorkflowRunner {
  constructor(options: LocalRunnerOptions & { placement: Placement }) {
    super(placementWorkflow({ graceSeconds: options.placement.graceMs / 1000 }), options);
  }

  override run(input: { pfs: string; path: string }): Promise<RunResult> {
    return super.run(input);
  }
}

/**
 * The sweeper workflow (every PFS, one page per execution), in-process: what the cloud's schedule
 * runs. `runChain` follows its pages; `jobs` receives the pages' reports of a state naming a job.
 */
export class LocalSweepRunner extends LocalWorkflowRunner {
  constructor(options: LocalRunnerOptions & { placement: Placement; jobs?: JobStore }) {
    const deps = { placement: options.placement, ...(options.jobs ? { jobs: options.jobs } : {}) };
    super(sweepWorkflow({ graceSeconds: options.placement.graceMs / 1000 }), {
      steps: (step, state) => runStep(deps, step, state),
      ...options,
    });
  }
}
