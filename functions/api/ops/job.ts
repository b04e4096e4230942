/**
 * Jobs (docs/jobs.md): long work started by an operation (`placement.sweep`, …) runs as a job —
 * a workflow's executions, one page each — and these operations list, watch and cancel them.
 * Deployment administration: a job's record names deployment-wide work.
 */
import { z } from "zod";
import { isStrataError } from "../../../core/errors.ts";
import { checkDeploymentAdmin } from "../auth.ts";
import { defineOp, type OpContext, type Operation } from "../operation.ts";
import { notYet, pageFields, waitLimitSeconds } from "./common.ts";
import { placementOf } from "./placement-services.ts";

const JOB_ID = z
  .string()
  .min(1)
  .max(64)
  .describe("the job's id (job.list, or the answer of the op that started it)");

function jobsOf(ctx: OpContext, op: string) {
  checkDeploymentAdmin(ctx.principal, op);
  return placementOf(ctx, op).jobs;
}

export const jobOps: Operation[] = [
  defineOp({
    name: "job.list",
    summary:
      "Jobs, newest first, one page (`next` resumes); `status` keeps only running, succeeded, failed or cancelled ones",
    scope: "deployment",
    right: "read", // and a deployment admin (checked in run): reads, not mutations
    touches: "deployment",
    input: z
      .object({ ...pageFields, status: z.enum(["running", "succeeded", "failed", "cancelled"]).optional() })
      .strict(),
    example: { status: "running" },
    run: (ctx, i) =>
      jobsOf(ctx, "job.list").list({
        ...(i.limit !== undefined ? { limit: i.limit } : {}),
        ...(i.cursor !== undefined ? { cursor: i.cursor } : {}),
        ...(i.status !== undefined ? { status: i.status } : {}),
      }),
  }),
  defineOp({
    name: "job.get",
    summary: "One job's record: kind, status, counts, executions, the cursor it resumes from, its error",
    scope: "deployment",
    right: "read", // and a deployment admin (checked in run): reads, not mutations
    touches: "deployment",
    input: z.object({ id: JOB_ID }).strict(),
    example: { id: "0mf3k2a1b-9c0d1e2f" },
    run: (ctx, i) => jobsOf(ctx, "job.get").get(i.id),
  }),
  defineOp({
    name: "job.wait",
    summary:
      "Return the job's record once it is no longer running (the server waits at most 30 s, then answers ETIMEDOUT with again: true; call again)",
    scope: "deployment",
    right: "read", // and a deployment admin (checked in run): reads, not mutations
    touches: "deployment",
    input: z.object({ id: JOB_ID, timeoutSeconds: z.number().min(0).max(86_400) }).strict(),
    example: { id: "0mf3k2a1b-9c0d1e2f", timeoutSeconds: 600 },
    run: async (ctx, i) => {
      const jobs = jobsOf(ctx, "job.wait");
      const limit = waitLimitSeconds(ctx);
      try {
        return await jobs.wait(i.id, { timeoutMs: Math.min(i.timeoutSeconds, limit) * 1000, pollMs: 250 });
      } catch (err) {
        if (!isStrataError(err, "ETIMEDOUT") || i.timeoutSeconds <= limit) throw err;
        throw notYet(ctx, `job ${i.id} is still running`, { ...err.details }, err);
      }
    },
  }),
  defineOp({
    name: "job.cancel",
    summary:
      "Cancel a running job: no further page starts and the execution in flight is stopped (a finished job is left as it is)",
    scope: "deployment",
    right: "admin",
    touches: "deployment",
    afterCrash: "rerun",
    input: z.object({ id: JOB_ID }).strict(),
    example: { id: "0mf3k2a1b-9c0d1e2f" },
    run: (ctx, i) => jobsOf(ctx, "job.cancel").cancel(i.id),
  }),
];
