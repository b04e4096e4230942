/**
 * Placement: objectives attached to inodes, explain(), the data plane's `chooseVolumes` hook, and
 * the steps of the placement workflow (core/workflows/placement.ts) — copy → verify → commit →
 * trim — each idempotent, each taking and returning the workflow's JSON state. Pure over the
 * ports (MetadataStore, the namespace, Volumes); no timers, no SDKs.
 *
 * Invariants:
 * - An instance is recorded `present` only after its bytes were read back at the target and
 *   matched the chunk's size and CRC32C (verify before commit).
 * - Trim never removes the last present instance of a chunk, nor an instance some file wants
 *   (`want#` items), nor anything before `graceMs` after the desired set was committed (readers
 *   that picked the instance earlier finish), nor for a run that a newer run superseded.
 */

import { mapLimit } from "../concurrency.ts";
import {
  deleteMarked,
  Intent,
  markForDeletion,
  orderCopies,
  presentItem,
  putChunkObject,
  recordAfterSettle,
  recordPresent,
  removeIntent,
} from "../data/chunks.ts";
import { chunkObjectKey, decodeInstance, instanceKey } from "../data/records.ts";
import { isStrataError, StrataError } from "../errors.ts";
import type { MetadataStore, TransactOp } from "../metadata/port.ts";
import type { FileSystem, Namespace, ReadableFileSystem, Stat } from "../namespace/api.ts";
import { formatPath, parsePath } from "../namespace/path.ts";
import { type ObjectiveSet, parseObjectives } from "../objectives/language.ts";
import {
  type AttachedObjectives,
  type EffectiveStatement,
  type FileFacts,
  type PlacementPlan,
  planPlacement,
} from "../objectives/planner.ts";
import { compareUtf8 } from "../text.ts";
import type { Volume } from "../volume/volume.ts";
import {
  decodePlacement,
  objectiveKey,
  objectivePk,
  type PlacementRecord,
  placementItem,
  placementKey,
  wantKey,
  wantPrefix,
} from "./records.ts";
import type { VolumeSet } from "./volumes.ts";

/** How long trim's `deleting` mark holds writers off an instance it removes (objects go in its first half). */
const TRIM_LEASE_MS = 2 * 60 * 1000;

/** How long a placement run's intent protects the chunks it copies (copy → commit). */
const PLACEMENT_INTENT_TTL_MS = 6 * 60 * 60 * 1000;

/** The workflow's state, passed from step to step (JSON; kept small: Step Functions allows 256 KB). */
export interface PlacementState {
  pfs: string;
  path: string;
  /** Set by copy. */
  run?: string;
  ino?: string;
  round?: number;
  desired?: string[];
  /** Chunks of the file: [sha, size, crc32c]. */
  chunks?: Array<[string, number, number]>;
  /** Instances copied by this run, to verify and commit: [sha, volume]. */
  copies?: Array<[string, string]>;
  /**
   * The intent protecting the chunks from copy to commit (chunk lifecycle rule 1), and the file
   * version they belong to: commit removes the intent only if that version is still live (else it
   * expires and vacuum re-checks the chunks).
   */
  intent?: string;
  version?: string;
  placedAt?: number;
  surplus?: string[];
  /** The file is gone, a directory, or has no chunks: nothing to place. */
  skip?: string;
  trimmed?: number;
  /** Set by the workflow's Catch (Step Functions' error output). */
  error?: { Error?: string; Cause?: string };
  lastError?: { Error?: string; Cause?: string };
}

/** The sweeper workflow's state (core/workflows/placement.ts `sweepWorkflow`). */
export interface SweepState {
  /** Files per page (default 100). */
  limit?: number;
  /** Resume after this file of this PFS. */
  cursor?: { pfs: string; after: string };
  /** The page: files to place. */
  jobs?: Array<{ pfs: string; path: string }>;
  done?: boolean;
}

/** Thrown by trim while the grace period has not passed; the workflow retries it after the grace. */
export const GRACE_PENDING = "StrataGracePending";
/** Thrown by copy after `maxCopyRounds` failed verifications: not retried, recorded as the run's failure. */
export const GAVE_UP = "StrataPlacementGaveUp";

export interface PlacementOptions {
  store: MetadataStore;
  namespace: Namespace;
  volumes: VolumeSet;
  /** The PFS's default volume (the data plane's `defaultVolume(pfs)`). */
  defaultVolume: (pfs: string) => Promise<string>;
  clock?: () => number;
  random?: () => number;
  /** Surplus instances are trimmed this long after the desired set was committed (default 60 s). */
  graceMs?: number;
  /** Chunk copies in flight per file (default 4). */
  parallelism?: number;
  /** Copy rounds (a failed verify sends the run back to copy) before the run fails (default 3). */
  maxCopyRounds?: number;
}

