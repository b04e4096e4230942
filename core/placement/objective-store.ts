/**
 * Objectives attached to inodes (`objective#<pfs>` items): set, remove, list, explain, and the
 * data plane's `chooseVolumes` hook that reads them.
 */

import { isStrataError, StrataError } from "../errors.ts";
import { formatPath, parsePath } from "../namespace/path.ts";
import { parseObjectives } from "../objectives/language.ts";
import {
  type AttachedObjectives,
  type EffectiveStatement,
  type FileFacts,
  planPlacement,
} from "../objectives/planner.ts";
import { clean, gather, type PlacementContext, planFor } from "./context.ts";
import { objectiveKey, objectivePk } from "./placement-items.ts";
import type { Explanation, ScopedView } from "./types.ts";

/** Attach objectives to the inode at `path` (replacing what was attached there). EINVAL with line/column. */
export async function setObjectives(
  ctx: PlacementContext,

  pfs: string,
  path: string,
  text: string,
  view?: ScopedView,
): Promise<{ path: string; ino: string }> {
  const parsed = parseObjectives(text);
  const stat = await (view?.fs ?? ctx.namespace.pfs(pfs)).stat(path);
  if (parsed.statements.length === 0 && !parsed.override) {
    await ctx.store.delete(objectiveKey(pfs, stat.ino));
  } else {
    await ctx.store.put({ ...objectiveKey(pfs, stat.ino), text, path: clean(path), time: ctx.clock() });
  }
  ctx.hasObjectivesCache.delete(pfs);
  return { path: clean(path), ino: stat.ino };
}

export async function removeObjectives(
  ctx: PlacementContext,
  pfs: string,
  path: string,
  view?: ScopedView,
): Promise<void> {
  const stat = await (view?.fs ?? ctx.namespace.pfs(pfs)).stat(path);
  try {
    await ctx.store.delete(objectiveKey(pfs, stat.ino), { condition: { op: "exists" } });
  } catch (err) {
    if (!isStrataError(err, "ECONFLICT")) throw err;
    throw new StrataError("ENOENT", `${pfs}:${path} has no objectives attached`, {
      details: { pfs, path },
    });
  }
  ctx.hasObjectivesCache.delete(pfs);
}

/**
 * Attachments in the PFS (`path` given: only at or below it). The path shown is the one given
 * when the objective was set (a later rename keeps the attachment; the path is then stale).
 */
export async function listObjectives(
  ctx: PlacementContext,

  pfs: string,
  path?: string,
  view?: ScopedView,
): Promise<Array<{ path: string; ino: string; text: string }>> {
  const under = path === undefined ? undefined : clean(path);
  const out: Array<{ path: string; ino: string; text: string }> = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.store.query(objectivePk(pfs), { cursor });
    for (const item of page.items) {
      const p = String(item.path);
      if (under === undefined || under === "/" || p === under || p.startsWith(`${under}/`))
        out.push({ path: p, ino: item.sk, text: String(item.text) });
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  if (view) {
    // A stored path is the one given when set; a scoped caller sees an attachment only while
    // that path still names the same object inside its scope.
    const kept: typeof out = [];
    for (const o of out) {
      const st = await view.fs.stat(o.path).catch(() => undefined);
      if (st?.ino === o.ino) kept.push(o);
    }
    out.splice(0, out.length, ...kept);
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export async function explain(
  ctx: PlacementContext,
  pfs: string,
  path: string,
  view?: ScopedView,
): Promise<Explanation> {
  const g = await gather(ctx, pfs, path, view);
  const plan = await planFor(ctx, pfs, g, undefined);
  const own = g.chain.at(-1)!;
  const applied = new Set(plan.applied);
  return {
    path: clean(path),
    ...(own.text !== undefined ? { local: { text: own.text } } : {}),
    inherited: g.chain
      .slice(0, -1)
      .filter((c) => c.text !== undefined)
      .map((c) => ({ path: c.path, text: c.text! })),
    effective: plan.effective.map((s: EffectiveStatement) => ({
      at: s.at,
      statement: s.source,
      applies: applied.has(s),
    })),
    tags: g.visibleTags ?? g.facts.tags,
    desired: plan.desired,
    unsatisfied: plan.unsatisfied,
    reason: plan.reason,
  };
}

/** True when the PFS has at least one objective attached (cached 5 s). */
export async function hasObjectives(ctx: PlacementContext, pfs: string): Promise<boolean> {
  const cached = ctx.hasObjectivesCache.get(pfs);
  if (cached && cached.until > ctx.clock()) return cached.value;
  const page = await ctx.store.query(objectivePk(pfs), { limit: 1 });
  const value = page.items.length > 0;
  ctx.hasObjectivesCache.set(pfs, { value, until: ctx.clock() + 5_000 });
  return value;
}

/**
 * The data plane's placement hook: where a new file's chunks go. Objectives of the parent
 * chain (and of the file, when it exists) decide; a draining volume is never chosen.
 */
export async function chooseVolumes(
  ctx: PlacementContext,
  file: { pfs: string; path: string; defaultVolume: string },
): Promise<string[]> {
  const volumes = await ctx.volumes.list();
  const facts: FileFacts = {
    path: clean(file.path),
    size: 0,
    mtimeMs: ctx.clock(),
    atimeMs: ctx.clock(),
    uid: 0,
    tags: {},
  };
  let levels: AttachedObjectives[] = [];
  if (await hasObjectives(ctx, file.pfs)) {
    // The file itself when it exists (an overwrite keeps its own objectives and tags), else its
    // directory. Size and age conditions see a new, empty file here; the placement run that
    // follows the write sees the real facts and moves the chunks if they change the answer.
    const parent = formatPath(parsePath(file.path).slice(0, -1));
    for (const at of [file.path, parent]) {
      try {
        const g = await gather(ctx, file.pfs, at);
        levels = g.levels;
        facts.tags = g.facts.tags;
        facts.uid = g.stat.uid;
        break;
      } catch (err) {
        if (!isStrataError(err, "ENOENT") && !isStrataError(err, "ENOTDIR")) throw err;
      }
    }
  }
  const known = volumes.some((v) => v.name === file.defaultVolume);
  const plan = planPlacement({
    file: facts,
    levels,
    volumes: known ? volumes : [...volumes, { name: file.defaultVolume, state: "active" }],
    defaultVolume: file.defaultVolume,
    now: ctx.clock(),
  });
  return plan.desired.length > 0 ? plan.desired : [file.defaultVolume];
}
