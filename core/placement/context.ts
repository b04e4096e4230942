/**
 * What the placement service's parts (objective store, status, the workflow's steps, drain) share:
 * its state as `PlacementContext`, and the lookups on it — an inode's objective chain gathered,
 * the plan for a file, the present instances of chunks, the file's placement record.
 */

import { groupsOf } from "../batches.ts";
import { mapLimit } from "../concurrency.ts";
import { chunkRefsOf, decodeInstance, instanceKey } from "../data/chunk-items.ts";
import type { MetadataStore, TransactOp } from "../metadata/port.ts";
import type { FileSystem, Namespace, ReadableFileSystem, Stat } from "../namespace/api.ts";
import { formatPath, parsePath } from "../namespace/path.ts";
import { type ObjectiveSet, parseObjectives } from "../objectives/language.ts";
import {
  type AttachedObjectives,
  type FileFacts,
  type PlacementPlan,
  planPlacement,
} from "../objectives/planner.ts";
import {
  decodePlacement,
  objectiveKey,
  type PlacementRecord,
  placementItem,
  placementKey,
} from "./placement-items.ts";
import type { ScopedView } from "./types.ts";
import type { VolumeSet } from "./volumes.ts";

/** The placement service's state, as its parts use it (built once by `Placement`). */
export interface PlacementContext {
  readonly store: MetadataStore;
  readonly graceMs: number;
  readonly namespace: Namespace;
  readonly volumes: VolumeSet;
  readonly clock: () => number;
  readonly random: () => number;
  readonly parallelism: number;
  readonly maxCopyRounds: number;
  /** Chunks per page of the placement workflow's state (PlacementOptions `chunkPage`). */
  readonly chunkPage: number;
  /** Commit's pause while it waits out a vacuum's `deleting` lease (undefined: setTimeout). */
  readonly leaseSleep?: ((ms: number) => Promise<void>) | undefined;
  readonly defaultVolumeOf: (pfs: string) => Promise<string>;
  /** Parsed objective texts (cleared past 1,000). */
  readonly parsed: Map<string, ObjectiveSet>;
  readonly hasObjectivesCache: Map<string, { value: boolean; until: number }>;
}

export interface Gathered {
  fs: FileSystem;
  stat: Stat;
  /** "/" first, the path itself last. */
  chain: Array<{ path: string; stat: Stat; text?: string }>;
  facts: FileFacts;
  levels: AttachedObjectives[];
  /** A scoped caller's view of the tags: only those at or below its prefix. */
  visibleTags?: Record<string, string>;
}

export async function gather(
  ctx: PlacementContext,
  pfs: string,
  path: string,
  view?: ScopedView,
): Promise<Gathered> {
  const fs = ctx.namespace.pfs(pfs);
  const parts = parsePath(path);
  const paths = [formatPath([]), ...parts.map((_, i) => formatPath(parts.slice(0, i + 1)))];
  // A scoped caller: the levels from its prefix down resolve confined; those above are policy.
  const from = view ? parsePath(view.prefix).length : paths.length;
  const at = (i: number): ReadableFileSystem => (view && i >= from ? view.fs : fs);
  const [stats, tagSets] = await Promise.all([
    Promise.all(paths.map((p, i) => at(i).stat(p))),
    Promise.all(paths.map((p, i) => at(i).getTags(p))),
  ]);
  const items = await ctx.store.batchGet(stats.map((s) => objectiveKey(pfs, s.ino)));
  const chain = paths.map((p, i) => {
    const text = items[i]?.text;
    return { path: p, stat: stats[i]!, ...(typeof text === "string" ? { text } : {}) };
  });
  const stat = stats.at(-1)!;
  const tags: Record<string, string> = {};
  for (const t of tagSets) Object.assign(tags, t);
  const visibleTags: Record<string, string> | undefined = view ? {} : undefined;
  if (visibleTags) for (const t of tagSets.slice(from)) Object.assign(visibleTags, t);
  const levels = chain
    .filter((c) => c.text !== undefined)
    .map((c) => ({ path: c.path, objectives: parseCached(ctx, c.text!) }));
  return {
    fs,
    stat,
    chain,
    levels,
    ...(visibleTags ? { visibleTags } : {}),
    facts: {
      path: paths.at(-1)!,
      size: stat.size,
      mtimeMs: stat.mtimeMs,
      atimeMs: stat.atimeMs,
      uid: stat.uid,
      tags,
    },
  };
}

