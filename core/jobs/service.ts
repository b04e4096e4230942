/**
 * The jobs service: start, get, list, wait for and cancel jobs. Executions are started through a
 * {@link JobExecutor} — the in-process runner locally (adapters/workflows/jobs.ts), Step Functions
 * in the cloud — so this module stays pure.
 *
 * ```ts
 * const job = await jobs.start("placement.sweep", { pfs: "default", limit: 100 });
 * (await jobs.wait(job.id, { timeoutMs: 20_000 })).status; // "succeeded" — or ETIMEDOUT { again: true }
 * ```
 */
import { StrataError, strataError } from "../errors.ts";
import type { Value } from "../metadata/port.ts";
import { JOB_KINDS, type JobKind, type JobRecord, type JobStatus, type JobStore } from "./jobs.ts";

/** Starts and stops the executions of job workflows. */
export interface JobExecutor {
  /** Start an execution of the workflow of `kind` with `input` (which names the job); its id or ARN. */
  start(kind: JobKind, input: Record<string, unknown>): Promise<string>;
  /** Stop an execution now (best effort: the job's record is already cancelled). */
  stop(execution: string): Promise<void>;
}

/**
 * The cloud's executor: nothing to call. Creating the job's record IS the start — the table's
 * stream carries the INSERT to an EventBridge Pipe that starts the kind's state machine with
 * `{ job, start: true }` (stacks/workflows.ts `JobsPipe`; the machine's first step reads the
 * record). Stop does nothing: the cancel on the record ends the job at its next page.
 */
export const STREAM_EXECUTOR: JobExecutor = {
  start: async (_kind, input) => `table-stream:${String(input.job)}`,
  stop: async () => {},
};

export interface JobsOptions {
  store: JobStore;
  executor: JobExecutor;
  clock: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export class Jobs {
  readonly store: JobStore;
  private readonly executor: JobExecutor;
  private readonly clock: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: JobsOptions) {
    this.store = options.store;
    this.executor = options.executor;
    this.clock = options.clock;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** Create the job's record and start its first execution; answers at once with the record. */
  async start(kind: JobKind, input: Record<string, Value>): Promise<JobRecord> {
    if (!(JOB_KINDS as readonly string[]).includes(kind))
      throw strataError("EINVAL", `no job kind ${JSON.stringify(kind)}; kinds: ${JOB_KINDS.join(", ")}`, {
        kind,
      });
    const job = await this.store.create(kind, input);
    try {
      const execution = await this.executor.start(kind, { ...input, job: job.id });
      await this.store.started(job.id, execution);
    } catch (err) {
      await this.store.fail(job.id, {
        code: err instanceof StrataError ? err.code : "EIO",
        message: `could not start: ${(err as Error).message}`,
      });
      throw err;
    }
    return this.store.get(job.id);
  }

  get(id: string): Promise<JobRecord> {
    return this.store.get(id);
  }

  list(options?: { limit?: number; cursor?: string; status?: JobStatus }) {
    return this.store.list(options);
  }

  /** Cancel: no further page starts, and the execution in flight is stopped. */
  async cancel(id: string): Promise<JobRecord> {
    const before = await this.store.get(id);
    const after = await this.store.cancel(id);
    if (before.status === "running" && before.execution)
      await this.executor.stop(before.execution).catch(() => {});
    return after;
  }

  /**
   * Resume a running job whose execution died (a restart of the local server, a failed
   * execution start): a fresh execution from the cursor its record keeps.
   */
  async resume(id: string): Promise<JobRecord> {
    const job = await this.store.get(id);
    if (job.status !== "running")
      throw strataError("EINVAL", `job ${id} is ${job.status}: only a running job resumes`, { job: id });
    const input = (job.cursor as Record<string, unknown> | undefined) ?? job.input;
    const execution = await this.executor.start(job.kind, { ...input, job: id });
    await this.store.started(id, execution);
    return this.store.get(id);
  }

  /**
   * The record once the job is no longer running, polling every `pollMs`; ETIMEDOUT with
   * `again: true` and the record as it stands after `timeoutMs` (a request's wait is capped: the
   * caller asks again).
   */
  async wait(id: string, options: { timeoutMs: number; pollMs?: number }): Promise<JobRecord> {
    const deadline = this.clock() + options.timeoutMs;
    for (;;) {
      const job = await this.store.get(id);
      if (job.status !== "running") return job;
      if (this.clock() >= deadline)
        throw strataError("ETIMEDOUT", `job ${id} (${job.kind}) is still running; ask again`, {
          job: id,
          again: true,
          status: job.status,
          counts: job.counts,
        });
      await this.sleep(options.pollMs ?? 200);
    }
  }
}
