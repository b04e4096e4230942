/**
 * File bytes: the presigned upload protocol (upload.begin → upload.chunks → client PUTs →
 * upload.commit) and reads by presigned GET (fs.read). No file bytes pass through the API except
 * inline contents (≤ the inline threshold). Protocol: docs/http-api.md "Bytes"; pure rules:
 * core/data/uploads.ts.
 */
import { z } from "zod";
import { collectBytes } from "../../../core/bytes.ts";
import { mapLimit } from "../../../core/concurrency.ts";
import type { InstanceState } from "../../../core/data/api.ts";
import { chunkObjectKey, instanceKey, intentPk } from "../../../core/data/chunk-items.ts";
import {
  ensureInstance,
  isChunk,
  markBad,
  orderCopies,
  UNSAFE_LIFECYCLE_SWITCHES,
} from "../../../core/data/chunks.ts";
import { DATA_DEFAULTS, type Extent } from "../../../core/data/plane.ts";
import { statOrUndefined } from "../../../core/data/plane-state.ts";
import {
  checkExtents,
  committedSession,
  decodeSession,
  liveChunks,
  sessionItem,
  stagingKey,
  UPLOAD_ID,
  type UploadSession,
} from "../../../core/data/uploads.ts";
import { isStrataError, strataError } from "../../../core/errors.ts";
import type { FileContent, FileSystem, Stat } from "../../../core/namespace/api.ts";
import type { VolumeHandle } from "../../../core/volume/registry.ts";
import type { OpContext } from "../operation.ts";
import { defineOp, type Operation } from "../operation.ts";
import type { Services } from "../services.ts";
import { asOfSchema, bytesSchema, pathSchema, publicStat, reader, toBytes } from "./common.ts";

/**
 * How long presigned URLs live unless the deployment says otherwise: 5 minutes. Revoking a token
 * does not recall URLs it was handed; they work until this expiry, so it is kept short.
 */
export const DEFAULT_PRESIGN_TTL_SECONDS = 5 * 60;
/** Chunks per upload.chunks call. */
const CHUNKS_PER_CALL = 100;

const sha = z.string().regex(/^[0-9a-f]{64}$/, "a lowercase hex SHA-256");
const crc = z.number().int().min(0).max(0xffffffff);
const extent = z
  .object({ offset: z.number().int().min(0), length: z.number().int().min(1), chunk: sha, crc32c: crc })
  .strict();

function presignTtl(services: Services): number {
  return services.presignTtlSeconds ?? DEFAULT_PRESIGN_TTL_SECONDS;
}

async function volumeOf(services: Services, name: string): Promise<VolumeHandle> {
  const v = (await services.volumes.handles())[name];
  if (!v)
    throw strataError("EUNAVAIL", `volume \`${name}\` is not configured on this server`, { volume: name });
  return v;
}

/**
 * Where an upload stages: the first volume placement chooses for the path (objectives apply to
 * remote writes too; the placement run the commit triggers makes the other copies), else the
 * PFS's default volume.
 */
async function stagingVolume(ctx: OpContext, path: string): Promise<string> {
  const { services } = ctx;
  const fallback = await services.data.defaultVolume(ctx.pfs);
  if (!services.placement) return fallback;
  const chosen = await services.placement.placement.chooseVolumes({
    pfs: ctx.pfs,
    path,
    defaultVolume: fallback,
  });
  const available = await services.volumes.handles();
  return chosen.find((name) => available[name] !== undefined) ?? fallback;
}

async function loadSession(ctx: OpContext, uploadId: string): Promise<UploadSession> {
  const item = UPLOAD_ID.test(uploadId)
    ? await ctx.services.store.get({ pk: intentPk(ctx.pfs), sk: uploadId })
    : undefined;
  const session = item ? decodeSession(item) : undefined;
  if (!session || session.committed)
    throw strataError(
      "ENOENT",
      `no upload ${uploadId} in PFS ${ctx.pfs} (expired or committed); begin a new one`,
      {
        uploadId,
      },
    );
  if (session.tokenId !== ctx.principal.tokenId)
    throw strataError("EACCES", `upload ${uploadId} belongs to another token`, { uploadId });
  if (session.expiresAt <= ctx.services.clock())
    throw strataError("ETIMEDOUT", `upload ${uploadId} expired; begin a new one`, { uploadId });
  return session;
}

/**
 * Read an uploaded object back and check it is exactly the chunk claimed; returns its bytes.
 * Wrong bytes are deleted (they are never anyone's good copy) and answered ECORRUPT.
 */
