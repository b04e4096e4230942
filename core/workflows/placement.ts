/**
 * The placement workflow, per file: Copy → Verify → Commit → Trim. The happy path is 4 state
 * transitions (the cost figure of Step Functions standard workflows); a trim waiting for its grace
 * period adds one retry. Steps are core/placement/steps.ts's `copy`, `verify`, `commit`,
 * `trim`, `recordFailure`.
 *
 *   Copy ──▶ Verify ──▶ Commit ──▶ Trim ──▶ (end)
 *    ▲         │ ECORRUPT (bad copy deleted)
 *    └─────────┘
 *   any step, retries exhausted ──▶ RecordFailure ──▶ Failed
 */
import { GRACE_PENDING } from "../placement/index.ts";
import type { Retry, StateGraph, WorkflowDefinition } from "./definition.ts";

/** Transient backend errors: retried with exponential backoff and jitter. */
const TRANSIENT: Retry = {
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
        comment: "record the verified instances present and the file's wants; the run is placed",
        next: "Trim",
        retry: [TRANSIENT],
        catch: FAIL,
        timeoutSeconds: 300,
      },
      Trim: {
        type: "task",
        step: "trim",
        comment:
          "after the grace period, remove instances beyond the desired set (never the last one, never one another file wants)",
        retry: [
          { errors: [GRACE_PENDING], intervalSeconds: grace, maxAttempts: 3, backoffRate: 1 },
          TRANSIENT,
        ],
        catch: FAIL,
        timeoutSeconds: 300,
      },
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
        : { Recorded: { type: "succeed" as const } }),
    },
  };
}

/**
 * The sweeper, for the cloud (an EventBridge schedule starts it; locally the orchestrator's timer
 * sweeps instead): list up to a page of files that are not placed or hold surplus, place each with
 * the per-file states (4 at once), repeat until the walk over every PFS is done.
 *
 *   ListWork ──▶ PlaceEach (Map: Copy → Verify → Commit → Trim per file) ──▶ More? ──▶ Done
 *      ▲                                                                      │ not done
 *      └──────────────────────────────────────────────────────────────────────┘
 */
export function sweepWorkflow(options: PlacementWorkflowOptions): WorkflowDefinition {
  return {
    name: "strata-placement-sweep",
    comment:
      "strata placement sweeper: reconcile desired vs actual for every file of every PFS, a page at a time",
    startAt: "ListWork",
    timeoutSeconds: 86_400,
    states: {
      ListWork: {
        type: "task",
        step: "sweepList",
        comment: "the next page of files needing placement, after the cursor in the state",
        next: "PlaceEach",
        retry: [TRANSIENT],
        timeoutSeconds: 900,
      },
      PlaceEach: {
        type: "map",
        itemsPath: "$.jobs",
        maxConcurrency: 4,
        iterator: placementGraph(options, "end"),
        next: "More",
      },
      More: {
        type: "choice",
        rules: [{ variable: "$.done", equals: true, next: "Done" }],
        otherwise: "ListWork",
      },
      Done: { type: "succeed" },
    },
  };
}
