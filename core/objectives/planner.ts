/**
 * The placement planner, pure: (file facts, objectives from the PFS root down to the file,
 * volumes with their attributes) → the volumes every chunk of the file should have an instance
 * on. No I/O; explain() and the placement workflow both call it.
 *
 * Rules (docs/objectives.md):
 * - Statements accumulate from the PFS root to the file; `override` at a level drops what came
 *   from above. A statement applies when all its `when` conditions hold (and every `$tag:` it
 *   names is set).
 * - `exclude` removes volumes from every choice; draining volumes are never chosen.
 * - `place N on S` / `keep N copies on S` each pick N volumes matching S; the desired set is
 *   their union. Picks are ordered by `prefer` (first matching prefer wins), then volumes that
 *   already hold the file (no needless moves), then cost, then name.
 * - `after D move to S`: once the file's mtime is older than D, the file wants exactly one
 *   volume matching S instead (the longest D that has passed wins).
 * - No applicable place/keep/after: one copy on the PFS default volume (today's behaviour), or
 *   the best other volume when that one is excluded or draining.
 * - A rule that finds fewer volumes than asked is reported in `unsatisfied`; when nothing at all
 *   can be chosen, `desired` is empty and placement keeps the instances the file has.
 */
import { type Condition, globMatches, type ObjectiveSet, type Selector, type Statement } from "./language.ts";

export type VolumeState = "active" | "draining";

/** What the planner knows of a volume (a volume record without its driver settings). */
export interface VolumeFacts {
  name: string;
  kind?: string;
  site?: string;
  cloud?: string;
  class?: string;
  /** Relative cost (lower is cheaper); default 1. */
  cost?: number;
  state: VolumeState;
}

/** What the planner knows of the file. */
export interface FileFacts {
  path: string;
  size: number;
  mtimeMs: number;
  atimeMs: number;
  uid: number;
  /** Tags of the file over those of its ancestor directories (nearest wins). */
  tags: Record<string, string>;
}

/** Objectives attached at one level (the PFS root "/", a directory, the file). */
export interface AttachedObjectives {
  path: string;
  objectives: ObjectiveSet;
}

export interface EffectiveStatement extends Statement {
  /** Where it is attached. */
  at: string;
}

export interface PlacementPlan {
  /** Volume names, sorted; empty = nothing can be chosen (keep what is there). */
  desired: string[];
  /** Statements in force at the file (after `override`s), root first. */
  effective: EffectiveStatement[];
  /** The subset whose conditions held. */
  applied: EffectiveStatement[];
  /**
   * Rules that found fewer volumes than asked; `wants`: the selector with the file's tags filled
   * in (`site:gcs-eu` for `site:$tag:render-site`), "" for the default rule.
   */
  unsatisfied: Array<{ statement: string; at: string; wanted: number; found: number; wants: string }>;
  /** Why the set is what it is, in one line. */
  reason: string;
}

export interface PlanInput {
  file: FileFacts;
  /** Root first. */
  levels: AttachedObjectives[];
  volumes: VolumeFacts[];
  defaultVolume: string;
  /** Volumes holding every chunk of the file now (keeps picks stable). */
  current?: string[];
  now: number;
}

export function effectiveStatements(levels: AttachedObjectives[]): EffectiveStatement[] {
  let out: EffectiveStatement[] = [];
  for (const level of levels) {
    if (level.objectives.override) out = [];
    out.push(...level.objectives.statements.map((s) => ({ ...s, at: level.path })));
  }
  return out;
}

function compare(a: number, op: string, b: number): boolean {
  switch (op) {
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
    case "=":
      return a === b;
    default:
      return a !== b;
  }
}

export function conditionHolds(c: Condition, file: FileFacts, now: number): boolean {
  switch (c.kind) {
    case "tag": {
      const v = file.tags[c.key];
      if (c.op === "exists") return v !== undefined;
      return c.op === "=" ? v === c.value : v !== c.value;
    }
    case "path":
      return globMatches(c.glob, file.path);
    case "size":
      return compare(file.size, c.op, c.bytes);
    case "age":
      return compare(now - (c.of === "mtime" ? file.mtimeMs : file.atimeMs), c.op, c.ms);
    case "owner":
      return c.op === "=" ? file.uid === c.uid : file.uid !== c.uid;
  }
}

