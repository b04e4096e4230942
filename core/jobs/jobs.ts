/**
 * Jobs: every operation that can outlast a request. The API starts one and answers with its
 * record at once; a workflow of core/workflows runs it (Step Functions in the cloud, the
 * in-process runner locally — the same ASL) as one or more executions, each a page of the work,
 * resuming from the cursor the job's record keeps; the job can be listed, watched and cancelled.
 *
 * The record is the one tracker of a job's executions (per-file placement runs keep theirs on the
 * file's placement record, core/placement/placement-items.ts, which a sweep job's pages fill):
 *
 *   pk `job`   sk `<id>`   kind, status, input, cursor, counts, executions, usage, cancel, error, times
 *
 * Ids sort by creation time (base-36 milliseconds, then random), so `list` pages newest first.
 * Every write after creation is conditional on the job still running: a cancelled or finished
 * job's late pages change nothing (ECONFLICT → {@link JobCancelled}).
 */
import { StrataError, strataError } from "../errors.ts";
import type { Item, Key, MetadataStore, Value } from "../metadata/port.ts";

export const JOB_PK = "job";
export const jobKey = (id: string): Key => ({ pk: JOB_PK, sk: id });

/** The job kinds, each run by one workflow (core/workflows/jobs.ts `JOB_WORKFLOWS`). */
export const JOB_KINDS = ["placement.sweep"] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export type JobStatus = "running" | "succeeded" | "failed" | "cancelled";

export interface JobRecord {
  id: string;
  kind: JobKind;
  status: JobStatus;
  /** What it was started with (the first execution's input). */
  input: Record<string, Value>;
  /** Where the next execution resumes (the kind's own cursor); absent once done. */
  cursor?: Value;
  /** The kind's counters (pages, files scanned, files placed, …). */
  counts: Record<string, number>;
  /** Executions started so far (one per page). */
  executions: number;
  /** The execution running now (a Step Functions execution ARN, or the local runner's id). */
  execution?: string;
  /**
   * The most history events and the largest state (bytes) of any of its executions, as the local
   * runner counted them (core/workflows/limits.ts); absent in the cloud.
   */
  maxEvents?: number;
  maxStateBytes?: number;
  /** A cancel was asked: the next page does not start. */
  cancel?: boolean;
  error?: { code: string; message: string };
  created: number;
  time: number;
  finished?: number;
}

/** The error a job step throws when its job is no longer running (cancelled or finished). */
export const JOB_CANCELLED = "StrataJobCancelled";

export function jobCancelled(id: string, status: string): StrataError {
  return new StrataError("ECONFLICT", `job ${id} is ${status}: its remaining pages do not run`, {
    details: { job: id, status, workflowError: JOB_CANCELLED },
  });
}

const ID = /^[0-9a-z]{9}-[0-9a-f]{8}$/;

export function checkJobId(id: unknown): string {
  if (typeof id !== "string" || !ID.test(id))
    throw strataError("EINVAL", `job id ${JSON.stringify(id)} is invalid (e.g. 0mf3k2a1b-9c0d1e2f)`, {
      job: String(id),
    });
  return id;
}

export function jobItem(r: JobRecord): Item {
  const item: Item = {
    ...jobKey(r.id),
    kind: r.kind,
    status: r.status,
    input: r.input,
    counts: r.counts,
    executions: r.executions,
    created: r.created,
    time: r.time,
  };
  for (const k of [
    "cursor",
    "execution",
    "maxEvents",
    "maxStateBytes",
    "cancel",
    "error",
    "finished",
  ] as const)
    if (r[k] !== undefined) item[k] = r[k] as Value;
  return item;
}

export function decodeJob(item: Item): JobRecord {
  const r: JobRecord = {
    id: item.sk,
    kind: String(item.kind) as JobKind,
    status: String(item.status) as JobStatus,
    input: (item.input ?? {}) as Record<string, Value>,
    counts: (item.counts ?? {}) as Record<string, number>,
    executions: Number(item.executions ?? 0),
    created: Number(item.created ?? 0),
    time: Number(item.time ?? 0),
  };
  if (item.cursor !== undefined) r.cursor = item.cursor;
  if (typeof item.execution === "string") r.execution = item.execution;
  if (typeof item.maxEvents === "number") r.maxEvents = item.maxEvents;
  if (typeof item.maxStateBytes === "number") r.maxStateBytes = item.maxStateBytes;
  if (item.cancel === true) r.cancel = true;
  if (item.error && typeof item.error === "object") {
    const e = item.error as Record<string, Value>;
    r.error = { code: String(e.code), message: String(e.message) };
  }
  if (typeof item.finished === "number") r.finished = item.finished;
  return r;
}

const RUNNING = { op: "eq" as const, attr: "status", value: "running" };

/** A page's report to its job (the `jobProgress` step of every job workflow). */
export interface JobProgress {
  /** Where the next execution resumes; undefined with `done`. */
  cursor?: Value;
  counts?: Record<string, number>;
  done?: boolean;
}

