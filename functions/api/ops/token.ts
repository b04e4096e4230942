/**
 * Tokens: create within the caller's own scope, list and revoke what it covers; rotate the
 * signing keys (deployment admin only).
 */
import { z } from "zod";
import { strataError } from "../../../core/errors.ts";
import { checkDeploymentAdmin, checkMayIssue, covers } from "../auth.ts";
import { defineOp, type Operation } from "../operation.ts";
import { pageFields, pageOf } from "./common.ts";

const right = z.enum(["read", "write", "admin"]);

export const tokenOps: Operation[] = [
  defineOp({
    name: "token.create",
    summary: "Create a token for a PFS (or * for all), a path prefix and rights; shown once",
    scope: "deployment",
    right: "admin",
    touches: "deployment",
    afterCrash: "rerun",
    input: z
      .object({
        pfs: z.string().min(1),
        prefix: z.string().min(1).optional(),
        rights: z.array(right).min(1),
        ttlSeconds: z.number().int().min(1).optional(),
        label: z.string().max(200).optional(),
      })
      .strict(),
    example: { pfs: "default", prefix: "/team-a", rights: ["read", "write"], ttlSeconds: 86400, label: "ci" },
    run: async (ctx, i) => {
      const tokens = ctx.services.tokens;
      checkMayIssue(ctx.principal, i, tokens.expiryOf(i));
      // Keyed: the id derives from (caller, key), so a retry after a crash re-derives the same
      // token instead of minting a second one (afterCrash "rerun").
      return tokens.create(
        i,
        ctx.idempotencyKey === undefined
          ? {}
          : { idFrom: `${ctx.principal.tokenId}\u0000${ctx.idempotencyKey}` },
      );
    },
  }),
  defineOp({
    name: "token.list",
    summary: "Tokens inside this token's scope (never their secrets), one page (`next` resumes)",
    scope: "deployment",
    right: "admin",
    touches: "deployment",
    afterCrash: "rerun",
    input: z.object(pageFields).strict(),
    run: async (ctx, i) => {
      const mine = (await ctx.services.tokens.list()).filter((t) => covers(ctx.principal, t));
      const page = pageOf(mine, (t) => t.id, i);
      return { tokens: page.items, ...(page.next ? { next: page.next } : {}) };
    },
  }),
  defineOp({
    name: "token.revoke",
    summary: "Revoke a token (effective on its next request)",
    scope: "deployment",
    right: "admin",
    touches: "deployment",
    afterCrash: "gone-is-done",
    input: z.object({ id: z.string().min(1) }).strict(),
    run: async (ctx, i) => {
      const token = await ctx.services.tokens.get(i.id);
      if (!covers(ctx.principal, token))
        throw strataError("EACCES", `token ${i.id} is outside this token's scope`, { id: i.id });
      await ctx.services.tokens.revoke(i.id);
      return {};
    },
  }),
  defineOp({
    name: "token.rotateKey",
    summary:
      "Add a new signing key (the previous one keeps verifying), or with retire: true drop every key but the current one",
    scope: "deployment",
    right: "admin",
    touches: "deployment",
    afterCrash: "runs-again",
    input: z.object({ retire: z.boolean().optional() }).strict(),
    example: { retire: false },
    run: async (ctx, i) => {
      checkDeploymentAdmin(ctx.principal, "token.rotateKey");
      const tokens = ctx.services.tokens;
      if (i.retire) return tokens.retireKeys();
      // Keyed: a retry after a crash finds its key already current instead of rotating twice.
      return tokens.rotateKey(
        ctx.idempotencyKey === undefined
          ? {}
          : { idFrom: `${ctx.principal.tokenId}\u0000${ctx.idempotencyKey}` },
      );
    },
  }),
];
