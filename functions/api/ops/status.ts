/** Health and identity of the deployment. */
import { z } from "zod";
import { defineOp, type Operation } from "../operation.ts";

export const statusOps: Operation[] = [
  defineOp({
    name: "status",
    summary: "Deployment identity, volumes, the caller's token scope, schedules",
    scope: "deployment",
    right: "read",
    touches: "deployment",
    input: z.object({}).strict(),
    run: async (ctx) => {
      const s = ctx.services;
      return {
        deployment: s.deployment.name,
        runtime: s.deployment.runtime,
        site: s.deployment.site,
        startedAt: new Date(s.deployment.startedAt).toISOString(),
        uptimeSeconds: Math.round((s.clock() - s.deployment.startedAt) / 1000),
        metadata: s.store.kind,
        volumes: Object.entries(await s.volumes.handles()).map(([name, v]) => ({
          name,
          kind: v.kind,
          site: v.site,
          cost: v.cost ?? 1,
        })),
        dataPlane: { chunkSize: s.data.chunkSize, inlineThreshold: s.data.inlineThreshold },
        token: {
          id: ctx.principal.tokenId,
          pfs: ctx.principal.pfs,
          prefix: ctx.principal.prefix,
          rights: ctx.principal.rights,
          expiresAt: new Date(ctx.principal.expiresAt).toISOString(),
        },
        schedules: s.schedules?.names() ?? [],
      };
    },
  }),
];
