/**
 * Jobs in-process: the {@link JobExecutor} of the local server, embedded mode and tests. A job's
 * workflow runs in the local runner (adapters/workflows/local.ts) as a chain of executions, one
 * per page (`continue` states), each counted against Step Functions' limits; the count of every
 * execution goes on the job's record. Cancel aborts the execution in flight; the chain stops
 * before the next page when the record is no longer running.
 */
import { StrataError } from "../../core/errors.ts";
import type { JobKind, JobStore } from "../../core/jobs/jobs.ts";
import type { JobExecutor } from "../../core/jobs/service.ts";
import type { LocalWorkflowRunner, RunResult } from "./local.ts";

export class LocalJobExecutor implements JobExecutor {
  private seq = 0;
  private readonly chains = new Map<string, { abort: AbortController; done: Promise<RunResult[]> }>();
  private readonly built = new Map<JobKind, LocalWorkflowRunner>();

  /** `runners`: each kind's runner, built on its first job (compiling a machine costs seconds cold). */
  constructor(
    private readonly runners: Record<JobKind, () => LocalWorkflowRunner>,
    private readonly store: JobStore,
  ) {}

  async start(kind: JobKind, input: Record<string, unknown>): Promise<string> {
    let runner = this.built.get(kind);
    if (!runner) {
      runner = this.runners[kind]();
      this.built.set(kind, runner);
    }
    const job = String(input.job);
    const execution = `local:${runner.name}:${job}:${++this.seq}`;
    const abort = new AbortController();
    const done = runner
      .runChain(input, {
        signal: abort.signal,
        // A cancelled (or failed) job starts no next page.
        before: async () => {
          const now = await this.store.get(job);
          return now.status === "running" && !now.cancel;
        },
        after: async (run) => {
          await this.store.usage(job, run).catch(() => {});
          if (run.status === "failed")
            await this.store.fail(job, { code: run.error?.name ?? "EIO", message: run.error?.message ?? "" });
        },
      })
      .catch(async (err: unknown) => {
        // A limit passed (E2BIG) or the runner broke: the job fails with it.
        await this.store
          .fail(job, {
            code: err instanceof StrataError ? err.code : "EIO",
            message: (err as Error).message,
          })
          .catch(() => {});
        return [] as RunResult[];
      })
      .finally(() => this.chains.delete(execution));
    this.chains.set(execution, { abort, done });
    return execution;
  }

  async stop(execution: string): Promise<void> {
    this.chains.get(execution)?.abort.abort();
  }

  /** Resolves when every chain started so far has ended (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.allSettled([...this.chains.values()].map((c) => c.done));
  }

  /** Stop every chain (shutdown); their jobs stay `running` and `Jobs.resume` picks them up. */
  async close(): Promise<void> {
    for (const c of this.chains.values()) c.abort.abort();
    await this.idle();
  }
}