async function verifyUploaded(
  services: Services,
  volume: VolumeHandle,
  key: string,
  expected: { chunk: string; length: number; crc32c: number },
  signal: AbortSignal,
): Promise<Uint8Array> {
  let bytes: Uint8Array;
  let storedCrc: number;
  try {
    const got = await volume.volume.get(key, { signal });
    storedCrc = got.info.crc32c;
    bytes = await collectBytes(got.body); // the Volume checks size and CRC32C against the stored ones
  } catch (err) {
    if (isStrataError(err, "ENOENT"))
      throw strataError(
        "EINVAL",
        `chunk ${expected.chunk} was not uploaded (no object ${key}); PUT it to its URL first`,
        {
          chunk: expected.chunk,
          key,
        },
      );
    throw err;
  }
  const ok =
    storedCrc === expected.crc32c &&
    isChunk({ chunk: expected.chunk, size: expected.length, crc32c: expected.crc32c }, bytes) &&
    (await services.sha256(bytes)) === expected.chunk;
  if (!ok) {
    await volume.volume.delete(key).catch(() => {}); // wrong bytes are never anyone's good copy
    throw strataError(
      "ECORRUPT",
      `the bytes uploaded for chunk ${expected.chunk} do not match its size, CRC32C or SHA-256`,
      {
        chunk: expected.chunk,
        key,
      },
    );
  }
  return bytes;
}

/**
 * Staged chunks an upload.commit verifies and promotes at once (its memory: about this × 2 × the
 * chunk size). Mutable only for the memory test's counter-check (test/adapters/upload-commit-memory.test.ts).
 */
export const UPLOAD_COMMIT_TUNING = { parallelism: 2 };

/**
 * Move a verified staged chunk to its final key, create-only. Server-side copy where the driver
 * has one — then the final object is read back once more, because the URL holder could replace
 * the staged object between our check and the copy; otherwise the verified bytes are put from
 * memory. An object already at the final key with the same size and CRC32C is the same chunk;
 * one that differs is a damaged copy and is replaced by the verified bytes (content-addressed:
 * always safe, as in the data plane).
 */
async function promoteStaged(
  services: Services,
  volume: VolumeHandle,
  staged: string,
  bytes: Uint8Array,
  e: Extent,
  signal: AbortSignal,
): Promise<boolean> {
  const final = chunkObjectKey(e.chunk);
  const v = volume.volume;
  const putVerified = (ifNoneMatch: boolean) =>
    v.put(final, bytes, { size: bytes.byteLength, crc32c: e.crc32c, ifNoneMatch, signal });
  try {
    if (v.capabilities.serverSideCopy && v.driver.copy) {
      await v.copy(staged, final, { ifNoneMatch: true, signal });
      try {
        await verifyUploaded(services, volume, final, e, signal);
      } catch (err) {
        if (!isStrataError(err, "ECORRUPT")) throw err;
        // The staged object changed after its check; what we read first is the chunk.
        await putVerified(false);
      }
    } else await putVerified(true);
    return true;
  } catch (err) {
    if (!isStrataError(err, "EEXIST")) throw err;
    const info = await v.head(final, { signal });
    if (info.size === e.length && info.crc32c === e.crc32c) return false;
    await putVerified(false);
    return true;
  }
}

/**
 * After a commit: the intent stops protecting chunks (the file references them); while URLs it
 * handed out are valid it stays, naming the staged objects, for vacuum. Best effort: a failure
 * leaves the intent to expire, which vacuum handles the same way.
 */
async function settleSession(ctx: OpContext, session: UploadSession): Promise<void> {
  const kept = committedSession(session);
  const write = kept
    ? ctx.services.store.put(sessionItem(kept))
    : ctx.services.store.delete({ pk: intentPk(ctx.pfs), sk: session.id });
  await write.catch(() => {});
}

/** Create or replace, as the data plane commits (docs/data.md): ifVersion = compare-and-swap. */
async function commitContent(
  fs: FileSystem,
  path: string,
  content: FileContent,
  options: { exclusive?: boolean; ifVersion?: string; mode?: number },
): Promise<Stat> {
  if (options.ifVersion !== undefined)
    return fs.writeContent(path, content, { ifVersion: options.ifVersion });
  try {
    return await fs.create(path, { content, mode: options.mode });
  } catch (err) {
    if (options.exclusive || !isStrataError(err, "EEXIST")) throw err;
    return fs.writeContent(path, content);
  }
}