export interface FileStatus {
  path: string;
  /**
   * placed: every chunk on every desired volume · pending · failed (last run failed; retried by the
   * sweeper) · unsatisfied (no volume fits) · inline (nothing to place: bytes in metadata).
   */
  status: "placed" | "pending" | "failed" | "unsatisfied" | "inline";
  desired: string[];
  /** Chunks present per volume. */
  actual: Record<string, number>;
  chunks: number;
  /** Chunk instances still to copy. */
  missing: number;
  /** Volumes holding instances beyond the desired set (trimmed after the grace). */
  surplus: string[];
  error?: { code: string; message: string };
  lastRun?: { status: string; time: number; failures: number };
}

/** Where the files at or under a path are, against where their objectives want them (`placement.get`). */
export interface PlacementStatus {
  path: string;
  /** Every file is on every volume it should be on. */
  placed: boolean;
  files: FileStatus[];
  /** More files exist than were checked (`limit`). */
  truncated?: boolean;
  /** With `truncated`: the last file checked; `after: next` (`cursor` over the API) resumes. */
  next?: string;
}

export interface Explanation {
  path: string;
  /** Objectives attached to this inode. */
  local?: { text: string };
  /** Objectives attached above it, root first. */
  inherited: Array<{ path: string; text: string }>;
  /** Statements in force (after `override`), root first, with whether each applies to this file. */
  effective: Array<{ at: string; statement: string; applies: boolean }>;
  /** Tags the conditions see (inherited, nearest wins). */
  tags: Record<string, string>;
  desired: string[];
  unsatisfied: PlacementPlan["unsatisfied"];
  reason: string;
}

/**
 * A caller confined to a subtree (a prefix-scoped token): the target path and every file below it
 * resolve through `fs`, a view confined beneath `prefix` (docs/namespace.md "Confinement");
 * objectives inherited from above the prefix still apply (they are the policy governing the
 * subtree), but `explain` reports only tags found at or below the prefix.
 */
export interface ScopedView {
  fs: ReadableFileSystem;
  prefix: string;
}

interface Gathered {
  fs: FileSystem;
  stat: Stat;
  /** "/" first, the path itself last. */
  chain: Array<{ path: string; stat: Stat; text?: string }>;
  facts: FileFacts;
  levels: AttachedObjectives[];
  /** A scoped caller's view of the tags: only those at or below its prefix. */
  visibleTags?: Record<string, string>;
}

const MAX_WALK = 100_000;

export class Placement {
  readonly store: MetadataStore;
  readonly graceMs: number;
  private readonly namespace: Namespace;
  private readonly volumes: VolumeSet;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly parallelism: number;
  private readonly maxCopyRounds: number;
  private readonly defaultVolumeOf: (pfs: string) => Promise<string>;
  private readonly parsed = new Map<string, ObjectiveSet>();
  private readonly hasObjectivesCache = new Map<string, { value: boolean; until: number }>();

  constructor(options: PlacementOptions) {
    this.store = options.store;
    this.namespace = options.namespace;
    this.volumes = options.volumes;
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.graceMs = options.graceMs ?? 60_000;
    this.parallelism = options.parallelism ?? 4;
    this.maxCopyRounds = options.maxCopyRounds ?? 3;
    this.defaultVolumeOf = options.defaultVolume;
  }

  // ---- objectives ----

  /** Attach objectives to the inode at `path` (replacing what was attached there). EINVAL with line/column. */
  async setObjectives(
    pfs: string,
    path: string,
    text: string,
    view?: ScopedView,
  ): Promise<{ path: string; ino: string }> {
    const parsed = parseObjectives(text);
    const stat = await (view?.fs ?? this.namespace.pfs(pfs)).stat(path);
    if (parsed.statements.length === 0 && !parsed.override) {
      await this.store.delete(objectiveKey(pfs, stat.ino));
    } else {
      await this.store.put({ ...objectiveKey(pfs, stat.ino), text, path: clean(path), time: this.clock() });
    }
    this.hasObjectivesCache.delete(pfs);
    return { path: clean(path), ino: stat.ino };
  }

  async removeObjectives(pfs: string, path: string, view?: ScopedView): Promise<void> {
    const stat = await (view?.fs ?? this.namespace.pfs(pfs)).stat(path);
    try {
      await this.store.delete(objectiveKey(pfs, stat.ino), { condition: { op: "exists" } });
    } catch (err) {
      if (!isStrataError(err, "ECONFLICT")) throw err;
      throw new StrataError("ENOENT", `${pfs}:${path} has no objectives attached`, {
        details: { pfs, path },
      });
    }
    this.hasObjectivesCache.delete(pfs);
  }

