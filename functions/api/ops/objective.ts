/** Objectives attached to the PFS root, directories and files (PFS scope). Grammar: docs/objectives.md */
import { z } from "zod";
import { defineOp, type Operation } from "../operation.ts";
import { pageFields, pageOf, pathSchema } from "./common.ts";
import { inBackground, placementOf, scopedView } from "./placement-services.ts";

export const objectiveOps: Operation[] = [
  defineOp({
    name: "objective.set",
    summary: "Attach objectives to a path (replacing what was attached there); placement re-runs below it",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "rerun",
    input: z.object({ path: pathSchema, text: z.string().max(8192) }).strict(),
    paths: (i) => [i.path],
    example: { path: "/show", text: "when tag:render-site place 1 on site:$tag:render-site" },
    run: async (ctx, i) => {
      const p = placementOf(ctx, "objective.set");
      const out = await p.placement.setObjectives(ctx.pfs, i.path, i.text, scopedView(ctx));
      inBackground(p.orchestrator.enqueue(ctx.pfs, i.path));
      return out;
    },
  }),
  defineOp({
    name: "objective.list",
    summary: "Objectives attached in the PFS (at or below `path`)",
    scope: "pfs",
    right: "read",
    touches: "paths",
    input: z.object({ path: pathSchema.optional(), ...pageFields }).strict(),
    paths: (i) => [i.path ?? "/"],
    run: async (ctx, i) => {
      const all = await placementOf(ctx, "objective.list").placement.listObjectives(
        ctx.pfs,
        i.path,
        scopedView(ctx),
      );
      const page = pageOf(all, (o) => `${o.path}\u0000${o.ino}`, i);
      return { objectives: page.items, ...(page.next ? { next: page.next } : {}) };
    },
  }),
  defineOp({
    name: "objective.remove",
    summary: "Detach the objectives of a path; placement re-runs below it",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "gone-is-done",
    input: z.object({ path: pathSchema }).strict(),
    paths: (i) => [i.path],
    run: async (ctx, i) => {
      const p = placementOf(ctx, "objective.remove");
      await p.placement.removeObjectives(ctx.pfs, i.path, scopedView(ctx));
      inBackground(p.orchestrator.enqueue(ctx.pfs, i.path));
      return {};
    },
  }),
  defineOp({
    name: "objective.explain",
    summary: "Local, inherited and effective objectives of a path, and the volumes it should be on",
    scope: "pfs",
    right: "read",
    touches: "paths",
    input: z.object({ path: pathSchema }).strict(),
    paths: (i) => [i.path],
    run: (ctx, i) =>
      placementOf(ctx, "objective.explain").placement.explain(ctx.pfs, i.path, scopedView(ctx)),
  }),
];
