/** PFS administration (deployment scope). */
import { z } from "zod";
import { isStrataError } from "../../../core/errors.ts";
import { checkDeploymentAdmin } from "../auth.ts";
import { defineOp, type Operation } from "../operation.ts";
import { pageFields, pageOf } from "./common.ts";

const name = z.string().min(1).max(200);

export const pfsOps: Operation[] = [
  defineOp({
    name: "pfs.list",
    summary: "PFSs this token may see (all of them for a deployment token)",
    scope: "deployment",
    right: "read",
    touches: "deployment",
    input: z.object(pageFields).strict(),
    run: async (ctx, i) => {
      const all = await ctx.services.namespace.listPfs();
      const seen = ctx.principal.pfs === "*" ? all : all.filter((p) => p.name === ctx.principal.pfs);
      const page = pageOf(seen, (p) => p.name, i);
      return { pfs: page.items, ...(page.next ? { next: page.next } : {}) };
    },
  }),
  defineOp({
    name: "pfs.create",
    summary: "Create a PFS (deployment admin)",
    scope: "deployment",
    right: "admin",
    touches: "deployment",
    afterCrash: {
      // EEXIST: answer what createPfs answered, read back from the registry.
      recover: async (ctx, i, err) => {
        if (!isStrataError(err, "EEXIST")) throw err;
        const made = (await ctx.services.namespace.listPfs()).find((p) => p.name === i.name);
        if (!made) throw err;
        return made;
      },
    },
    input: z.object({ name }).strict(),
    example: { name: "projects" },
    run: (ctx, i) => {
      checkDeploymentAdmin(ctx.principal, "pfs.create");
      return ctx.services.namespace.createPfs(i.name);
    },
  }),
  defineOp({
    name: "pfs.delete",
    summary: "Delete an empty PFS (deployment admin)",
    scope: "deployment",
    right: "admin",
    touches: "deployment",
    afterCrash: "gone-is-done",
    input: z.object({ name }).strict(),
    run: async (ctx, i) => {
      checkDeploymentAdmin(ctx.principal, "pfs.delete");
      await ctx.services.namespace.deletePfs(i.name);
      return {};
    },
  }),
];