/** Tags a selector needs, all set: the statement can apply. */
function tagsSet(s: Selector, file: FileFacts): boolean {
  return s.terms.every((t) => !("tag" in t.value) || file.tags[t.value.tag] !== undefined);
}

export function selectorMatches(s: Selector, v: VolumeFacts, file: FileFacts): boolean {
  return s.terms.every((t) => {
    const want = "tag" in t.value ? file.tags[t.value.tag] : t.value.literal;
    const have = t.key === "volume" ? v.name : v[t.key];
    return want !== undefined && have === want;
  });
}

/** A selector as text with the file's tags filled in: `site:gcs-eu,class:durable`, `any`. */
export function resolvedSelector(s: Selector, file: FileFacts): string {
  if (s.terms.length === 0) return "any";
  return s.terms
    .map(
      (t) =>
        `${t.key}:${"tag" in t.value ? (file.tags[t.value.tag] ?? `$tag:${t.value.tag}`) : t.value.literal}`,
    )
    .join(",");
}

function selectorOf(a: Statement["action"]): Selector {
  return a.on;
}

export function planPlacement(input: PlanInput): PlacementPlan {
  const { file, now } = input;
  const effective = effectiveStatements(input.levels);
  const applied = effective.filter(
    (s) => s.when.every((c) => conditionHolds(c, file, now)) && tagsSet(selectorOf(s.action), file),
  );
  const excluded = new Set(
    input.volumes
      .filter((v) =>
        applied.some((s) => s.action.kind === "exclude" && selectorMatches(s.action.on, v, file)),
      )
      .map((v) => v.name),
  );
  const prefers = applied.filter((s) => s.action.kind === "prefer").map((s) => s.action.on);
  const current = new Set(input.current ?? []);
  const eligible = input.volumes.filter((v) => v.state === "active" && !excluded.has(v.name));
  const rank = (v: VolumeFacts): Array<number | string> => {
    const p = prefers.findIndex((s) => selectorMatches(s, v, file));
    return [p < 0 ? prefers.length : p, current.has(v.name) ? 0 : 1, v.cost ?? 1, v.name];
  };
  const ordered = [...eligible].sort((a, b) => {
    const x = rank(a);
    const y = rank(b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
    return 0;
  });
  const unsatisfied: PlacementPlan["unsatisfied"] = [];
  const pick = (s: EffectiveStatement, on: Selector, count: number): string[] => {
    const found = ordered.filter((v) => selectorMatches(on, v, file)).slice(0, count);
    if (found.length < count)
      unsatisfied.push({
        statement: s.source,
        at: s.at,
        wanted: count,
        found: found.length,
        wants: resolvedSelector(on, file),
      });
    return found.map((v) => v.name);
  };
  const done = (names: Iterable<string>, reason: string): PlacementPlan => ({
    desired: [...new Set(names)].sort(),
    effective,
    applied,
    unsatisfied,
    reason,
  });

  const moves = applied
    .filter((s): s is EffectiveStatement & { action: { kind: "after" } } => s.action.kind === "after")
    .filter((s) => now - file.mtimeMs > s.action.ms)
    .sort((a, b) => b.action.ms - a.action.ms);
  if (moves.length > 0) {
    const s = moves[0]!;
    return done(pick(s, s.action.on, 1), `aged: \`${s.source}\` (${s.at})`);
  }
  const rules = applied.filter((s) => s.action.kind === "place" || s.action.kind === "keep");
  if (rules.length > 0) {
    const names = rules.flatMap((s) => {
      const a = s.action as { count: number; on: Selector };
      return pick(s, a.on, a.count);
    });
    return done(names, rules.map((s) => `\`${s.source}\` (${s.at})`).join(" + "));
  }
  const fallback = eligible.find((v) => v.name === input.defaultVolume) ?? ordered[0];
  if (!fallback) {
    unsatisfied.push({ statement: "(default)", at: "/", wanted: 1, found: 0, wants: "" });
    return done([], "no active volume is eligible");
  }
  return done(
    [fallback.name],
    fallback.name === input.defaultVolume
      ? "no objective applies: the PFS default volume"
      : `no objective applies and the default volume \`${input.defaultVolume}\` is excluded or draining: the best eligible volume`,
  );
}
