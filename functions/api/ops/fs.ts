/** Namespace operations on one PFS: reads, changes, history, batches, snapshots. */
import { z } from "zod";
import type { BatchOp } from "../../../core/namespace/api.ts";
import { defineOp, type Operation } from "../operation.ts";
import {
  asOfSchema,
  bytesSchema,
  LIST_PAGE,
  pageFields,
  pageOf,
  pathSchema,
  publicStat,
  reader,
  symlinkDestination,
  takePage,
  toAsOf,
  toBytes,
} from "./common.ts";

const pathInput = z.object({ path: pathSchema }).strict();
const readInput = z.object({ path: pathSchema, asOf: asOfSchema.optional() }).strict();
const mode = z.number().int().min(0).max(0o7777);
const id = z.number().int().min(0).max(0xffffffff);

const attrs = z
  .object({
    mode: mode.optional(),
    uid: id.optional(),
    gid: id.optional(),
    atimeMs: z.number().finite().optional(),
    mtimeMs: z.number().finite().optional(),
  })
  .strict();

/** Batch content: inline bytes only. Chunked content enters only through upload.commit, which verifies it. */
const inlineContent = z.object({ size: z.number().int().min(0), inline: bytesSchema }).strict();

const batchOp = z.discriminatedUnion("op", [
  z.object({ op: z.literal("mkdir"), path: pathSchema, mode: mode.optional() }).strict(),
  z
    .object({
      op: z.literal("create"),
      path: pathSchema,
      options: z.object({ mode: mode.optional(), content: inlineContent.optional() }).strict().optional(),
    })
    .strict(),
  z.object({ op: z.literal("writeContent"), path: pathSchema, content: inlineContent }).strict(),
  z.object({ op: z.literal("unlink"), path: pathSchema }).strict(),
  z.object({ op: z.literal("rmdir"), path: pathSchema }).strict(),
  z.object({ op: z.literal("rename"), from: pathSchema, to: pathSchema }).strict(),
  z.object({ op: z.literal("symlink"), target: z.string().min(1), path: pathSchema }).strict(),
  z.object({ op: z.literal("link"), existing: pathSchema, path: pathSchema }).strict(),
  z.object({ op: z.literal("setattr"), path: pathSchema, attrs }).strict(),
  z.object({ op: z.literal("setTag"), path: pathSchema, key: z.string(), value: z.string() }).strict(),
  z.object({ op: z.literal("removeTag"), path: pathSchema, key: z.string() }).strict(),
]);
type WireBatchOp = z.output<typeof batchOp>;

function batchPaths(op: WireBatchOp): string[] {
  switch (op.op) {
    case "rename":
      return [op.from, op.to];
    case "link":
      return [op.existing, op.path];
    case "symlink":
      return [op.path, symlinkDestination(op.path, op.target)];
    default:
      return [op.path];
  }
}

function toEngineOp(op: WireBatchOp, index: number): BatchOp {
  const content = (c: { size: number; inline: { $bytes: string } }) => ({
    size: c.size,
    inline: toBytes(c.inline, `ops[${index}].content.inline`),
  });
  switch (op.op) {
    case "create":
      return {
        op: "create",
        path: op.path,
        options: {
          mode: op.options?.mode,
          content: op.options?.content ? content(op.options.content) : undefined,
        },
      };
    case "writeContent":
      return { op: "writeContent", path: op.path, content: content(op.content) };
    default:
      return op;
  }
}

