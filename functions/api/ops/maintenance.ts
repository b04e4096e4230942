/**
 * Maintenance operations (docs/maintenance.md, docs/retention.md): vacuum, scrub and fsck over the
 * whole deployment (deployment admin), retention per PFS (admin of that PFS).
 */
import { z } from "zod";
import { getRetention, setRetention } from "../../../core/retention/store.ts";
import { runFsck, runScrub, runVacuum } from "../../schedule/maintenance.ts";
import { checkDeploymentAdmin } from "../auth.ts";
import { defineOp, type Operation } from "../operation.ts";

export const maintenanceOps: Operation[] = [
  defineOp({
    name: "vacuum.run",
    summary: "Remove history no retained point sees and unreferenced chunks (a dry run unless apply)",
    scope: "deployment",
    right: "admin",
    touches: "deployment",
    afterCrash: "runs-again",
    input: z
      .object({
        apply: z.boolean().optional().describe("really delete (default false: report what would go)"),
        timeBudgetSeconds: z
          .number()
          .positive()
          .max(86_400)
          .optional()
          .describe("stop after about this long"),
      })
      .strict(),
    example: { apply: false },
    run: async (ctx, i) => {
      checkDeploymentAdmin(ctx.principal, "vacuum.run");
      return runVacuum(ctx.services, {
        apply: i.apply === true,
        ...(i.timeBudgetSeconds !== undefined ? { timeBudgetSeconds: i.timeBudgetSeconds } : {}),
      });
    },
  }),
  defineOp({
    name: "scrub.run",
    summary: "Verify chunk instances against their CRC (full reads) and repair bad copies",
    scope: "deployment",
    right: "admin",
    touches: "deployment",
    afterCrash: "runs-again",
    input: z
      .object({
        timeBudgetSeconds: z.number().positive().max(86_400).optional(),
        bytesPerSecond: z.number().positive().optional().describe("read rate limit (default 50 MiB/s)"),
        restart: z.boolean().optional().describe("start over instead of resuming the stored cursor"),
      })
      .strict(),
    example: {},
    run: async (ctx, i) => {
      checkDeploymentAdmin(ctx.principal, "scrub.run");
      return runScrub(ctx.services, {
        ...(i.timeBudgetSeconds !== undefined ? { timeBudgetSeconds: i.timeBudgetSeconds } : {}),
        ...(i.bytesPerSecond !== undefined ? { bytesPerSecond: i.bytesPerSecond } : {}),
        ...(i.restart ? { restart: true } : {}),
      });
    },
  }),
  defineOp({
    name: "fsck.run",
    summary: "Check the namespace's invariants (offline: run while nothing writes); ok false when one fails",
    scope: "deployment",
    right: "admin",
    touches: "deployment",
    afterCrash: "runs-again",
    input: z
      .object({
        pfs: z.array(z.string().min(1)).optional().describe("only these PFSs"),
        objects: z
          .boolean()
          .optional()
          .describe("HEAD the objects of present instances (default true; false: records only)"),
      })
      .strict(),
    example: {},
    run: async (ctx, i) => {
      checkDeploymentAdmin(ctx.principal, "fsck.run");
      return runFsck(ctx.services, i.pfs, i.objects === false ? { objects: false } : {});
    },
  }),
  defineOp({
    name: "retention.set",
    summary:
      'Set the PFS\'s retention policy, e.g. "all 1h; hourly 1d; daily 30d; monthly 1y" ("" keeps everything)',
    scope: "pfs",
    right: "admin",
    touches: "pfs",
    afterCrash: "rerun",
    input: z.object({ policy: z.string().max(1000) }).strict(),
    example: { policy: "all 1h; hourly 1d; daily 30d; monthly 1y" },
    run: async (ctx, i) => setRetention(ctx.services.store, ctx.pfs, i.policy, ctx.services.clock),
  }),
  defineOp({
    name: "retention.get",
    summary: "The PFS's retention policy and what vacuum has pruned (the oldest point that still exists)",
    scope: "pfs",
    right: "read",
    touches: "pfs",
    input: z.object({}).strict(),
    example: {},
    run: async (ctx) => getRetention(ctx.services.store, ctx.pfs),
  }),
];
