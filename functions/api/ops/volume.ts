/** Volumes as records (deployment scope, deployment admin): add, list, drain, remove. docs/placement.md */
import { z } from "zod";
import { checkVolumeSettings } from "../../../adapters/data/volumes.ts";
import type { Value } from "../../../core/metadata/port.ts";
import { checkDeploymentAdmin, isDeploymentAdmin } from "../auth.ts";
import { defineOp, type Operation } from "../operation.ts";
import { pageFields, pageOf, waitCapped } from "./common.ts";
import { inBackground, placementOf } from "./placement-services.ts";

/** Drains in flight per deployment's placement services and volume (joined by a repeated call). */
const drains = new WeakMap<object, Map<string, Promise<{ evacuated: number }>>>();

const name = z.string().min(1).max(63).describe("volume name: a-z 0-9 . _ -");
const label = z.string().min(1).max(64);

export const volumeOps: Operation[] = [
  defineOp({
    name: "volume.add",
    summary:
      "Register a volume (kind + driver settings, site, cloud, class, cost); idempotent for the same settings",
    scope: "deployment",
    right: "admin",
    touches: "deployment",
    afterCrash: "rerun",
    input: z
      .object({
        name,
        kind: z.enum(["local", "s3", "azure", "gcs"]),
        config: z
          .record(z.string(), z.unknown())
          .optional()
          .describe("driver settings of that kind (docs/placement.md)"),
        site: label.optional(),
        cloud: label.optional(),
        class: label.optional(),
        cost: z.number().min(0).optional(),
      })
      .strict(),
    example: {
      name: "gcs-eu",
      kind: "gcs",
      config: { bucket: "acme-strata-eu" },
      site: "gcs-eu",
      cloud: "gcp",
      class: "archive",
      cost: 1,
    },
    run: async (ctx, i) => {
      checkDeploymentAdmin(ctx.principal, "volume.add");
      const { config, ...rest } = i;
      await checkVolumeSettings(i.name, i.kind, config ?? {});
      return placementOf(ctx, "volume.add").volumes.add({
        ...rest,
        config: (config ?? {}) as Record<string, Value>,
      });
    },
  }),
  defineOp({
    name: "volume.list",
    summary: "Every volume record with its state (active | draining)",
    scope: "deployment",
    right: "read",
    touches: "deployment",
    input: z.object(pageFields).strict(),
    run: async (ctx, i) => {
      // Driver settings may hold endpoints and credentials: only deployment admins see them.
      const admin = isDeploymentAdmin(ctx.principal);
      const volumes = await placementOf(ctx, "volume.list").volumes.list();
      const page = pageOf(
        volumes.map((v) => (admin ? v : { ...v, config: {} })),
        (v) => v.name,
        i,
      );
      return { volumes: page.items, ...(page.next ? { next: page.next } : {}) };
    },
  }),
  defineOp({
    name: "volume.drain",
    summary:
      "Stop choosing a volume and move every instance off it (files stay readable); `wait` to return when done (at most 30 s per call: then ETIMEDOUT with again: true)",
    scope: "deployment",
    right: "admin",
    touches: "deployment",
    afterCrash: "rerun",
    input: z.object({ name, wait: z.boolean().optional() }).strict(),
    example: { name: "s3-old" },
    run: async (ctx, i) => {
      checkDeploymentAdmin(ctx.principal, "volume.drain");
      const p = placementOf(ctx, "volume.drain");
      const record = await p.volumes.drain(i.name);
      // One drain per volume at a time: a repeated call (the client looping on "not yet") joins it.
      const running = drains.get(p) ?? new Map<string, Promise<{ evacuated: number }>>();
      drains.set(p, running);
      let work = running.get(i.name);
      if (!work) {
        work = p.orchestrator.drain(i.name).finally(() => running.delete(i.name));
        running.set(i.name, work);
        inBackground(work);
      }
      if (i.wait)
        return { ...record, ...(await waitCapped(ctx, work, `the drain of ${i.name}`, { volume: i.name })) };
      return { ...record, started: true };
    },
  }),
  defineOp({
    name: "volume.remove",
    summary: "Delete a drained volume's record (refused while it holds chunks or an objective names it)",
    scope: "deployment",
    right: "admin",
    touches: "deployment",
    afterCrash: "gone-is-done",
    input: z.object({ name }).strict(),
    run: async (ctx, i) => {
      checkDeploymentAdmin(ctx.principal, "volume.remove");
      await placementOf(ctx, "volume.remove").volumes.remove(i.name);
      return {};
    },
  }),
];