export const fsOps: Operation[] = [
  defineOp({
    name: "fs.stat",
    summary: "Stat a path (follows symlinks)",
    scope: "pfs",
    right: "read",
    touches: "paths",
    input: readInput,
    paths: (i) => [i.path],
    example: { path: "/a.txt" },
    run: async (ctx, i) => publicStat(await reader(ctx, i.asOf).stat(i.path)),
  }),
  defineOp({
    name: "fs.lstat",
    summary: "Stat a path without following a final symlink",
    scope: "pfs",
    right: "read",
    touches: "paths",
    input: readInput,
    paths: (i) => [i.path],
    run: async (ctx, i) => publicStat(await reader(ctx, i.asOf).lstat(i.path)),
  }),
  defineOp({
    name: "fs.readdir",
    summary: "One page of a directory's entries (sorted by name)",
    scope: "pfs",
    right: "read",
    touches: "paths",
    input: z
      .object({
        path: pathSchema,
        asOf: asOfSchema.optional(),
        cursor: z.string().optional(),
        limit: z.number().int().min(1).max(1000).optional(),
      })
      .strict(),
    paths: (i) => [i.path],
    example: { path: "/", limit: 100 },
    run: (ctx, i) => reader(ctx, i.asOf).readdir(i.path, { cursor: i.cursor, limit: i.limit }),
  }),
  defineOp({
    name: "fs.readlink",
    summary: "The target of a symlink",
    scope: "pfs",
    right: "read",
    touches: "paths",
    input: readInput,
    paths: (i) => [i.path],
    run: async (ctx, i) => ({ target: await reader(ctx, i.asOf).readlink(i.path) }),
  }),
  defineOp({
    name: "fs.getXattr",
    summary: "An extended attribute's value",
    scope: "pfs",
    right: "read",
    touches: "paths",
    input: z.object({ path: pathSchema, name: z.string(), asOf: asOfSchema.optional() }).strict(),
    paths: (i) => [i.path],
    run: async (ctx, i) => ({ value: await reader(ctx, i.asOf).getXattr(i.path, i.name) }),
  }),
  defineOp({
    name: "fs.listXattrs",
    summary: "Names of a path's extended attributes",
    scope: "pfs",
    right: "read",
    touches: "paths",
    input: readInput,
    paths: (i) => [i.path],
    run: async (ctx, i) => ({ names: await reader(ctx, i.asOf).listXattrs(i.path) }),
  }),
  defineOp({
    name: "fs.getTags",
    summary: "Every tag of a path",
    scope: "pfs",
    right: "read",
    touches: "paths",
    input: readInput,
    paths: (i) => [i.path],
    run: async (ctx, i) => ({ tags: await reader(ctx, i.asOf).getTags(i.path) }),
  }),
  defineOp({
    name: "fs.mkdir",
    summary: "Create a directory (recursive: and its missing parents)",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "engine",
    oneCommit: (i) => i.recursive !== true,
    input: z.object({ path: pathSchema, mode: mode.optional(), recursive: z.boolean().optional() }).strict(),
    paths: (i) => [i.path],
    example: { path: "/a/b", recursive: true },
    run: async (ctx, i) => publicStat(await ctx.fs.mkdir(i.path, { mode: i.mode, recursive: i.recursive })),
  }),
  defineOp({
    name: "fs.rename",
    summary: "Atomic rename",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "engine",
    oneCommit: true,
    input: z.object({ from: pathSchema, to: pathSchema, noReplace: z.boolean().optional() }).strict(),
    paths: (i) => [i.from, i.to],
    example: { from: "/a.txt", to: "/b.txt" },
    run: async (ctx, i) => {
      await ctx.fs.rename(i.from, i.to, { noReplace: i.noReplace });
      return {};
    },
  }),
  defineOp({
    name: "fs.unlink",
    summary: "Remove a file or symlink",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "engine",
    oneCommit: true,
    input: pathInput,
    paths: (i) => [i.path],
    run: async (ctx, i) => {
      await ctx.fs.unlink(i.path);
      return {};
    },
  }),
  defineOp({
    name: "fs.rmdir",
    summary: "Remove an empty directory",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "engine",
    oneCommit: true,
    input: pathInput,
    paths: (i) => [i.path],
    run: async (ctx, i) => {
      await ctx.fs.rmdir(i.path);
      return {};
    },
  }),
  defineOp({
    name: "fs.symlink",
    summary: "Create a symlink at path pointing to target (the target must lie inside the token's prefix)",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "engine",
    oneCommit: true,
    input: z.object({ target: z.string().min(1), path: pathSchema }).strict(),
    paths: (i) => [i.path, symlinkDestination(i.path, i.target)],
    run: async (ctx, i) => publicStat(await ctx.fs.symlink(i.target, i.path)),
  }),
  defineOp({
    name: "fs.link",
    summary: "A hard link: path names the same file as existing",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "engine",
    oneCommit: true,
    input: z.object({ existing: pathSchema, path: pathSchema }).strict(),
    paths: (i) => [i.existing, i.path],
    run: async (ctx, i) => publicStat(await ctx.fs.link(i.existing, i.path)),
  }),
  defineOp({
    name: "fs.setattr",
    summary: "Set mode, owner or times",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "engine",
    oneCommit: true,
    input: z.object({ path: pathSchema, attrs }).strict(),
    paths: (i) => [i.path],
    run: async (ctx, i) => publicStat(await ctx.fs.setattr(i.path, i.attrs)),
  }),
  defineOp({
    name: "fs.setXattr",
    summary: "Set an extended attribute",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "engine",
    oneCommit: true,
    input: z
      .object({
        path: pathSchema,
        name: z.string(),
        value: bytesSchema,
        create: z.boolean().optional(),
        replace: z.boolean().optional(),
      })
      .strict(),
    paths: (i) => [i.path],
    run: async (ctx, i) => {
      await ctx.fs.setXattr(i.path, i.name, toBytes(i.value, "value"), {
        create: i.create,
        replace: i.replace,
      });
      return {};
    },
  }),
  defineOp({
    name: "fs.removeXattr",
    summary: "Remove an extended attribute",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "engine",
    oneCommit: true,
    input: z.object({ path: pathSchema, name: z.string() }).strict(),
    paths: (i) => [i.path],
    run: async (ctx, i) => {
      await ctx.fs.removeXattr(i.path, i.name);
      return {};
    },
  }),
  defineOp({
    name: "fs.setTag",
    summary: "Set one tag",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "engine",
    oneCommit: true,
    input: z.object({ path: pathSchema, key: z.string(), value: z.string() }).strict(),
    paths: (i) => [i.path],
    example: { path: "/renders/a.exr", key: "render-site", value: "gcs-eu" },
    run: async (ctx, i) => {
      await ctx.fs.setTag(i.path, i.key, i.value);
      return {};
    },
  }),
  defineOp({
    name: "fs.removeTag",
    summary: "Remove one tag",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "engine",
    oneCommit: true,
    input: z.object({ path: pathSchema, key: z.string() }).strict(),
    paths: (i) => [i.path],
    run: async (ctx, i) => {
      await ctx.fs.removeTag(i.path, i.key);
      return {};
    },
  }),
  defineOp({
    name: "fs.history",
    summary: "Versions of the object at a path, newest first, one page (`next` resumes)",
    scope: "pfs",
    right: "read",
    touches: "paths",
    input: z.object({ path: pathSchema, ...pageFields }).strict(),
    paths: (i) => [i.path],
    run: async (ctx, i) => {
      const limit = i.limit ?? LIST_PAGE.limit;
      // One version more than the page tells whether another page follows; `next` is the last TID.
      const versions = (
        await ctx.fs.history(i.path, {
          limit: limit + 1,
          ...(i.cursor !== undefined ? { before: i.cursor } : {}),
        })
      ).map((v) => (v.stat ? { ...v, stat: publicStat(v.stat) } : v));
      const n = takePage(versions, limit);
      return {
        versions: versions.slice(0, n),
        ...(n < versions.length ? { next: versions[n - 1]!.tid } : {}),
      };
    },
  }),
  defineOp({
    name: "fs.revert",
    summary:
      "Revert the object at a path (recursive: its subtree) to its state at asOf, as a new commit; byPath: what the path named then; dryRun: only list the changes",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "engine",
    input: z
      .object({
        path: pathSchema,
        asOf: asOfSchema,
        recursive: z.boolean().optional(),
        byPath: z.boolean().optional(),
        dryRun: z.boolean().optional(),
      })
      .strict(),
    paths: (i) => [i.path],
    example: { path: "/config", asOf: { snapshot: "before" }, recursive: true },
    run: async (ctx, i) => {
      const options = { recursive: i.recursive, byPath: i.byPath };
      if (i.dryRun === true)
        return { plan: await ctx.fs.revert(i.path, toAsOf(i.asOf), { ...options, dryRun: true }) };
      return { tid: await ctx.fs.revert(i.path, toAsOf(i.asOf), options) };
    },
  }),
  defineOp({
    name: "fs.batch",
    summary: "Apply several changes in one transaction (file contents inline only)",
    scope: "pfs",
    right: "write",
    touches: "paths",
    afterCrash: "engine",
    oneCommit: true,
    input: z.object({ ops: z.array(batchOp).min(1).max(100) }).strict(),
    paths: (i) => i.ops.flatMap(batchPaths),
    run: async (ctx, i) => ({ tid: await ctx.fs.batch(i.ops.map(toEngineOp)) }),
  }),
  defineOp({
    name: "fs.currentTid",
    summary: "A TID at or above every change acknowledged so far",
    scope: "pfs",
    right: "read",
    touches: "paths",
    // Reads the PFS's TID counter, no object: any token of the PFS may pin an as-of view.
    paths: () => [],
    input: z.object({}).strict(),
    run: async (ctx) => ({ tid: await ctx.fs.currentTid() }),
  }),
  defineOp({
    name: "snapshot.create",
    summary: "Name the current state (or the state at asOf)",
    scope: "pfs",
    right: "write",
    touches: "pfs",
    afterCrash: "engine",
    input: z.object({ name: z.string().min(1), asOf: asOfSchema.optional() }).strict(),
    example: { name: "before-migration" },
    run: (ctx, i) =>
      ctx.fs.createSnapshot(i.name, { asOf: i.asOf === undefined ? undefined : toAsOf(i.asOf) }),
  }),
  defineOp({
    name: "snapshot.list",
    summary: "The PFS's snapshots by name, one page (`next` resumes)",
    scope: "pfs",
    right: "read",
    touches: "pfs",
    input: z.object(pageFields).strict(),
    run: async (ctx, i) => {
      const page = pageOf(await ctx.fs.listSnapshots(), (s) => s.name, i);
      return { snapshots: page.items, ...(page.next ? { next: page.next } : {}) };
    },
  }),
  defineOp({
    name: "snapshot.delete",
    summary: "Forget a snapshot (admin: snapshots pin history other users may rely on)",
    scope: "pfs",
    right: "admin",
    touches: "pfs",
    afterCrash: "gone-is-done",
    input: z.object({ name: z.string().min(1) }).strict(),
    run: async (ctx, i) => {
      await ctx.fs.deleteSnapshot(i.name);
      return {};
    },
  }),
];