export function parseCached(ctx: PlacementContext, text: string): ObjectiveSet {
  let set = ctx.parsed.get(text);
  if (!set) {
    set = parseObjectives(text);
    if (ctx.parsed.size > 1000) ctx.parsed.clear();
    ctx.parsed.set(text, set);
  }
  return set;
}

export async function planFor(
  ctx: PlacementContext,
  pfs: string,
  g: Gathered,
  current: string[] | undefined,
): Promise<PlacementPlan> {
  return planPlacement({
    file: g.facts,
    levels: g.levels,
    volumes: await ctx.volumes.list(),
    defaultVolume: await ctx.defaultVolumeOf(pfs),
    ...(current ? { current } : {}),
    now: ctx.clock(),
  });
}

/** Volumes with a `present` instance, per chunk (one BatchGetItem per 100 keys). */
export async function presentInstances(
  ctx: PlacementContext,
  shas: string[],
  names: string[],
): Promise<Map<string, Set<string>>> {
  const unique = [...new Set(shas)];
  const keys = unique.flatMap((sha) => names.map((v) => instanceKey(sha, v)));
  const items = keys.length > 0 ? await ctx.store.batchGet(keys) : [];
  const out = new Map<string, Set<string>>();
  unique.forEach((sha, i) => {
    const set = new Set<string>();
    names.forEach((name, j) => {
      const item = items[i * names.length + j];
      if (item && decodeInstance(item).state === "present") set.add(name);
    });
    out.set(sha, set);
  });
  return out;
}

export async function readRecord(
  ctx: PlacementContext,
  pfs: string,
  ino: string,
): Promise<PlacementRecord | undefined> {
  const item = await ctx.store.get(placementKey(pfs, ino));
  return item ? decodePlacement(item) : undefined;
}

export async function writeRecord(
  ctx: PlacementContext,

  pfs: string,
  ino: string,
  r: Omit<PlacementRecord, "pfs" | "ino" | "time" | "failures"> & { failures?: number },
): Promise<void> {
  await ctx.store.put(placementItem({ pfs, ino, failures: 0, ...r, time: ctx.clock() }));
}

/** Writes in transactions of ≤ 100 (one fsync each on SQLite); a lone put or delete as a plain request. */
export async function writeOps(ctx: PlacementContext, ops: TransactOp[]): Promise<void> {
  for (const group of groupsOf(ops)) {
    const only = group.length === 1 ? group[0]! : undefined;
    if (only?.kind === "put") await ctx.store.put(only.item);
    else if (only?.kind === "delete") await ctx.store.delete(only.key);
    else if (only?.kind === "update")
      await ctx.store.update(only.key, only.update, only.condition ? { condition: only.condition } : {});
    else if (group.length > 0) await ctx.store.transact(group);
  }
}

export function clean(path: string): string {
  return formatPath(parsePath(path));
}

/** The file's chunks, once each, as the workflow state's tuples [sha, size, crc32c] (`chunkRefsOf`). */
export function chunksOf(stat: Stat): Array<[string, number, number]> {
  return chunkRefsOf(stat).map((r) => [r.chunk, r.size, r.crc32c]);
}

export function currentVolumes(present: Map<string, Set<string>>, names: string[]): string[] {
  return names.filter((n) => [...present.values()].every((s) => s.has(n)));
}

/** Run `jobs` with at most `limit` at once; the first failure rejects after the running ones settle. */
export async function bounded(jobs: Array<() => Promise<void>>, limit: number): Promise<void> {
  await mapLimit(jobs, limit, (job) => job());
}
