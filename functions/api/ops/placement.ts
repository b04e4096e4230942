/** Placement status and waiting (PFS scope). docs/placement.md */
import { z } from "zod";
import { isStrataError } from "../../../core/errors.ts";
import { defineOp, type Operation } from "../operation.ts";
import { LIST_PAGE, notYet, pageFields, pathSchema, takePage, waitLimitSeconds } from "./common.ts";
import { placementOf, scopedView } from "./placement-services.ts";

export const placementOps: Operation[] = [
  defineOp({
    name: "placement.get",
    summary:
      "Desired vs actual volumes of a file, or of every file under a directory, with last errors, one page (`next` resumes)",
    scope: "pfs",
    right: "read",
    touches: "paths",
    input: z.object({ path: pathSchema, ...pageFields }).strict(),
    paths: (i) => [i.path],
    run: async (ctx, i) => {
      const limit = i.limit ?? LIST_PAGE.limit;
      const report = await placementOf(ctx, "placement.get").placement.status(ctx.pfs, i.path, {
        limit,
        ...(i.cursor !== undefined ? { after: i.cursor } : {}),
        view: scopedView(ctx),
      });
      // A page stops at ~LIST_PAGE.bytes too (a file's status grows with its volumes and error).
      const n = takePage(report.files, limit);
      if (n === report.files.length) return report;
      return {
        ...report,
        placed: false,
        files: report.files.slice(0, n),
        truncated: true,
        next: report.files[n - 1]!.path,
      };
    },
  }),
  defineOp({
    name: "placement.wait",
    summary:
      "Return once every file at or under `path` is placed (ETIMEDOUT after timeoutSeconds; the server waits at most 30 s, then answers ETIMEDOUT with again: true)",
    scope: "pfs",
    right: "read",
    touches: "paths",
    input: z.object({ path: pathSchema, timeoutSeconds: z.number().min(0).max(900) }).strict(),
    paths: (i) => [i.path],
    example: { path: "/show/shot42", timeoutSeconds: 600 },
    run: async (ctx, i) => {
      // One request holds the server at most MAX_WAIT_SECONDS; a longer wait is several calls.
      const limit = waitLimitSeconds(ctx);
      const cut = i.timeoutSeconds > limit;
      try {
        return await placementOf(ctx, "placement.wait").placement.waitPlaced(ctx.pfs, i.path, {
          timeoutMs: Math.min(i.timeoutSeconds, limit) * 1000,
          pollMs: 250,
          view: scopedView(ctx),
        });
      } catch (err) {
        if (!cut || !isStrataError(err, "ETIMEDOUT")) throw err;
        throw notYet(ctx, `${ctx.pfs}:${i.path} is not placed yet`, { ...err.details, path: i.path }, err);
      }
    },
  }),
  defineOp({
    name: "placement.sweep",
    summary:
      "Start a job that reconciles desired vs actual for every file of the PFS, a page of `limit` files per execution; answers with the job (job.get / job.wait / job.cancel)",
    scope: "pfs",
    right: "admin",
    touches: "pfs",
    afterCrash: "runs-again",
    input: z
      .object({
        limit: z.number().int().min(1).max(1000).optional().describe("files to place per page (default 100)"),
        scan: z
          .number()
          .int()
          .min(1)
          .max(10_000)
          .optional()
          .describe("files looked at per page (default 1,000)"),
      })
      .strict(),
    example: { limit: 100 },
    run: (ctx, i) =>
      placementOf(ctx, "placement.sweep").jobs.start("placement.sweep", {
        pfs: ctx.pfs,
        ...(i.limit !== undefined ? { limit: i.limit } : {}),
        ...(i.scan !== undefined ? { scan: i.scan } : {}),
      }),
  }),
];
