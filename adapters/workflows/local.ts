/**
 * The in-process workflow runner: the placement workflow's ASL (core/workflows/placement.ts,
 * compiled by `toAsl`) executed by aws-local-stepfunctions, each Task state overridden by the
 * step function of the same name — the very definition Step Functions runs in the cloud, with the
 * same retries, catches and error paths.
 *
 * ```ts
 * const runner = new LocalPlacementRunner({ placement, retryIntervalMs: 50 });
 * const run = await runner.run({ pfs: "default", path: "/show/shot42/a.exr" });
 * run.status; run.transitions; // "succeeded", 4
 * ```
 */
import { StateMachine } from "aws-local-stepfunctions";
import type { Placement, PlacementState } from "../../core/placement/index.ts";
import {
  LOCAL_RESOURCE,
  taskStates,
  toAsl,
  type WorkflowDefinition,
} from "../../core/workflows/definition.ts";
import { placementWorkflow, sweepWorkflow } from "../../core/workflows/placement.ts";
import { runPlacementStep, workflowError } from "../../core/workflows/steps.ts";

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

export interface LocalRunnerOptions {
  placement: Placement;
  /**
   * Pause before each retry in ms, instead of the definition's backoff (seconds). Tests and the
   * local server use small values; the grace retry of Trim always waits the Placement's `graceMs`.
   */
  retryIntervalMs?: number;
}

export interface RunResult {
  status: "succeeded" | "failed";
  output?: PlacementState;
  error?: { name: string; message: string };
  /** Task invocations, retries included: Step Functions bills each as a state transition. */
  transitions: number;
}

type Json = Parameters<StateMachine["run"]>[0];

/** Any workflow of core/workflows whose Tasks are placement steps, run in-process. */
export class LocalWorkflowRunner {
  readonly asl: Record<string, unknown>;
  private readonly machine: StateMachine;
  private readonly placement: Placement;
  private readonly retryIntervalMs: number | undefined;
  private readonly tasks: Record<string, string>;
  /** Executions in flight, so `abortAll` can stop them (a Trim waits out the grace in a timer). */
  private readonly running = new Set<{ abort: () => void }>();

  constructor(definition: WorkflowDefinition, options: LocalRunnerOptions) {
    this.placement = options.placement;
    this.retryIntervalMs = options.retryIntervalMs;
    this.asl = toAsl(definition, LOCAL_RESOURCE);
    this.tasks = taskStates(definition);
    this.machine = new StateMachine(structuredClone(this.asl) as never, {
      validationOptions: { checkArn: false },
    });
  }

  async run(input: Record<string, unknown>): Promise<RunResult> {
    let transitions = 0;
    const handlers: Record<string, (payload: Json) => Promise<Json>> = {};
    for (const [stateName, step] of Object.entries(this.tasks)) {
      handlers[stateName] = async (payload) => {
        transitions++;
        const { state } = payload as unknown as { state: PlacementState };
        try {
          return (await runPlacementStep(this.placement, step, state)) as unknown as Json;
        } catch (err) {
          throw workflowError(err);
        }
      };
    }
    const retryIntervalOverrides: Record<string, number | number[]> = {};
    if (this.retryIntervalMs !== undefined)
      for (const stateName of Object.keys(this.tasks))
        retryIntervalOverrides[stateName] = this.retryIntervalMs;
    // Trim's first retrier is the grace wait: always the Placement's own grace.
    retryIntervalOverrides.Trim = [this.placement.graceMs, this.retryIntervalMs ?? -1];
    const execution = this.machine.run(input as unknown as Json, {
      overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides },
    });
    this.running.add(execution);
    try {
      const output = (await execution.result) as unknown as PlacementState;
      return { status: "succeeded", output, transitions };
    } catch (err) {
      const e = err as Error & { cause?: unknown };
      return { status: "failed", error: { name: e.name, message: e.message }, transitions };
    } finally {
      this.running.delete(execution);
    }
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
  constructor(options: LocalRunnerOptions) {
    super(placementWorkflow({ graceSeconds: options.placement.graceMs / 1000 }), options);
  }

  override run(input: { pfs: string; path: string }): Promise<RunResult> {
    return super.run(input);
  }
}

/** The sweeper workflow (every PFS, a page at a time), in-process: what the cloud's schedule runs. */
export class LocalSweepRunner extends LocalWorkflowRunner {
  constructor(options: LocalRunnerOptions) {
    super(sweepWorkflow({ graceSeconds: options.placement.graceMs / 1000 }), options);
  }

  override run(input: { limit?: number } = {}): Promise<RunResult> {
    return super.run(input);
  }
}
