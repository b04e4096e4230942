/**
 * Mirroring and backups (docs/mirroring.md). Administration is deployment-scoped (a deployment
 * admin token); the source side of a remote mirror (`mirror.info`, `mirror.read`, `mirror.chunk`,
 * `mirror.full`) touches the whole source PFS named in the input: a read token of that PFS whose
 * prefix is "/" (registry declaration `touches: "pfs"`).
 */
import { z } from "zod";
import { chunkObjectKey } from "../../../core/data/chunk-items.ts";
import { isStrataError, strataError } from "../../../core/errors.ts";
import {
  chunkReferenced,
  createMirror,
  getMirrorDefinition,
  listMirrorDefinitions,
  mirrorStatus,
  promoteMirror,
  putMirrorDefinition,
  readChunk,
  readFullPage,
  readStream,
  restoreBackup,
  type SourceSpec,
  sourceInfo,
  toJsonValue,
  writeBackup,
} from "../../../core/mirror/index.ts";
import { runNamedMirror } from "../../mirror/run.ts";
import { mirrorTarget, sourceFor } from "../../mirror/sources.ts";
import { checkDeploymentAdmin } from "../auth.ts";
import { defineOp, type OpContext, type Operation } from "../operation.ts";
import { DEFAULT_PRESIGN_TTL_SECONDS } from "./data.ts";

const name = z.string().min(1).max(200);
/** Bytes of records per mirror.read / mirror.full page: with the JSON form's overhead, a reply stays under 1 MB. */
const API_PAGE_BYTES = 512 * 1024;
const tid = z.string().regex(/^[0-9a-f]{16}$/, "a TID: 16 lowercase hex digits");
const sourceSchema = z
  .union([
    name.describe("a PFS of this deployment"),
    z.object({ url: z.string().url(), pfs: name, token: z.string().optional() }).strict(),
  ])
  .describe('the source PFS: its name here, or {"url", "pfs", "token"} of another deployment');

function specOf(source: string | { url: string; pfs: string; token?: string | undefined }): SourceSpec {
  return typeof source === "string"
    ? { kind: "local", pfs: source }
    : { kind: "http", url: source.url, pfs: source.pfs, ...(source.token ? { token: source.token } : {}) };
}

/** A volume of this deployment as it is now (a runtime `volume.add` included). */
async function volumeNamed(ctx: OpContext, volume: string) {
  const v = (await ctx.services.volumes.lookup(volume))?.volume;
  if (!v) throw strataError("EINVAL", `no volume ${volume} in this deployment`, { volume });
  return v;
}

const target = (ctx: OpContext) => mirrorTarget(ctx.services);

