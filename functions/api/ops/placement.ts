/** Placement status and waiting (PFS scope). docs/placement.md */
import { z } from "zod";
import { defineOp, type Operation } from "../operation.ts";
import { pathSchema } from "./common.ts";
import { placementOf } from "./placement-services.ts";

export const placementOps: Operation[] = [
  defineOp({
    name: "placement.get",
    summary: "Desired vs actual volumes of a file, or of every file under a directory, with last errors",
    scope: "pfs",
    right: "read",
    touches: "paths",
    input: z.object({ path: pathSchema, limit: z.number().int().min(1).max(10_000).optional() }).strict(),
    paths: (i) => [i.path],
    run: (ctx, i) =>
      placementOf(ctx, "placement.get").placement.status(ctx.pfs, i.path, i.limit ? { limit: i.limit } : {}),
  }),
  defineOp({
    name: "placement.wait",
    summary: "Return once every file at or under `path` is placed (ETIMEDOUT after timeoutSeconds)",
    scope: "pfs",
    right: "read",
    touches: "paths",
    input: z.object({ path: pathSchema, timeoutSeconds: z.number().min(0).max(900) }).strict(),
    paths: (i) => [i.path],
    example: { path: "/show/shot42", timeoutSeconds: 600 },
    run: (ctx, i) =>
      placementOf(ctx, "placement.wait").placement.waitPlaced(ctx.pfs, i.path, {
        timeoutMs: i.timeoutSeconds * 1000,
        pollMs: 250,
      }),
  }),
  defineOp({
    name: "placement.sweep",
    summary:
      "Reconcile desired vs actual for up to `limit` files of the PFS (resumes where the last sweep stopped)",
    scope: "pfs",
    right: "admin",
    touches: "pfs",
    input: z.object({ limit: z.number().int().min(1).max(100_000).optional() }).strict(),
    run: (ctx, i) =>
      placementOf(ctx, "placement.sweep").orchestrator.sweep(ctx.pfs, i.limit ? { limit: i.limit } : {}),
  }),
];
