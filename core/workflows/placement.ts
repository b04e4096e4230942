/**
 * The placement workflow, per file: Copy → Verify → Commit → Trim, a page of the file's chunks at
 * a time (core/placement CHUNK_PAGE: the state carries one page, never the whole list). A file of
 * one page (≤ 250 distinct chunks, 2 GB at 8 MiB) is 4 task transitions (the cost figure of Step
 * Functions standard workflows); a trim waiting for its grace period adds one retry; each further
 * page adds Copy, Verify, Commit (and a Trim page). Steps are core/placement/steps.ts's `copy`,
 * `verify`, `commit`, `trim`, `recordFailure`.
 *
 *   Copy ──▶ Verify ──▶ Commit ──▶ MoreChunks? ──no──▶ Trim ──▶ MoreTrim? ──no──▶ (end)
 *    ▲         │ ECORRUPT  │ yes                         ▲           │ yes
 *    └─────────┴───────────┘                             └───────────┘
 *   any step, retries exhausted ──▶ RecordFailure ──▶ Failed
 */
import { JOB_CANCELLED } from "../jobs/jobs.ts";
import { GRACE_PENDING } from "../placement/index.ts";
import type { Retry, StateGraph, WorkflowDefinition, WorkflowState } from "./definition.ts";

/** Transient backend errors: retried with exponential backoff and jitter. */
export const TRANSIENT: Retry = {
  errors: [
    "ETHROTTLED",
    "EUNAVAIL",
    "ETIMEDOUT",
    "EIO",
    "Lambda.ServiceException",
    "Lambda.TooManyRequestsException",
  ],
  intervalSeconds: 1,
  maxAttempts: 5,
  backoffRate: 2,
  maxDelaySeconds: 30,
  jitter: true,
};

const FAIL = [{ errors: ["States.ALL"], next: "RecordFailure" }];

export interface PlacementWorkflowOptions {
  /** Seconds after the commit before surplus instances are trimmed (Placement `graceMs` / 1000). */
  graceSeconds: number;
}

export function placementWorkflow(options: PlacementWorkflowOptions): WorkflowDefinition {
  return {
    name: "strata-placement",
    comment:
      "strata placement of one file: copy missing chunk instances, verify them at the target, commit them, trim surplus after a grace period",
    timeoutSeconds: 3600,
    ...placementGraph(options, "fail"),
  };
}

/**
 * The per-file states. `onFailure`: "fail" ends a run whose failure was recorded in a Fail state
 * (the run shows as failed); "end" succeeds instead, so one file's failure does not fail a sweep's Map.
 */
function placementGraph(options: PlacementWorkflowOptions, onFailure: "fail" | "end"): StateGraph {
  const grace = Math.max(1, Math.ceil(options.graceSeconds));
  return {
    startAt: "Copy",
    states: {
      Copy: {
        type: "task",
        step: "copy",
        comment:
          "plan the desired volumes from the objectives; copy each missing chunk instance from a present one",
        next: "Verify",
        retry: [{ ...TRANSIENT, errors: [...TRANSIENT.errors, "ECORRUPT"] }],
        catch: FAIL,
        timeoutSeconds: 900,
      },
      Verify: {
        type: "task",
        step: "verify",
        comment: "read every copy back in full at its target; size and CRC32C must be the chunk's",
        next: "Commit",
        retry: [TRANSIENT],
        catch: [{ errors: ["ECORRUPT"], next: "Copy", resultPath: "$.lastError" }, ...FAIL],
        timeoutSeconds: 900,
      },
      Commit: {
        type: "task",
        step: "commit",
        comment:
          "record the page's verified instances present and the file's wants; after the last page the run is placed",
        next: "MoreChunks",
        retry: [TRANSIENT],
        catch: FAIL,
        timeoutSeconds: 300,
      },
      MoreChunks: {
        type: "choice",
        rules: [{ variable: "$.more", equals: true, next: "Copy" }],
        otherwise: "Trim",
      },
      Trim: {
        type: "task",
        step: "trim",
        next: "MoreTrim",
        comment:
          "after the grace period, remove instances beyond the desired set (never the last one, never one another file wants)",
        retry: [
          { errors: [GRACE_PENDING], intervalSeconds: grace, maxAttempts: 3, backoffRate: 1 },
          TRANSIENT,
        ],
        catch: FAIL,
        timeoutSeconds: 300,
      },
      MoreTrim: {
        type: "choice",
        rules: [{ variable: "$.trimMore", equals: true, next: "Trim" }],
        otherwise: "Placed",
      },
      // In a sweep's Map the iterations' outputs are gathered into one array: there, empty.
      Placed: { type: "succeed", ...(onFailure === "end" ? { empty: true } : {}) },
      RecordFailure: {
        type: "task",
        step: "recordFailure",
        comment: "the error on the file's placement record (placement.get shows it)",
        next: onFailure === "fail" ? "Failed" : "Recorded",
        retry: [TRANSIENT],
      },
      ...(onFailure === "fail"
        ? {
            Failed: {
              type: "fail" as const,
              error: "PlacementFailed",
              cause: "see the file's placement record (placement.get)",
            },
          }
        : { Recorded: { type: "succeed" as const, empty: true } }),
    },
  };
}