export const mirrorOps: Operation[] = [
  defineOp({
    name: "mirror.create",
    summary: "Create a read-only mirror PFS `target` of `source` (here or in another deployment)",
    scope: "deployment",
    right: "admin",
    touches: "deployment",
    afterCrash: {
      // The PFS exists (EEXIST): if it is this source's mirror, finish the definition (the crash may
      // have come between the two writes) and answer its status, as the first run did.
      recover: async (ctx, i, err) => {
        if (!isStrataError(err, "EEXIST")) throw err;
        const spec = specOf(i.source);
        const mirrorName = i.name ?? i.target;
        const [status] = await mirrorStatus(await target(ctx), i.target);
        if (!status || status.source !== (await sourceFor(ctx.services, spec)).label) throw err;
        await putMirrorDefinition(ctx.services.namespace, {
          name: mirrorName,
          target: i.target,
          source: spec,
        }).catch((e: unknown) => {
          if (!isStrataError(e, "EEXIST")) throw e;
        });
        const def = await getMirrorDefinition(ctx.services.namespace, mirrorName);
        if (def.target !== i.target) throw err;
        return { ...status, name: mirrorName, target: i.target };
      },
    },
    input: z
      .object({
        source: sourceSchema,
        target: name.describe("name of the new mirror PFS"),
        name: name.optional().describe("the mirror's name for mirror.run (default: target)"),
        volumes: z
          .array(name)
          .min(1)
          .optional()
          .describe("volumes for its chunks (default: the deployment's)"),
      })
      .strict(),
    example: { source: "projects", target: "projects-dr", volumes: ["gcs"] },
    run: async (ctx, i) => {
      checkDeploymentAdmin(ctx.principal, "mirror.create");
      const spec = specOf(i.source);
      const mirrorName = i.name ?? i.target;
      const volumes = i.volumes ?? [await ctx.services.data.defaultVolume(i.target)];
      const status = await createMirror(await target(ctx), {
        name: i.target,
        source: await sourceFor(ctx.services, spec),
        volumes,
      });
      await putMirrorDefinition(ctx.services.namespace, { name: mirrorName, target: i.target, source: spec });
      return { ...status, name: mirrorName, target: i.target };
    },
  }),
  defineOp({
    name: "mirror.run",
    summary:
      "Bring a mirror up to date now (from its sync TID; a full comparison if the source pruned past it)",
    scope: "deployment",
    right: "admin",
    touches: "deployment",
    afterCrash: "runs-again",
    input: z
      .object({
        name,
        limit: z.number().int().min(1).max(10_000).optional(),
        maxPages: z.number().int().min(1).optional(),
      })
      .strict(),
    run: (ctx, i) => {
      checkDeploymentAdmin(ctx.principal, "mirror.run");
      return runNamedMirror(ctx.services, i.name, {
        ...(i.limit ? { limit: i.limit } : {}),
        ...(i.maxPages ? { maxPages: i.maxPages } : {}),
      });
    },
  }),
  defineOp({
    name: "mirror.status",
    summary: "Mirrors and how far each has synced",
    scope: "deployment",
    right: "read",
    touches: "deployment",
    input: z.object({ name: name.optional() }).strict(),
    run: async (ctx, i) => {
      checkDeploymentAdmin(ctx.principal, "mirror.status");
      const defs =
        i.name === undefined
          ? await listMirrorDefinitions(ctx.services.namespace)
          : [await getMirrorDefinition(ctx.services.namespace, i.name)];
      const mirrors = [];
      for (const def of defs) {
        const [status] = await mirrorStatus(await target(ctx), def.target);
        mirrors.push({ ...status, name: def.name, target: def.target });
      }
      return { mirrors };
    },
  }),
  defineOp({
    name: "mirror.promote",
    summary:
      "Make a mirror a writable master; with `former`, fence its local source first and demote or retire it",
    scope: "deployment",
    right: "admin",
    touches: "deployment",
    afterCrash: {
      // Already promoted by the first run: answer its TID (the mirror's sync, where it stopped).
      recover: async (ctx, i, err) => {
        const def = await getMirrorDefinition(ctx.services.namespace, i.name);
        const [status] = await mirrorStatus(await target(ctx), def.target);
        if (status?.role !== "promoted") throw err;
        return { name: def.target, tid: status.sync, ...(i.former ? { formerFinalTid: status.sync } : {}) };
      },
    },
    input: z.object({ name, former: z.enum(["demote", "retire"]).optional() }).strict(),
    run: async (ctx, i) => {
      checkDeploymentAdmin(ctx.principal, "mirror.promote");
      const def = await getMirrorDefinition(ctx.services.namespace, i.name);
      if (i.former && def.source.kind !== "local")
        throw strataError(
          "EINVAL",
          `mirror ${i.name}'s source is another deployment: fence it there, then promote without former`,
          { mirror: i.name },
        );
      return promoteMirror(
        await target(ctx),
        def.target,
        i.former
          ? {
              source: await sourceFor(ctx.services, def.source),
              former: {
                ns: ctx.services.namespace,
                pfs: def.source.pfs,
                becomes: i.former,
                newSource: `local:${def.target}`,
              },
            }
          : {},
      );
    },
  }),
  defineOp({
    name: "mirror.info",
    summary: "Source side: a PFS's identity and closed TID (for a mirror in another deployment)",
    scope: "deployment",
    right: "read",
    touches: "pfs",
    pfsOf: (i) => [i.pfs],
    input: z.object({ pfs: name }).strict(),
    run: (ctx, i) => {
      return sourceInfo(ctx.services.namespace, i.pfs);
    },
  }),
  defineOp({
    name: "mirror.read",
    summary: "Source side: one page of a PFS's stream (records with since < tid ≤ upto)",
    scope: "deployment",
    right: "read",
    touches: "pfs",
    pfsOf: (i) => [i.pfs],
    input: z
      .object({
        pfs: name,
        since: tid.optional(),
        upto: tid.optional(),
        token: z.string().optional(),
        limit: z.number().int().min(1).max(10_000).optional(),
      })
      .strict(),
    run: async (ctx, i) => {
      const { pfs, ...request } = i;
      // Pages of ≤ API_PAGE_BYTES of records keep a reply under 1 MB (one commit always goes whole).
      const page = await readStream(ctx.services.namespace, pfs, { ...request, pageBytes: API_PAGE_BYTES });
      return { ...page, records: toJsonValue(page.records) };
    },
  }),
  defineOp({
    name: "mirror.chunk",
    summary:
      "Source side: where to GET one chunk that a version record of the PFS references (presigned URLs, best first), or with `inline` its bytes",
    scope: "deployment",
    right: "read",
    touches: "pfs",
    pfsOf: (i) => [i.pfs],
    input: z
      .object({
        pfs: name,
        chunk: z.string().regex(/^[0-9a-f]{64}$/),
        size: z.number().int().min(0),
        crc32c: z.number().int(),
        from: z
          .object({ pk: z.string().min(1).max(1024), sk: z.string().min(1).max(1024) })
          .strict()
          .describe("the stream record (mirror.read / mirror.full) of a version that references the chunk"),
        inline: z.boolean().optional().describe("return the bytes (base64) instead of URLs"),
      })
      .strict(),
    run: async (ctx, i) => {
      const { services } = ctx;
      // Only a chunk this PFS references, named by the record that references it: one answer
      // for "no such chunk" and "only someone else's", so the chunk store is no oracle.
      if (!(await chunkReferenced(services.namespace, i.pfs, i)))
        throw strataError(
          "ENOENT",
          `no version record ${i.from.pk} ${i.from.sk} of PFS ${i.pfs} references chunk ${i.chunk} (size ${i.size}, crc32c ${i.crc32c})`,
          { pfs: i.pfs, chunk: i.chunk },
        );
      if (i.inline) return { bytes: toJsonValue(await readChunk(services.store, services.volumes, i)) };
      const volumes = await services.volumes.handles();
      const page = await services.store.query(`chunk#${i.chunk}`);
      const present = page.items
        .filter((item) => item.state === "present")
        .map((item) => item.sk.slice("inst#".length))
        .filter((v) => volumes[v] !== undefined)
        .sort((a, b) => (volumes[a]!.cost ?? 1) - (volumes[b]!.cost ?? 1));
      const ttl = services.presignTtlSeconds ?? DEFAULT_PRESIGN_TTL_SECONDS;
      const sources = await Promise.all(
        present.map(async (volume) => ({
          volume,
          ...(await volumes[volume]!.presigner.presign({
            key: chunkObjectKey(i.chunk),
            method: "GET",
            expiresInSeconds: ttl,
          })),
        })),
      );
      return { sources };
    },
  }),
  defineOp({
    name: "mirror.full",
    summary:
      "Source side: one page of every retained history record as of one TID (full-state comparison after pruning); `next` resumes",
    scope: "deployment",
    right: "read",
    touches: "pfs",
    pfsOf: (i) => [i.pfs],
    input: z
      .object({ pfs: name, cursor: z.string().max(4096).optional().describe("the previous page's `next`") })
      .strict(),
    run: async (ctx, i) => {
      const page = await readFullPage(ctx.services.namespace, i.pfs, {
        ...(i.cursor !== undefined ? { cursor: i.cursor } : {}),
        maxBytes: API_PAGE_BYTES,
      });
      return { ...page, records: toJsonValue(page.records) };
    },
  }),
  defineOp({
    name: "backup.create",
    summary: "Write a PFS's stream as a backup bundle on a volume (incremental on `base`)",
    scope: "deployment",
    right: "admin",
    touches: "pfs",
    // A retry writes a second bundle of the same state (its answer names that one).
    afterCrash: "runs-again",
    pfsOf: (i) => [i.pfs],
    input: z
      .object({ pfs: name, volume: name, prefix: z.string().min(1).optional(), base: z.string().optional() })
      .strict(),
    example: { pfs: "projects", volume: "s3", prefix: "backups/projects" },
    run: async (ctx, i) => {
      checkDeploymentAdmin(ctx.principal, "backup.create");
      return writeBackup({
        source: await sourceFor(ctx.services, { kind: "local", pfs: i.pfs }),
        volume: await volumeNamed(ctx, i.volume),
        prefix: i.prefix ?? `backups/${i.pfs}`,
        ...(i.base ? { base: i.base } : {}),
        clock: ctx.services.clock,
      });
    },
  }),
  defineOp({
    name: "backup.restore",
    summary: "Restore a bundle chain into a new PFS (byte- and history-exact), then make it writable",
    scope: "deployment",
    right: "admin",
    touches: "deployment",
    // A retry resumes the restore from this bundle (restoreBackup `resume`; report `resumed: true`).
    afterCrash: "runs-again",
    input: z
      .object({
        name: name.describe("the new PFS"),
        volume: name,
        prefix: z.string().min(1),
        bundle: z.string().min(1),
        volumes: z.array(name).min(1).optional(),
        keepMirror: z.boolean().optional(),
      })
      .strict(),
    run: async (ctx, i) => {
      checkDeploymentAdmin(ctx.principal, "backup.restore");
      return restoreBackup(await target(ctx), {
        name: i.name,
        volume: await volumeNamed(ctx, i.volume),
        prefix: i.prefix,
        bundle: i.bundle,
        volumes: i.volumes ?? [await ctx.services.data.defaultVolume(i.name)],
        ...(i.keepMirror ? { keepMirror: true } : {}),
        ...(ctx.recovering ? { resume: true } : {}),
      });
    },
  }),
];