export const dataOps: Operation[] = [
  defineOp({
    name: "data.config",
    summary: "Chunk size and inline threshold a client must use for uploads",
    scope: "pfs",
    right: "read",
    touches: "deployment",
    input: z.object({}).strict(),
    run: async (ctx) => ({
      chunkSize: ctx.services.data.chunkSize,
      inlineThreshold: ctx.services.data.inlineThreshold,
      maxChunks: DATA_DEFAULTS.maxChunksPerFile,
    }),
  }),
  defineOp({
    name: "upload.begin",
    summary: "Start an upload of a file's chunks (an intent); returns uploadId and chunk size",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "runs-again",
    input: z.object({ path: pathSchema }).strict(),
    paths: (i) => [i.path],
    example: { path: "/big.bin" },
    run: async (ctx, i) => {
      const { services } = ctx;
      const existing = await statOrUndefined(ctx.fs, i.path);
      if (existing?.type === "dir")
        throw strataError("EISDIR", `${ctx.pfs}:${i.path} is a directory; write to a file path`, {
          path: i.path,
        });
      const now = services.clock();
      const session: UploadSession = {
        pfs: ctx.pfs,
        id: `${now.toString(36)}-${Math.random().toString(36).slice(2, 12)}`,
        path: i.path,
        volumes: [],
        chunks: [],
        created: now,
        expiresAt: now + DATA_DEFAULTS.intentTtlMs,
        tokenId: ctx.principal.tokenId,
        volume: await stagingVolume(ctx, i.path),
        staged: [],
        urlsExpireAt: now,
      };
      session.volumes = [session.volume];
      await volumeOf(services, session.volume);
      await services.store.put(sessionItem(session));
      return {
        uploadId: session.id,
        chunkSize: services.data.chunkSize,
        inlineThreshold: services.data.inlineThreshold,
        volume: session.volume,
        expiresAt: new Date(session.expiresAt).toISOString(),
      };
    },
  }),
  defineOp({
    name: "upload.chunks",
    summary: "For each chunk: present (nothing to do) or a presigned PUT for exactly its staging object",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "runs-again",
    // The session's path was checked by upload.begin; loadSession binds the session to this token.
    paths: () => [],
    input: z
      .object({
        uploadId: z.string(),
        chunks: z
          .array(z.object({ sha256: sha, size: z.number().int().min(1), crc32c: crc }).strict())
          .min(1)
          .max(CHUNKS_PER_CALL),
      })
      .strict(),
    run: async (ctx, i) => {
      const { services } = ctx;
      const session = await loadSession(ctx, i.uploadId);
      const volume = await volumeOf(services, session.volume);
      const live = liveChunks((await statOrUndefined(ctx.fs, session.path))?.content);
      const ttl = presignTtl(services);
      // Announce every chunk and its staging key BEFORE handing out its URL (vacuum keeps
      // announced chunks and deletes the staged objects an expired intent names).
      for (const c of i.chunks) {
        if (live.has(c.sha256)) continue;
        // (Test-only rule 1 off: the chunk is not announced, only its staging object.)
        if (!session.chunks.includes(c.sha256) && !UNSAFE_LIFECYCLE_SWITCHES.noIntent)
          session.chunks.push(c.sha256);
        if (!session.staged.includes(c.sha256)) session.staged.push(c.sha256);
      }
      const now = services.clock();
      session.expiresAt = now + DATA_DEFAULTS.intentTtlMs;
      session.urlsExpireAt = Math.max(session.urlsExpireAt, now + ttl * 1000);
      await services.store.put(sessionItem(session));
      const out = await Promise.all(
        i.chunks.map(async (c) => {
          if (live.has(c.sha256)) return { sha256: c.sha256, present: true };
          const upload = await volume.presigner.presign({
            key: stagingKey(session.id, c.sha256),
            method: "PUT",
            expiresInSeconds: ttl,
            size: c.size,
            crc32c: c.crc32c,
          });
          return { sha256: c.sha256, present: false, upload };
        }),
      );
      return { chunks: out };
    },
  }),
  defineOp({
    name: "upload.commit",
    summary:
      "Commit a file: inline bytes, or extents whose chunks are verified (live version or this upload)",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "engine",
    // Inline without a session: one create (or one writeContent with ifVersion). When create finds
    // the name taken and writes the content instead, that is two transactions: the HTTP record stays.
    oneCommit: (i) => i.inline !== undefined && i.uploadId === undefined,
    input: z
      .object({
        path: pathSchema,
        uploadId: z.string().optional(),
        inline: bytesSchema.optional(),
        content: z
          .object({ size: z.number().int().min(0), extents: z.array(extent) })
          .strict()
          .optional(),
        ifVersion: z
          .string()
          .regex(/^[0-9a-f]{16}$/)
          .optional(),
        exclusive: z.boolean().optional(),
        mode: z.number().int().min(0).max(0o7777).optional(),
      })
      .strict(),
    paths: (i) => [i.path],
    run: async (ctx, i) => {
      const { services } = ctx;
      if ((i.inline === undefined) === (i.content === undefined))
        throw strataError("EINVAL", "upload.commit takes exactly one of `inline` or `content`", {
          path: i.path,
        });
      if (i.inline !== undefined) {
        const bytes = toBytes(i.inline, "inline");
        if (bytes.byteLength > services.data.inlineThreshold)
          throw strataError(
            "E2BIG",
            `inline contents are limited to ${services.data.inlineThreshold} bytes; upload larger files by chunks`,
            { path: i.path, size: bytes.byteLength },
          );
        const st = await commitContent(ctx.fs, i.path, { size: bytes.byteLength, inline: bytes }, i);
        if (i.uploadId) {
          const item = UPLOAD_ID.test(i.uploadId)
            ? await services.store.get({ pk: intentPk(ctx.pfs), sk: i.uploadId })
            : undefined;
          const session = item ? decodeSession(item) : undefined;
          if (session && session.tokenId === ctx.principal.tokenId && !session.committed)
            await settleSession(ctx, session);
        }
        return publicStat(st);
      }
      const content = i.content!;
      if (i.uploadId === undefined && content.extents.length > 0)
        throw strataError("EINVAL", "a chunked commit needs the uploadId of upload.begin", { path: i.path });
      const session = i.uploadId === undefined ? undefined : await loadSession(ctx, i.uploadId);
      if (session && session.path !== i.path)
        throw strataError("EINVAL", `upload ${session.id} was begun for ${session.path}, not ${i.path}`, {
          path: i.path,
        });
      checkExtents(
        { size: content.size, extents: content.extents as Extent[] },
        { chunkSize: services.data.chunkSize, maxChunks: DATA_DEFAULTS.maxChunksPerFile },
        i.path,
      );
      const live = liveChunks((await statOrUndefined(ctx.fs, i.path))?.content);
      const toVerify = new Map<string, Extent>();
      for (const e of content.extents) {
        const kept = live.get(e.chunk);
        if (kept && kept.length === e.length && kept.crc32c === e.crc32c) continue;
        if (!session?.staged.includes(e.chunk))
          throw strataError(
            "EACCES",
            `chunk ${e.chunk} is neither in ${i.path}'s live version nor uploaded in this upload; ask upload.chunks for its URL`,
            { path: i.path, chunk: e.chunk },
          );
        toVerify.set(e.chunk, e);
      }
      if (session && toVerify.size > 0) {
        const volume = await volumeOf(services, session.volume);
        // Streamed: at most UPLOAD_COMMIT_TUNING.parallelism chunks are read, verified and promoted at once, so
        // the commit's memory is that × the chunk size whatever the file's size.
        await mapLimit([...toVerify.values()], UPLOAD_COMMIT_TUNING.parallelism, async (e) => {
          const staged = stagingKey(session.id, e.chunk);
          const bytes = await verifyUploaded(services, volume, staged, e, ctx.signal);
          // The session is the intent protecting the chunk (written before its URL was handed
          // out); the lifecycle waits out a vacuum lease, reuses a present instance, else promotes
          // the staged object and records it conditionally.
          await ensureInstance(
            services.store,
            { name: session.volume, volume: volume.volume },
            { chunk: e.chunk, size: e.length, crc32c: e.crc32c },
            () => bytes,
            {
              clock: services.clock,
              ...(services.sleep ? { sleep: services.sleep } : {}),
              signal: ctx.signal,
              place: () => promoteStaged(services, volume, staged, bytes, e, ctx.signal),
            },
          );
          await volume.volume.delete(staged).catch(() => {}); // vacuum retries via the intent
        });
      }
      if (session && session.expiresAt <= services.clock())
        throw strataError("ETIMEDOUT", `upload ${session.id} expired before its commit; write again`, {
          path: i.path,
        });
      const st = await commitContent(ctx.fs, i.path, { size: content.size, extents: content.extents }, i);
      if (session) await settleSession(ctx, session);
      return publicStat(st);
    },
  }),
  defineOp({
    name: "fs.read",
    summary: "Where to GET a file's bytes: inline bytes, or extents with presigned sources (best first)",
    scope: "pfs",
    right: "read",
    touches: "paths",
    input: z
      .object({
        path: pathSchema,
        asOf: asOfSchema.optional(),
        start: z.number().int().min(0).optional(),
        end: z.number().int().min(0).optional(),
      })
      .strict(),
    paths: (i) => [i.path],
    example: { path: "/big.bin", start: 0, end: 1048576 },
    run: async (ctx, i) => {
      const { services } = ctx;
      const st = await reader(ctx, i.asOf).stat(i.path);
      if (st.type === "dir")
        throw strataError("EISDIR", `${ctx.pfs}:${i.path} is a directory; read a file`, { path: i.path });
      const content = st.content ?? { size: 0 };
      if (content.inline) return { stat: publicStat(st), inline: content.inline, extents: [] };
      const start = i.start ?? 0;
      const end = Math.min(i.end ?? st.size, st.size);
      const extents = (content.extents ?? []).filter((e) => e.offset < end && e.offset + e.length > start);
      const available = await services.volumes.handles();
      const names = Object.keys(available);
      const records = await services.store.batchGet(
        extents.flatMap((e) => names.map((v) => instanceKey(e.chunk, v))),
      );
      const ttl = presignTtl(services);
      const out = await Promise.all(
        extents.map(async (e, n) => {
          const rows = names.map((volume, k) => ({ volume, record: records[n * names.length + k] }));
          const known = rows.filter((r) => r.record !== undefined);
          // The chunk lifecycle's one chooser (present or unrecorded first, site, cost).
          const candidates = orderCopies(
            (known.length > 0 ? known : rows).map((r) => ({
              volume: r.volume,
              state: (r.record?.state as InstanceState | undefined) ?? ("unknown" as const),
              site: available[r.volume]!.site,
              cost: available[r.volume]!.cost,
              entry: available[r.volume]!,
            })),
            { site: services.deployment.site },
          );
          const sources = await Promise.all(
            candidates.map(async (c) => ({
              volume: c.volume,
              state: c.state,
              ...(await c.entry.presigner.presign({
                key: chunkObjectKey(e.chunk),
                method: "GET",
                expiresInSeconds: ttl,
              })),
            })),
          );
          return { ...e, sources };
        }),
      );
      return { stat: publicStat(st), extents: out };
    },
  }),
  defineOp({
    name: "fs.placement",
    summary: "Which volumes hold which chunks of a file",
    scope: "pfs",
    right: "read",
    touches: "paths",
    input: z.object({ path: pathSchema, asOf: asOfSchema.optional() }).strict(),
    paths: (i) => [i.path],
    run: async (ctx, i) => ({ placement: await ctx.services.data.placement(reader(ctx, i.asOf), i.path) }),
  }),
  defineOp({
    name: "fs.reportBadInstance",
    summary: "Report a chunk instance that failed its check; the server re-checks it and records the state",
    scope: "pfs",
    right: "read",
    touches: "paths",
    input: z
      .object({
        path: pathSchema,
        chunk: sha,
        volume: z.string(),
        // Old versions hold chunks too: a reader of an as-of view reports with its point.
        asOf: asOfSchema.optional(),
      })
      .strict(),
    paths: (i) => [i.path],
    run: async (ctx, i) => {
      const { services } = ctx;
      const st = await reader(ctx, i.asOf).stat(i.path);
      const e = (st.content?.extents ?? []).find((x) => x.chunk === i.chunk);
      if (!e)
        throw strataError("EINVAL", `chunk ${i.chunk} is not part of ${i.path}`, {
          path: i.path,
          chunk: i.chunk,
        });
      const volume = await volumeOf(services, i.volume);
      let state: "present" | "corrupt" | "missing" | "unavailable" = "present";
      try {
        await verifyStored(volume, chunkObjectKey(i.chunk), e, ctx.signal);
      } catch (err) {
        state = isStrataError(err, "ENOENT")
          ? "missing"
          : isStrataError(err, "ECORRUPT")
            ? "corrupt"
            : "unavailable";
      }
      if (state === "corrupt" || state === "missing") {
        await markBad(services.store, instanceKey(i.chunk, i.volume), state, services.clock());
      }
      return { state };
    },
  }),
];

/** A stored chunk still reads back whole with its size and CRC (for bad-instance reports). */
async function verifyStored(
  volume: VolumeHandle,
  key: string,
  e: Extent,
  signal: AbortSignal,
): Promise<void> {
  const got = await volume.volume.get(key, { signal });
  const bytes = await collectBytes(got.body);
  if (bytes.byteLength !== e.length || got.info.crc32c !== e.crc32c)
    throw strataError("ECORRUPT", `object ${key} does not hold the chunk's bytes`, { key });
}