  /**
   * Attachments in the PFS (`path` given: only at or below it). The path shown is the one given
   * when the objective was set (a later rename keeps the attachment; the path is then stale).
   */
  async listObjectives(
    pfs: string,
    path?: string,
    view?: ScopedView,
  ): Promise<Array<{ path: string; ino: string; text: string }>> {
    const under = path === undefined ? undefined : clean(path);
    const out: Array<{ path: string; ino: string; text: string }> = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.query(objectivePk(pfs), { cursor });
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

  async explain(pfs: string, path: string, view?: ScopedView): Promise<Explanation> {
    const g = await this.gather(pfs, path, view);
    const plan = await this.plan(pfs, g, undefined);
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
  async hasObjectives(pfs: string): Promise<boolean> {
    const cached = this.hasObjectivesCache.get(pfs);
    if (cached && cached.until > this.clock()) return cached.value;
    const page = await this.store.query(objectivePk(pfs), { limit: 1 });
    const value = page.items.length > 0;
    this.hasObjectivesCache.set(pfs, { value, until: this.clock() + 5_000 });
    return value;
  }

  /**
   * The data plane's placement hook: where a new file's chunks go. Objectives of the parent
   * chain (and of the file, when it exists) decide; a draining volume is never chosen.
   */
  async chooseVolumes(file: { pfs: string; path: string; defaultVolume: string }): Promise<string[]> {
    const volumes = await this.volumes.list();
    const facts: FileFacts = {
      path: clean(file.path),
      size: 0,
      mtimeMs: this.clock(),
      atimeMs: this.clock(),
      uid: 0,
      tags: {},
    };
    let levels: AttachedObjectives[] = [];
    if (await this.hasObjectives(file.pfs)) {
      // The file itself when it exists (an overwrite keeps its own objectives and tags), else its
      // directory. Size and age conditions see a new, empty file here; the placement run that
      // follows the write sees the real facts and moves the chunks if they change the answer.
      const parent = formatPath(parsePath(file.path).slice(0, -1));
      for (const at of [file.path, parent]) {
        try {
          const g = await this.gather(file.pfs, at);
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
      now: this.clock(),
    });
    return plan.desired.length > 0 ? plan.desired : [file.defaultVolume];
  }

  // ---- status ----

  /**
   * Placement of a file, or of the files under a directory in walk order: up to `limit` (default
   * 1,000) after the file `after`; `next` (the last file looked at) resumes when more follow.
   */
  async status(
    pfs: string,
    path: string,
    options: { limit?: number; after?: string; view?: ScopedView } = {},
  ): Promise<PlacementStatus> {
    const limit = options.limit ?? 1000;
    const files: FileStatus[] = [];
    let last: string | undefined;
    let more = false;
    const walk = { view: options.view, ...(options.after !== undefined ? { after: options.after } : {}) };
    for await (const file of this.files(pfs, path, walk)) {
      if (files.length >= limit) {
        more = true;
        break;
      }
      last = file;
      try {
        files.push(await this.fileStatus(pfs, file, options.view));
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

  private async fileStatus(pfs: string, path: string, view?: ScopedView): Promise<FileStatus> {
    const g = await this.gather(pfs, path, view);
    const chunks = chunksOf(g.stat);
    const record = await this.record(pfs, g.stat.ino);
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
    const names = (await this.volumes.list()).map((v) => v.name);
    const present = await this.presentInstances(
      chunks.map((c) => c[0]),
      names,
    );
    const plan = await this.plan(pfs, g, currentVolumes(present, names));
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
    };
  }

  /**
   * Wait until every file at or under `path` is placed (polling every `pollMs`; a file seen placed
   * is not checked again). ETIMEDOUT after `timeoutMs`, with the files still pending and their
   * last errors. Resolves with the final status of every file.
   */
  async waitPlaced(
    pfs: string,
    path: string,
    options: {
      timeoutMs: number;
      pollMs?: number;
      sleep?: (ms: number) => Promise<void>;
      view?: ScopedView;
    },
  ): Promise<PlacementStatus> {
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const deadline = this.clock() + options.timeoutMs;
    const settled = new Map<string, FileStatus>();
    for (;;) {
      const pending: FileStatus[] = [];
      let count = 0;
      for await (const file of this.files(pfs, path, { view: options.view })) {
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
          st = await this.fileStatus(pfs, file, options.view);
        } catch (err) {
          if (isStrataError(err, "ENOENT")) continue; // removed while waiting
          throw err;
        }
        if (st.status === "placed" || st.status === "inline") settled.set(file, st);
        else pending.push(st);
      }
      if (pending.length === 0) {
        const files = [...settled.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
        return { path: clean(path), placed: true, files };
      }
      if (this.clock() >= deadline)
        throw new StrataError(
          "ETIMEDOUT",
          `${pfs}:${path}: ${pending.length} file(s) not placed after ${options.timeoutMs} ms (e.g. ${pending[0]?.path} ${pending[0]?.status}${pending[0]?.error ? `: ${pending[0].error.message}` : ""}); see placement.get`,
          { details: { pfs, path, pending: pending.slice(0, 20) } },
        );
      await sleep(options.pollMs ?? 100);
    }
  }

  // ---- the workflow's steps ----

  /** Plan, then copy every missing (chunk, desired volume) from a present instance. Idempotent. */
  async copy(state: PlacementState): Promise<PlacementState> {
    const round = (state.round ?? 0) + 1;
    if (round > this.maxCopyRounds)
      throw new StrataError(
        "EIO",
        `${state.pfs}:${state.path}: placement gave up after ${this.maxCopyRounds} copy rounds (last: ${state.lastError?.Cause ?? state.lastError?.Error ?? "?"})`,
        { details: { pfs: state.pfs, path: state.path, workflowError: GAVE_UP } },
      );
    const run = state.run ?? randomId(this.random);
    let g: Gathered;
    try {
      g = await this.gather(state.pfs, state.path);
    } catch (err) {
      if (isStrataError(err, "ENOENT") || isStrataError(err, "ENOTDIR"))
        return { pfs: state.pfs, path: state.path, run, skip: "gone" };
      throw err;
    }
    if (g.stat.type !== "file") return { pfs: state.pfs, path: state.path, run, skip: g.stat.type };
    const chunks = chunksOf(g.stat);
    if (chunks.length === 0)
      return { pfs: state.pfs, path: state.path, run, ino: g.stat.ino, skip: "inline" };
    const volumes = await this.volumes.list();
    const names = volumes.map((v) => v.name);
    // Rule 1: the chunks are protected before their instances are looked at.
    const intent = new Intent({
      store: this.store,
      pfs: state.pfs,
      path: state.path,
      volumes: names,
      ttlMs: PLACEMENT_INTENT_TTL_MS,
      clock: this.clock,
      ...(state.intent ? { id: state.intent } : {}),
    });
    await intent.protect(chunks.map((c) => c[0]));
    const present = await this.presentInstances(
      chunks.map((c) => c[0]),
      names,
    );
    const plan = await this.plan(state.pfs, g, currentVolumes(present, names));
    const base = {
      pfs: state.pfs,
      path: state.path,
      run,
      round,
      ino: g.stat.ino,
      chunks,
      desired: plan.desired,
      intent: intent.id,
      version: g.stat.tid,
    };
    if (plan.desired.length === 0) {
      await this.writeRecord(state.pfs, g.stat.ino, {
        path: state.path,
        status: "unsatisfied",
        run,
        desired: [],
        surplus: [],
        error: {
          code: "EUNSATISFIED",
          message: plan.unsatisfied.map((u) => `${u.statement} (${u.at}): ${u.found}/${u.wanted}`).join("; "),
        },
      });
      return { ...base, copies: [], skip: "unsatisfied" };
    }
    const cost = new Map(volumes.map((v) => [v.name, v.cost ?? 1]));
    const copies: Array<[string, string]> = [];
    const jobs: Array<() => Promise<void>> = [];
    for (const [sha, size, crc] of chunks) {
      const have = present.get(sha)!;
      for (const target of plan.desired) {
        if (have.has(target)) continue;
        copies.push([sha, target]);
        const sources = orderCopies(
          [...have].map((volume) => ({ volume, state: "present" as const, cost: cost.get(volume) })),
          {},
        ).map((c) => c.volume);
        jobs.push(() => this.copyChunk(sha, size, crc, sources, target));
      }
    }
    // Shown by placement.get while the copies run (nothing to copy: no write).
    if (copies.length > 0)
      await this.writeRecord(state.pfs, g.stat.ino, {
        path: state.path,
        status: "placing",
        run,
        desired: plan.desired,
        surplus: [],
      });
    await bounded(jobs, this.parallelism);
    return { ...base, copies };
  }

  /** Read every copied instance back in full at its target: size and CRC32C must be the chunk's. */
  async verify(state: PlacementState): Promise<PlacementState> {
    const sizes = new Map((state.chunks ?? []).map(([sha, size, crc]) => [sha, { size, crc }]));
    await bounded(
      (state.copies ?? []).map(([sha, target]) => async () => {
        const want = sizes.get(sha)!;
        const volume = await this.volumes.volume(target);
        const key = chunkObjectKey(sha);
        try {
          const { info, body } = await volume.get(key);
          let size = 0;
          for await (const piece of body) size += piece.byteLength;
          if (info.size !== want.size || info.crc32c !== want.crc || size !== want.size)
            throw new StrataError(
              "ECORRUPT",
              `volume \`${target}\`: chunk ${sha} was copied with the wrong bytes`,
              {
                details: { volume: target, chunk: sha },
              },
            );
        } catch (err) {
          if (isStrataError(err, "ECORRUPT") || isStrataError(err, "ENOENT")) {
            // A bad copy is removed so the next copy round writes it again (create-only put).
            await volume.delete(key).catch(() => {});
            throw new StrataError(
              "ECORRUPT",
              `${state.pfs}:${state.path}: the copy of chunk ${sha} on volume \`${target}\` failed verification (${isStrataError(err) ? err.code : "?"}); copying again`,
              { details: { pfs: state.pfs, path: state.path, volume: target, chunk: sha }, cause: err },
            );
          }
          throw err;
        }
      }),
      this.parallelism,
    );
    return state;
  }

  /** Record the verified instances present, the file's wants, and the run as placed. */
  async commit(state: PlacementState): Promise<PlacementState> {
    const { pfs, ino } = state;
    if (ino === undefined || !state.chunks || !state.desired) return state;
    const now = this.clock();
    const sizes = new Map(state.chunks.map(([sha, size, crc]) => [sha, { size, crc }]));
    // The verified copies, conditionally (rule 3: never over a vacuum's live `deleting` mark).
    const records = (state.copies ?? []).map(([chunk, volume]) =>
      presentItem({ chunk, size: sizes.get(chunk)!.size, crc32c: sizes.get(chunk)!.crc }, volume, now),
    );
    const failed = await recordPresent(this.store, records, now);
    if (failed.length > 0) {
      const reachable = new Map<string, Volume>();
      for (const [, v] of state.copies ?? []) reachable.set(v, await this.volumes.volume(v));
      await recordAfterSettle(this.store, failed, (name) => reachable.get(name), { clock: this.clock });
    }
    const ops: TransactOp[] = [];
    // The file's wants: the desired ones written (unless there already), its stale ones elsewhere
    // (an earlier run's desired set) deleted so the trim guard no longer sees them.
    const mine = `#${pfs}#${ino}`;
    for (const [sha] of state.chunks) {
      const have = new Set<string>();
      let cursor: string | undefined;
      do {
        const page = await this.store.query(`chunk#${sha}`, {
          sk: { op: "beginsWith", value: "want#" },
          cursor,
        });
        for (const item of page.items) {
          if (!item.sk.endsWith(mine)) continue;
          const volume = item.sk.slice("want#".length, item.sk.length - mine.length);
          if (state.desired.includes(volume)) have.add(volume);
          else ops.push({ kind: "delete", key: { pk: item.pk, sk: item.sk } });
        }
        cursor = page.cursor;
      } while (cursor !== undefined);
      for (const v of state.desired)
        if (!have.has(v))
          ops.push({ kind: "put", item: { ...wantKey(sha, v, pfs, ino), path: state.path, time: now } });
    }
    const names = (await this.volumes.list()).map((v) => v.name);
    const present = await this.presentInstances(
      state.chunks.map((c) => c[0]),
      names,
    );
    const holding = new Set<string>();
    for (const set of present.values()) for (const v of set) holding.add(v);
    const surplus = [...holding].filter((v) => !state.desired!.includes(v)).sort();
    ops.push({
      kind: "put",
      item: placementItem({
        pfs,
        ino,
        path: state.path,
        status: "placed",
        run: state.run ?? "",
        desired: state.desired,
        surplus,
        placedAt: now,
        failures: 0,
        time: now,
      }),
    });
    await this.writeOps(ops);
    if (state.intent) {
      // The copies are recorded; the file's committed reference protects its chunks from here,
      // if the version copied is still the live one (else the intent expires for vacuum).
      const live = await this.namespace
        .pfs(pfs)
        .stat(state.path)
        .catch(() => undefined);
      if (live?.tid === state.version) await removeIntent(this.store, pfs, state.intent);
    }
    return { ...state, placedAt: now, surplus };
  }

  /**
   * Remove surplus instances once the grace passed (GRACE_PENDING before: the workflow retries).
   * Skips what another file wants and the last present instance of a chunk; a superseded run trims nothing.
   */
  async trim(state: PlacementState): Promise<PlacementState> {
    const { pfs, ino } = state;
    if (ino === undefined || !state.chunks || !state.surplus || state.surplus.length === 0)
      return { ...state, trimmed: 0 };
    if (this.clock() < (state.placedAt ?? 0) + this.graceMs) {
      throw new StrataError("ETIMEDOUT", `${pfs}:${state.path}: trim waits for the grace period`, {
        details: { pfs, path: state.path, workflowError: GRACE_PENDING },
      });
    }
    const record = await this.record(pfs, ino);
    if (!record || record.run !== state.run) return { ...state, trimmed: 0, skip: "superseded" };
    const names = (await this.volumes.list()).map((v) => v.name);
    const present = await this.presentInstances(
      state.chunks.map((c) => c[0]),
      names,
    );
    const victims: Array<[string, string]> = [];
    const left = new Set<string>();
    for (const [sha] of state.chunks) {
      const holders = present.get(sha)!;
      for (const v of state.surplus) {
        if (!holders.has(v)) continue;
        const wanted = await this.store.query(`chunk#${sha}`, {
          sk: { op: "beginsWith", value: wantPrefix(v) },
          limit: 1,
        });
        // Another file wants it there, or it is the chunk's last present instance: kept.
        if (wanted.items.length > 0 || holders.size === 1) {
          left.add(v);
          continue;
        }
        holders.delete(v);
        victims.push([sha, v]);
      }
    }
    // One transaction: the victims marked `deleting` (chunk lifecycle rule 4: each still
    // `present`) and the run's surplus, only if this run is still the file's latest (else a newer
    // run owns the trim and nothing is marked).
    const mark = {
      token: `trim-${state.run ?? ""}-${this.clock().toString(36)}`,
      until: this.clock() + TRIM_LEASE_MS,
      leaseMs: TRIM_LEASE_MS,
    };
    const ops: TransactOp[] = victims.map(([sha, v]) => markForDeletion(instanceKey(sha, v), mark));
    const recordUpdate: TransactOp = {
      kind: "update",
      key: placementKey(pfs, ino),
      update: { set: { surplus: [...left].sort(), time: this.clock() } },
      condition: { op: "eq", attr: "run", value: state.run ?? "" },
    };
    const marked: Array<[string, string]> = [];
    try {
      for (let at = 0; at < ops.length; at += 99) {
        const group = ops.slice(at, at + 99);
        await this.store.transact(at + 99 >= ops.length ? [...group, recordUpdate] : group);
        marked.push(...victims.slice(at, at + 99));
      }
      if (ops.length === 0) await this.writeOps([recordUpdate]);
    } catch (err) {
      if (!isStrataError(err, "ECONFLICT")) throw err;
      // A newer run, or an instance no longer `present` (a vacuum marked it): the marks already
      // made are deleted below; the rest waits for the next run.
      victims.length = 0;
      victims.push(...marked);
      if (marked.length === 0) return { ...state, trimmed: 0, skip: "superseded" };
    }
    // Marked first, then the objects, then the records (conditioned on the mark): a writer meeting
    // the mark waits (it never records `present` for an object about to go), a reader that had
    // chosen one of these instances gets ENOENT and moves on to the next instance.
    let deleted = 0;
    for (const [sha, v] of victims) {
      const volume = await this.volumes.volume(v);
      if (await deleteMarked(this.store, volume, instanceKey(sha, v), sha, mark, this.clock)) deleted++;
    }
    return { ...state, trimmed: deleted };
  }

  /** The Catch-all step: the run's error on the file's placement record (placement.get shows it). */
  async recordFailure(state: PlacementState): Promise<PlacementState> {
    const code = state.error?.Error ?? "EIO";
    const message = causeMessage(state.error?.Cause) ?? code;
    let ino = state.ino;
    if (ino === undefined) {
      try {
        ino = (await this.namespace.pfs(state.pfs).stat(state.path)).ino;
      } catch {
        return state;
      }
    }
    const previous = await this.record(state.pfs, ino);
    await this.writeRecord(state.pfs, ino, {
      path: state.path,
      status: "failed",
      run: state.run ?? previous?.run ?? "",
      desired: state.desired ?? previous?.desired ?? [],
      surplus: previous?.surplus ?? [],
      error: { code, message },
      failures: (previous?.failures ?? 0) + 1,
    });
    return state;
  }

  /**
   * The sweeper workflow's ListWork step: the next `limit` (default 100) files, over every PFS in
   * name order after `cursor`, that are not placed or hold surplus instances. `done` when the walk
   * reached the end (the cursor then starts over).
   */
  async sweepList(state: SweepState): Promise<SweepState> {
    const limit = state.limit ?? 100;
    const names = (await this.namespace.listPfs()).map((p) => p.name).sort();
    const jobs: Array<{ pfs: string; path: string }> = [];
    for (const pfs of names) {
      if (state.cursor && pfs < state.cursor.pfs) continue;
      const after = state.cursor?.pfs === pfs ? state.cursor.after : undefined;
      for await (const file of this.files(pfs, "/", after !== undefined ? { after } : {})) {
        const st = await this.fileStatus(pfs, file).catch(() => undefined);
        if (st && ((st.status !== "placed" && st.status !== "inline") || st.surplus.length > 0))
          jobs.push({ pfs, path: file });
        if (jobs.length >= limit) return { limit, jobs, cursor: { pfs, after: file }, done: false };
      }
    }
    return { limit, jobs, done: true };
  }

  // ---- object-level drain ----

  /** Names of the volumes being drained. */
  async drainingVolumes(): Promise<string[]> {
    return (await this.volumes.list()).filter((v) => v.state === "draining").map((v) => v.name);
  }

  /**
   * Move every chunk object still on a draining volume to another volume (for chunks no live file
   * placement moved: old versions' chunks, unreferenced ones awaiting vacuum): copy to the
   * cheapest active volume unless a present instance exists elsewhere, verify, record, then
   * delete from the draining volume. Returns how many objects left it.
   */
  async evacuate(volumeName: string, options: { limit?: number } = {}): Promise<number> {
    const records = await this.volumes.list();
    const source = await this.volumes.volume(volumeName);
    const targets = records
      .filter((v) => v.state === "active")
      .sort((a, b) => (a.cost ?? 1) - (b.cost ?? 1) || (a.name < b.name ? -1 : 1));
    const names = records.map((v) => v.name);
    let moved = 0;
    for await (const page of source.listAll("chunks/")) {
      for (const entry of page) {
        if (options.limit !== undefined && moved >= options.limit) return moved;
        const sha = entry.key.slice(entry.key.lastIndexOf("/") + 1);
        const present = (await this.presentInstances([sha], names)).get(sha)!;
        const elsewhere = [...present].filter((v) => v !== volumeName);
        if (elsewhere.length === 0) {
          const target = targets[0];
          if (!target)
            throw new StrataError(
              "EUNAVAIL",
              `cannot drain \`${volumeName}\`: no active volume to move chunk ${sha} to; add one`,
              {
                details: { volume: volumeName },
              },
            );
          const info = await source.head(entry.key);
          const targetVolume = await this.volumes.volume(target.name);
          await this.copyChunk(sha, info.size, info.crc32c, [volumeName], target.name);
          await this.verify({
            pfs: "",
            path: `(volume ${volumeName})`,
            chunks: [[sha, info.size, info.crc32c]],
            copies: [[sha, target.name]],
          });
          const item = presentItem(
            { chunk: sha, size: info.size, crc32c: info.crc32c },
            target.name,
            this.clock(),
          );
          const failed = await recordPresent(this.store, [item], this.clock());
          if (failed.length > 0)
            await recordAfterSettle(
              this.store,
              failed,
              (n) => (n === target.name ? targetVolume : undefined),
              {
                clock: this.clock,
              },
            );
        }
        try {
          await this.store.delete(instanceKey(sha, volumeName));
        } catch (err) {
          if (!isStrataError(err, "ECONFLICT")) throw err;
        }
        await source.delete(entry.key).catch((err) => {
          if (!isStrataError(err, "ENOENT")) throw err;
        });
        moved++;
      }
    }
    return moved;
  }

  // ---- helpers ----

  /**
   * Every file at or under `path`, or the path itself when it is a file: depth first in name order
   * (UTF-8 bytes, as readdir sorts), so a walk can resume after any path (`after`, exclusive) — the
   * sweeper's cursor — skipping whole subtrees that sort before it.
   */
  async *files(
    pfs: string,
    path: string,
    options: { after?: string; view?: ScopedView } = {},
  ): AsyncGenerator<string> {
    const fs = options.view?.fs ?? this.namespace.pfs(pfs);
    const top = await fs.stat(path);
    const after = options.after === undefined ? undefined : parsePath(options.after);
    if (top.type !== "dir") {
      if (!after || compareComponents(parsePath(path), after) > 0) yield clean(path);
      return;
    }
    let seen = 0;
    const walk = async function* (dir: string[]): AsyncGenerator<string> {
      let cursor: string | undefined;
      do {
        let page: Awaited<ReturnType<FileSystem["readdir"]>>;
        try {
          page = await fs.readdir(formatPath(dir), { cursor });
        } catch (err) {
          if (isStrataError(err, "ENOENT") || isStrataError(err, "ENOTDIR")) return;
          throw err;
        }
        for (const e of page.entries) {
          const p = [...dir, e.name];
          if (e.type === "dir") {
            // Skipped when it sorts before the cursor and does not contain it.
            const holdsCursor =
              after !== undefined &&
              after.length > p.length &&
              compareComponents(p, after.slice(0, p.length)) === 0;
            if (after && !holdsCursor && compareComponents(p, after) < 0) continue;
            yield* walk(p);
          } else if (e.type === "file") {
            if (after && compareComponents(p, after) <= 0) continue;
            if (++seen > MAX_WALK) return;
            yield formatPath(p);
          }
        }
        cursor = page.cursor;
      } while (cursor !== undefined);
    };
    yield* walk(parsePath(path));
  }

  private async gather(pfs: string, path: string, view?: ScopedView): Promise<Gathered> {
    const fs = this.namespace.pfs(pfs);
    const parts = parsePath(path);
    const paths = [formatPath([]), ...parts.map((_, i) => formatPath(parts.slice(0, i + 1)))];
    // A scoped caller: the levels from its prefix down resolve confined; those above are policy.
    const from = view ? parsePath(view.prefix).length : paths.length;
    const at = (i: number): ReadableFileSystem => (view && i >= from ? view.fs : fs);
    const [stats, tagSets] = await Promise.all([
      Promise.all(paths.map((p, i) => at(i).stat(p))),
      Promise.all(paths.map((p, i) => at(i).getTags(p))),
    ]);
    const items = await this.store.batchGet(stats.map((s) => objectiveKey(pfs, s.ino)));
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
      .map((c) => ({ path: c.path, objectives: this.parse(c.text!) }));
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

  private parse(text: string): ObjectiveSet {
    let set = this.parsed.get(text);
    if (!set) {
      set = parseObjectives(text);
      if (this.parsed.size > 1000) this.parsed.clear();
      this.parsed.set(text, set);
    }
    return set;
  }

  private async plan(pfs: string, g: Gathered, current: string[] | undefined): Promise<PlacementPlan> {
    return planPlacement({
      file: g.facts,
      levels: g.levels,
      volumes: await this.volumes.list(),
      defaultVolume: await this.defaultVolumeOf(pfs),
      ...(current ? { current } : {}),
      now: this.clock(),
    });
  }

  /** Volumes with a `present` instance, per chunk (one BatchGetItem per 100 keys). */
  private async presentInstances(shas: string[], names: string[]): Promise<Map<string, Set<string>>> {
    const unique = [...new Set(shas)];
    const keys = unique.flatMap((sha) => names.map((v) => instanceKey(sha, v)));
    const items = keys.length > 0 ? await this.store.batchGet(keys) : [];
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

  private async copyChunk(
    sha: string,
    size: number,
    crc: number,
    sources: string[],
    target: string,
  ): Promise<void> {
    if (sources.length === 0)
      throw new StrataError(
        "EIO",
        `chunk ${sha} has no present instance to copy from; the scrub must repair it first`,
        {
          details: { chunk: sha, target },
        },
      );
    const key = chunkObjectKey(sha);
    let last: unknown;
    for (const name of sources) {
      let bytes: Uint8Array;
      try {
        bytes = await (await this.volumes.volume(name)).getBytes(key);
        if (bytes.byteLength !== size)
          throw new StrataError(
            "ECORRUPT",
            `volume \`${name}\`: chunk ${sha} has ${bytes.byteLength} bytes, expected ${size}`,
            { details: { volume: name, chunk: sha } },
          );
      } catch (err) {
        last = err;
        continue; // the next source
      }
      await putChunkObject(await this.volumes.volume(target), { chunk: sha, size, crc32c: crc }, bytes);
      return;
    }
    throw last;
  }

  private async record(pfs: string, ino: string): Promise<PlacementRecord | undefined> {
    const item = await this.store.get(placementKey(pfs, ino));
    return item ? decodePlacement(item) : undefined;
  }

  private async writeRecord(
    pfs: string,
    ino: string,
    r: Omit<PlacementRecord, "pfs" | "ino" | "time" | "failures"> & { failures?: number },
  ): Promise<void> {
    await this.store.put(placementItem({ pfs, ino, failures: 0, ...r, time: this.clock() }));
  }

  /** Writes in transactions of ≤ 100 (one fsync each on SQLite); a lone put or delete as a plain request. */
  private async writeOps(ops: TransactOp[]): Promise<void> {
    for (let at = 0; at < ops.length; at += 100) {
      const group = ops.slice(at, at + 100);
      const only = group.length === 1 ? group[0]! : undefined;
      if (only?.kind === "put") await this.store.put(only.item);
      else if (only?.kind === "delete") await this.store.delete(only.key);
      else if (only?.kind === "update")
        await this.store.update(only.key, only.update, only.condition ? { condition: only.condition } : {});
      else if (group.length > 0) await this.store.transact(group);
    }
  }
}

function clean(path: string): string {
  return formatPath(parsePath(path));
}

function chunksOf(stat: Stat): Array<[string, number, number]> {
  const seen = new Map<string, [string, number, number]>();
  for (const e of stat.content?.extents ?? [])
    if (!seen.has(e.chunk)) seen.set(e.chunk, [e.chunk, e.length, e.crc32c]);
  return [...seen.values()];
}

function currentVolumes(present: Map<string, Set<string>>, names: string[]): string[] {
  return names.filter((n) => [...present.values()].every((s) => s.has(n)));
}

function randomId(random: () => number): string {
  return Array.from({ length: 4 }, () =>
    Math.floor(random() * 0x10000)
      .toString(16)
      .padStart(4, "0"),
  ).join("");
}

/** Step Functions' Cause is the error's message, or a JSON object carrying one. */
function causeMessage(cause: string | undefined): string | undefined {
  if (cause === undefined) return undefined;
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string; message?: string };
    return parsed.errorMessage ?? parsed.message ?? cause;
  } catch {
    return cause;
  }
}

/** Run `jobs` with at most `limit` at once; the first failure rejects after the running ones settle. */
async function bounded(jobs: Array<() => Promise<void>>, limit: number): Promise<void> {
  await mapLimit(jobs, limit, (job) => job());
}

/** Paths compared name by name, each name by UTF-8 bytes (readdir's order). */
function compareComponents(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    return compareUtf8(a[i]!, b[i]!);
  }
  return a.length - b.length;
}