/** Job records in the metadata store. Pure over the port. */
export class JobStore {
  constructor(
    private readonly store: MetadataStore,
    private readonly clock: () => number,
    private readonly random: () => number = Math.random,
  ) {}

  newId(): string {
    const hex = Array.from({ length: 8 }, () => Math.floor(this.random() * 16).toString(16)).join("");
    return `${this.clock().toString(36).padStart(9, "0")}-${hex}`;
  }

  async create(kind: JobKind, input: Record<string, Value>, id = this.newId()): Promise<JobRecord> {
    const now = this.clock();
    const r: JobRecord = {
      id,
      kind,
      status: "running",
      input,
      counts: {},
      executions: 0,
      created: now,
      time: now,
    };
    await this.store.put(jobItem(r), { condition: { op: "notExists" } });
    return r;
  }

  async get(id: string): Promise<JobRecord> {
    const item = await this.store.get(jobKey(checkJobId(id)));
    if (!item) throw strataError("ENOENT", `no job ${id}; \`strata job ls\` lists them`, { job: id });
    return decodeJob(item);
  }

  /** Newest first, one page; `status` filters (within the page read). */
  async list(
    options: { limit?: number; cursor?: string; status?: JobStatus } = {},
  ): Promise<{ jobs: JobRecord[]; next?: string }> {
    const page = await this.store.query(JOB_PK, {
      reverse: true,
      limit: options.limit ?? 100,
      ...(options.cursor !== undefined ? { cursor: options.cursor } : {}),
    });
    const jobs = page.items.map(decodeJob).filter((j) => !options.status || j.status === options.status);
    return { jobs, ...(page.cursor !== undefined ? { next: page.cursor } : {}) };
  }

  /** An execution of the job started (its name/ARN). ECONFLICT-as-cancelled when it no longer runs. */
  async started(id: string, execution: string): Promise<void> {
    await this.whileRunning(id, {
      set: { execution, time: this.clock() },
      add: { executions: 1 },
    });
  }

  /**
   * A page's report: the cursor, the counters, the usage maxima; `done` finishes the job
   * (succeeded). Throws {@link jobCancelled} when the job was cancelled meanwhile — the workflow
   * then stops instead of starting the next page. A cancel asked while running counts too.
   */
  async progress(id: string, p: JobProgress): Promise<JobRecord> {
    const job = await this.get(id);
    if (job.status !== "running" || job.cancel) throw jobCancelled(id, job.cancel ? "cancelled" : job.status);
    const now = this.clock();
    const set: Record<string, Value> = { time: now };
    if (p.counts) set.counts = p.counts;
    if (p.done) {
      set.status = "succeeded";
      set.finished = now;
    } else if (p.cursor !== undefined) set.cursor = p.cursor;
    // Not done: the workflow's Next state starts one more execution, from this cursor.
    await this.whileRunning(id, {
      set,
      ...(p.done ? { remove: ["cursor", "execution"] } : { add: { executions: 1 } }),
    });
    return this.get(id);
  }

  /** The local runner's count of one finished execution: the job keeps the maxima. */
  async usage(id: string, usage: { events: number; maxStateBytes: number }): Promise<void> {
    const job = await this.get(id);
    await this.store.update(
      jobKey(id),
      {
        set: {
          maxEvents: Math.max(job.maxEvents ?? 0, usage.events),
          maxStateBytes: Math.max(job.maxStateBytes ?? 0, usage.maxStateBytes),
        },
      },
      { condition: { op: "exists" } },
    );
  }

  /** The job failed (an execution's error, or a limit): recorded if it was still running. */
  async fail(id: string, error: { code: string; message: string }): Promise<void> {
    const now = this.clock();
    await this.whileRunning(id, { set: { status: "failed", error, time: now, finished: now } }).catch(
      (err) => {
        if (!(err instanceof StrataError && err.details.workflowError === JOB_CANCELLED)) throw err;
      },
    );
  }

  /**
   * Cancel: a running job is marked cancelled at once (no next page starts; the page in flight
   * finishes its files — every step is idempotent). A finished job is left as it is. Returns the record.
   */
  async cancel(id: string): Promise<JobRecord> {
    const job = await this.get(id);
    if (job.status !== "running") return job;
    const now = this.clock();
    try {
      await this.whileRunning(id, { set: { status: "cancelled", cancel: true, time: now, finished: now } });
    } catch (err) {
      if (!(err instanceof StrataError && err.details.workflowError === JOB_CANCELLED)) throw err;
    }
    return this.get(id);
  }

  private async whileRunning(
    id: string,
    update: { set?: Record<string, Value>; add?: Record<string, number>; remove?: string[] },
  ): Promise<void> {
    try {
      await this.store.update(jobKey(id), update, { condition: RUNNING });
    } catch (err) {
      if (err instanceof StrataError && err.code === "ECONFLICT") {
        const now = await this.store.get(jobKey(id));
        throw jobCancelled(id, now ? String(now.status) : "gone");
      }
      throw err;
    }
  }
}
