/** Where the files at or under a path are, against where their objectives want them; and waiting for placed. */

import { isStrataError, StrataError } from "../errors.ts";
import {
  chunksOf,
  clean,
  currentVolumes,
  gather,
  type PlacementContext,
  planFor,
  presentInstances,
  readRecord,
} from "./context.ts";
import type { FileStatus, PlacementStatus, ScopedView } from "./types.ts";
import { filesUnder } from "./walk.ts";

/**
 * Placement of a file, or of the files under a directory in walk order: up to `limit` (default
 * 1,000) after the file `after`; `next` (the last file looked at) resumes when more follow.
 */
export async function status(
  ctx: PlacementContext,

  pfs: string,
  path: string,
  options: { limit?: number; after?: string; view?: ScopedView } = {},
): Promise<PlacementStatus> {
  const limit = options.limit ?? 1000;
  const files: FileStatus[] = [];
  let last: string | undefined;
  let more = false;
  const walk = { view: options.view, ...(options.after !== undefined ? { after: options.after } : {}) };
  for await (const file of filesUnder(ctx, pfs, path, walk)) {
    if (files.length >= limit) {
      more = true;
      break;
    }
    last = file;
    try {
      files.push(await fileStatus(ctx, pfs, file, options.view));
    } catch (err) {
      if (!isStrataError(err, "ENOENT")) throw err; // removed while walking
    }
  }
  const placed = files.every((f) => f.status === "placed" || f.status === "inline");
  return {
    path: clean(path),
    placed: placed && !more,
    files,
    ...(more && last !== undefined ? { truncated: true, next: last } : {}),
  };
}

export async function fileStatus(
  ctx: PlacementContext,
  pfs: string,
  path: string,
  view?: ScopedView,
): Promise<FileStatus> {
  const g = await gather(ctx, pfs, path, view);
  const chunks = chunksOf(g.stat);
  const record = await readRecord(ctx, pfs, g.stat.ino);
  const lastRun = record
    ? { status: record.status, time: record.time, failures: record.failures }
    : undefined;
  if (chunks.length === 0)
    return {
      path: clean(path),
      status: "inline",
      desired: [],
      actual: {},
      chunks: 0,
      missing: 0,
      surplus: [],
      ...(lastRun ? { lastRun } : {}),
    };
  const names = (await ctx.volumes.list()).map((v) => v.name);
  const present = await presentInstances(
    ctx,
    chunks.map((c) => c[0]),
    names,
  );
  const plan = await planFor(ctx, pfs, g, currentVolumes(present, names));
  const actual: Record<string, number> = {};
  for (const set of present.values()) for (const v of set) actual[v] = (actual[v] ?? 0) + 1;
  const missing = chunks.reduce(
    (n, [sha]) => n + plan.desired.filter((v) => !present.get(sha)!.has(v)).length,
    0,
  );
  const surplus = Object.keys(actual)
    .filter((v) => !plan.desired.includes(v))
    .sort();
  const status: FileStatus["status"] =
    plan.desired.length === 0
      ? "unsatisfied"
      : missing === 0
        ? "placed"
        : record?.status === "failed"
          ? "failed"
          : "pending";
  return {
    path: clean(path),
    status,
    desired: plan.desired,
    actual,
    chunks: chunks.length,
    missing,
    surplus,
    ...(record?.error && status !== "placed" ? { error: record.error } : {}),
    ...(lastRun ? { lastRun } : {}),
    ...(plan.unsatisfied.length > 0 ? { unsatisfied: plan.unsatisfied } : {}),
  };
}

/**
 * The error for a file no volume can take (status `unsatisfied`): which rule, which selector (with
 * the file's tags filled in: the site asked for) and which sites and volumes exist. Waiting cannot
 * help until a volume is added or the tag/objective changes.
 */
export async function unsatisfiable(
  ctx: PlacementContext,
  pfs: string,
  file: FileStatus,
): Promise<StrataError> {
  const volumes = await ctx.volumes.list();
  const sites = [...new Set(volumes.flatMap((v) => (v.site ? [v.site] : [])))].sort();
  const rule = file.unsatisfied?.find((u) => u.found === 0) ?? file.unsatisfied?.[0];
  const what = rule
    ? rule.wants
      ? `objective \`${rule.statement}\` (attached at ${rule.at}) wants ${rule.wanted} volume(s) matching ${rule.wants} and no active volume matches`
      : "no active volume is eligible"
    : "no volume can be chosen";
  return new StrataError(
    "EINVAL",
    `${pfs}:${file.path} cannot be placed: ${what}; volumes: ${
      volumes.map((v) => `${v.name}${v.site ? ` (site ${v.site})` : ""}`).join(", ") || "none"
    }`,
    {
      details: {
        reason: "unsatisfiable",
        pfs,
        path: file.path,
        ...(rule ? { rule } : {}),
        sites,
        volumes: volumes.map((v) => ({ name: v.name, ...(v.site ? { site: v.site } : {}), state: v.state })),
      },
    },
  );
}

/**
 * Wait until every file at or under `path` is placed (polling every `pollMs`; a file seen placed
 * is not checked again). ETIMEDOUT after `timeoutMs`, with the files still pending and their
 * last errors. Resolves with the final status of every file.
 */
export async function waitPlaced(
  ctx: PlacementContext,

  pfs: string,
  path: string,
  options: {
    timeoutMs: number;
    pollMs?: number;
    sleep?: (ms: number) => Promise<void>;
    view?: ScopedView;
    /**
     * Fail at once (EINVAL, {@link unsatisfiable}) on a file no volume can take (default true).
     * Test-only `false`: wait for it like any pending file (the counter-check of fail-fast).
     */
    failUnsatisfied?: boolean;
  },
): Promise<PlacementStatus> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = ctx.clock() + options.timeoutMs;
  const settled = new Map<string, FileStatus>();
  for (;;) {
    const pending: FileStatus[] = [];
    let count = 0;
    for await (const file of filesUnder(ctx, pfs, path, { view: options.view })) {
      if (++count > 10_000)
        throw new StrataError(
          "E2BIG",
          `${pfs}:${path}: more than 10,000 files to wait for; wait on subdirectories`,
          {
            details: { pfs, path },
          },
        );
      if (settled.has(file)) continue;
      let st: FileStatus;
      try {
        st = await fileStatus(ctx, pfs, file, options.view);
      } catch (err) {
        if (isStrataError(err, "ENOENT")) continue; // removed while waiting
        throw err;
      }
      if (st.status === "placed" || st.status === "inline") settled.set(file, st);
      else if (st.status === "unsatisfied" && options.failUnsatisfied !== false)
        throw await unsatisfiable(ctx, pfs, st);
      else pending.push(st);
    }
    if (pending.length === 0) {
      const files = [...settled.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      return { path: clean(path), placed: true, files };
    }
    if (ctx.clock() >= deadline)
      throw new StrataError(
        "ETIMEDOUT",
        `${pfs}:${path}: ${pending.length} file(s) not placed after ${options.timeoutMs} ms (e.g. ${pending[0]?.path} ${pending[0]?.status}${pending[0]?.error ? `: ${pending[0].error.message}` : ""}); see placement.get`,
        { details: { pfs, path, pending: pending.slice(0, 20) } },
      );
    await sleep(options.pollMs ?? 100);
  }
}