/**
 * The sweeper: ONE PAGE per execution, so no execution nears Step Functions' 25,000 history
 * events whatever the file count (a page of 100 files ≈ 2,300 events). ListWork lists up to
 * `limit` files needing work (looking at ≤ `scan` files), the Map places each with the per-file
 * states (4 at once), Report hands the page's cursor and counts to the job (core/jobs), and Next
 * starts a fresh execution of this machine for the next page (`states:startExecution`).
 *
 *   Start ──▶ ListWork ──▶ PlaceEach (Map: per-file states) ──▶ Report ──▶ More? ──done──▶ Done
 *                                                      │           └──not done──▶ Next (new execution)
 *   ListWork / Report fail ──▶ JobFailed ──▶ Failed      └─ job cancelled ──▶ Cancelled
 */
export function sweepWorkflow(options: PlacementWorkflowOptions): WorkflowDefinition {
  return {
    name: "strata-placement-sweep",
    comment:
      "strata placement sweeper: reconcile desired vs actual for every file of every PFS, one page per execution",
    startAt: "Start",
    // One page: 100 files placed 4 at once, each well inside the per-file machine's hour.
    timeoutSeconds: 86_400,
    states: {
      Start: {
        type: "task",
        step: "jobStart",
        comment:
          "a job started by the table stream arrives as { job, start: true }: its input (or cursor) from its record",
        next: "ListWork",
        retry: [TRANSIENT],
        catch: [{ errors: ["States.ALL"], next: "JobFailed" }],
        timeoutSeconds: 60,
      },
      ListWork: {
        type: "task",
        step: "sweepList",
        comment: "the next page of files needing placement, after the cursor in the state",
        next: "PlaceEach",
        retry: [TRANSIENT],
        catch: [{ errors: ["States.ALL"], next: "JobFailed" }],
        timeoutSeconds: 900,
      },
      PlaceEach: {
        type: "map",
        itemsPath: "$.jobs",
        maxConcurrency: 4,
        iterator: placementGraph(options, "end"),
        next: "Report",
      },
      ...jobTail("Report"),
    },
  };
}

/**
 * The end of every job workflow's page: Report (the `jobProgress` step: cursor and counts on the
 * job record; `done` finishes it) → More? → Done | Next (a fresh execution with `$.next`), and the
 * failure and cancel paths. `report` names the first state.
 */
export function jobTail(report: string): Record<string, WorkflowState> {
  return {
    [report]: {
      type: "task",
      step: "jobProgress",
      comment: "the page's cursor and counts on the job's record (core/jobs); done finishes the job",
      next: "More",
      retry: [TRANSIENT],
      catch: [
        { errors: [JOB_CANCELLED], next: "Cancelled" },
        { errors: ["States.ALL"], next: "JobFailed" },
      ],
      timeoutSeconds: 60,
    },
    More: {
      type: "choice",
      rules: [{ variable: "$.done", equals: true, next: "Done" }],
      otherwise: "NextPage",
    },
    NextPage: {
      type: "continue",
      inputPath: "$.next",
      comment: "a fresh execution for the next page: each stays far below 25,000 history events",
    },
    Done: { type: "succeed" },
    Cancelled: { type: "succeed" },
    JobFailed: {
      type: "task",
      step: "jobFailed",
      comment: "the error on the job's record",
      next: "Failed",
      retry: [TRANSIENT],
    },
    Failed: { type: "fail", error: "JobFailed", cause: "see the job's record (job.get)" },
  };
}
