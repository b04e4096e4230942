/**
 * Orchestration of placement in one process (local mode; the cloud uses DynamoDB Streams and Step
 * Functions for the same jobs): change events → placement workflow runs, one per file, a few at a
 * time; a sweeper that reconciles everything an event missed; drains.
 *
 * Change events come from the engine's change index (`chg#<pfs id>#<shard>`, one item per commit
 * naming every key it wrote), read by TID cursor per shard up to a closed TID (so nothing below
 * the cursor can appear later: docs/namespace.md, rule 2). A written key maps to work:
 *   `dir#<pfs>#<dir>` / `<name>`      an entry added, removed or renamed → that path (a file, or a subtree)
 *   `ino#<pfs>#<ino>` / `v#…`         a new inode version (tags, content, attributes):
 *                                      a directory → its subtree (tags are inherited); a file → its
 *                                      path from its placement record (new files come as entries)
 * Objective changes and drains enqueue directly (they are not engine commits).
 */
import { isStrataError } from "../errors.ts";
import type { MetadataStore } from "../metadata/port.ts";
import type { Namespace } from "../namespace/api.ts";
import { formatPath } from "../namespace/path.ts";
import type { Placement } from "./index.ts";
import { decodePlacement, feedCursorKey, placementKey, sweepCursorKey } from "./placement-items.ts";

export interface WorkflowRun {
  status: "succeeded" | "failed";
  transitions?: number;
}

export interface OrchestratorOptions {
  store: MetadataStore;
  namespace: Namespace;
  placement: Placement;
  /** Runs the placement workflow for one file (LocalPlacementRunner.run, or a Step Functions start). */
  runWorkflow: (input: { pfs: string; path: string }) => Promise<WorkflowRun>;
  /** Workflow runs at once (default 4). */
  concurrency?: number;
  /** Called after each run (benchmarks, logs). */
  onRun?: (input: { pfs: string; path: string }, run: WorkflowRun) => void;
}

/** Work a change-index item asks for. */
export type ChangeTarget =
  | { kind: "entry"; pfsId: string; dir: string; name: string }
  | { kind: "inode"; pfsId: string; ino: string };

/** The targets of one change-index item's `keys` (pure; shared with the DynamoDB Streams trigger). */
export function changeTargets(keys: unknown): ChangeTarget[] {
  const out: ChangeTarget[] = [];
  if (!Array.isArray(keys)) return out;
  for (const k of keys) {
    if (!Array.isArray(k) || typeof k[0] !== "string" || typeof k[1] !== "string") continue;
    const [pk, sk] = k as [string, string];
    const parts = pk.split("#");
    if (parts[0] === "dir" && parts.length === 3)
      out.push({ kind: "entry", pfsId: parts[1]!, dir: parts[2]!, name: sk });
    else if (parts[0] === "ino" && parts.length === 3 && sk.startsWith("v#"))
      out.push({ kind: "inode", pfsId: parts[1]!, ino: parts[2]! });
  }
  return out;
}

export class PlacementOrchestrator {
  private readonly store: MetadataStore;
  private readonly namespace: Namespace;
  private readonly placement: Placement;
  private readonly runWorkflow: OrchestratorOptions["runWorkflow"];
  private readonly concurrency: number;
  private readonly onRun: OrchestratorOptions["onRun"];
  /** Files waiting, in order; a file already queued is not queued twice. */
  private readonly queue: Array<{ pfs: string; path: string }> = [];
  private readonly queued = new Set<string>();
  /** Files running now; one changed again while running is run once more afterwards. */
  private readonly running = new Set<string>();
  private readonly again = new Set<string>();
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private expanding = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sweepTimer: ReturnType<typeof setTimeout> | undefined;
  private polling: Promise<number> | undefined;
  /** Set by `stop`: no new workflow starts (queued files are picked up by the sweeper later). */
  private stopped = false;
  readonly stats = { runs: 0, failed: 0, transitions: 0 };

  constructor(options: OrchestratorOptions) {
    this.store = options.store;
    this.namespace = options.namespace;
    this.placement = options.placement;
    this.runWorkflow = options.runWorkflow;
    this.concurrency = options.concurrency ?? 4;
    this.onRun = options.onRun;
  }

  /** Place the file at `path`, or every file under the directory at `path`. */
  async enqueue(pfs: string, path: string): Promise<void> {
    this.expanding++;
    try {
      for await (const file of this.placement.files(pfs, path)) this.enqueueFile(pfs, file);
    } catch (err) {
      if (!isStrataError(err, "ENOENT") && !isStrataError(err, "ENOTDIR")) throw err;
    } finally {
      this.expanding--;
      this.settle();
    }
  }

  /** Resolves when nothing is queued, running or being expanded. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Until `stop()`: poll the change feed every `pollMs` (default 250), and sweep every PFS (up to
   * 1,000 files per PFS per pass, resuming where the last pass stopped) every `sweepEveryMs`
   * (default 5 minutes; 0 = never).
   */
  start(options: { pollMs?: number; sweepEveryMs?: number } = {}): void {
    this.stopped = false;
    const pollMs = options.pollMs ?? 250;
    const sweepEveryMs = options.sweepEveryMs ?? 300_000;
    const tick = async () => {
      try {
        await this.pollChanges();
      } catch {
        // A failed poll is retried at the next tick (the cursor did not move).
      }
      if (this.timer !== undefined) this.timer = setTimeout(tick, pollMs);
    };
    this.timer = setTimeout(tick, 0);
    if (sweepEveryMs > 0) {
      const sweepAll = async () => {
        try {
          for (const pfs of await this.namespace.listPfs()) await this.sweep(pfs.name, { limit: 1000 });
          // A drain interrupted by a restart finishes here: once the files' runs are done, what is
          // left on a draining volume is moved off.
          await this.idle();
          for (const volume of await this.placement.drainingVolumes()) await this.placement.evacuate(volume);
        } catch {
          // The next pass resumes from the stored cursor.
        }
        if (this.sweepTimer !== undefined) this.sweepTimer = setTimeout(sweepAll, sweepEveryMs);
      };
      this.sweepTimer = setTimeout(sweepAll, sweepEveryMs);
    }
  }

  /**
   * Stop polling and sweeping, start no new workflow (queued files are dropped: the next start's
   * sweeper reconciles them), and wait for the running ones to return — the caller aborts them
   * first (LocalWorkflowRunner.abortAll) when it cannot wait out a Trim's grace period.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.sweepTimer !== undefined) clearTimeout(this.sweepTimer);
    this.timer = undefined;
    this.sweepTimer = undefined;
    this.queue.length = 0;
    this.queued.clear();
    await this.polling;
    if (this.active > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** One pass over the change feed of every PFS; returns the number of change items read. */
  pollChanges(): Promise<number> {
    this.polling ??= this.readFeed().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async readFeed(): Promise<number> {
    let read = 0;
    for (const pfs of await this.namespace.listPfs()) {
      const fs = this.namespace.pfs(pfs.name);
      const registry = await this.store.get({ pk: "pfs", sk: pfs.name });
      const shards = Number(registry?.shards ?? 8);
      // Every commit at or below a closed TID is in the index: read up to it, never above.
      const upto = await fs.currentTid();
      const targets: ChangeTarget[] = [];
      for (let shard = 0; shard < shards; shard++) {
        const cursorItem = await this.store.get(feedCursorKey(pfs.id, shard));
        const after = typeof cursorItem?.after === "string" ? cursorItem.after : "";
        if (after >= upto) continue;
        let cursor: string | undefined;
        let last: string | undefined;
        do {
          const page = await this.store.query(`chg#${pfs.id}#${shard}`, {
            sk: after
              ? { op: "between", low: `${after}#g`, high: `${upto}#g` }
              : { op: "le", value: `${upto}#g` },
            cursor,
          });
          for (const item of page.items) {
            targets.push(...changeTargets(item.keys));
            last = String(item.sk).slice(0, String(item.sk).indexOf("#"));
          }
          read += page.items.length;
          cursor = page.cursor;
        } while (cursor !== undefined);
        // Moved only past what was read: an empty range costs a query next time, not a write now.
        if (last !== undefined) await this.store.put({ ...feedCursorKey(pfs.id, shard), after: last });
      }
      await this.enqueueTargets(pfs.name, pfs.id, targets);
    }
    return read;
  }

  /** Turn change targets of one PFS into enqueued files. */
  async enqueueTargets(pfs: string, pfsId: string, targets: ChangeTarget[]): Promise<void> {
    for (const p of await pathsForTargets(this.store, pfs, pfsId, targets)) await this.enqueue(pfs, p);
  }

  /**
   * Reconcile desired vs actual for up to `limit` files of a PFS, resuming after the last file of
   * the previous call (the cursor is stored; it wraps around at the end). Returns files enqueued
   * and whether the pass reached the end.
   */
  async sweep(pfs: string, options: { limit?: number } = {}): Promise<{ enqueued: number; done: boolean }> {
    const limit = options.limit ?? 1000;
    const key = sweepCursorKey(pfs);
    const after = String((await this.store.get(key))?.after ?? "");
    let enqueued = 0;
    let last = "";
    for await (const file of this.placement.files(pfs, "/", after ? { after } : {})) {
      const st = await this.placement.status(pfs, file).catch(() => undefined);
      const f = st?.files[0];
      if (f && f.status !== "placed" && f.status !== "inline") {
        this.enqueueFile(pfs, file);
        enqueued++;
      } else if (f && f.surplus.length > 0) {
        this.enqueueFile(pfs, file);
        enqueued++;
      }
      last = file;
      if (enqueued >= limit) {
        await this.store.put({ ...key, after: last });
        return { enqueued, done: false };
      }
    }
    await this.store.put({ ...key, after: "" });
    return { enqueued, done: true };
  }

  /**
   * Drain: place every file of every PFS again (the planner never chooses a draining volume), wait
   * for those runs, then move what is left on the volume (old versions' and unreferenced chunks).
   * The volume must already be marked draining (VolumeAdmin.drain).
   */
  async drain(volume: string): Promise<{ evacuated: number }> {
    for (const pfs of await this.namespace.listPfs()) await this.enqueue(pfs.name, "/");
    await this.idle();
    return { evacuated: await this.placement.evacuate(volume) };
  }

  private enqueueFile(pfs: string, path: string): void {
    if (this.stopped) return;
    const id = `${pfs}\u0000${path}`;
    if (this.running.has(id)) {
      this.again.add(id);
      return;
    }
    if (this.queued.has(id)) return;
    this.queued.add(id);
    this.queue.push({ pfs, path });
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.active < this.concurrency && this.queue.length > 0) {
      const job = this.queue.shift()!;
      const id = `${job.pfs}\u0000${job.path}`;
      this.queued.delete(id);
      this.running.add(id);
      this.active++;
      void this.runOne(job, id);
    }
    this.settle();
  }

  private async runOne(job: { pfs: string; path: string }, id: string): Promise<void> {
    try {
      const run = await this.runWorkflow(job);
      this.stats.runs++;
      if (run.status === "failed") this.stats.failed++;
      this.stats.transitions += run.transitions ?? 0;
      this.onRun?.(job, run);
    } catch {
      this.stats.failed++;
    } finally {
      this.running.delete(id);
      this.active--;
      if (this.again.delete(id) && !this.stopped) this.enqueueFile(job.pfs, job.path);
      this.pump();
    }
  }

  private isIdle(): boolean {
    return this.active === 0 && this.queue.length === 0 && this.expanding === 0;
  }

  private settle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/**
 * The paths (files, or directories whose subtree is affected) that change targets of one PFS
 * name. A file version without a placement record is skipped: a new file also arrives as its entry.
 */
export async function pathsForTargets(
  store: MetadataStore,
  pfs: string,
  pfsId: string,
  targets: ChangeTarget[],
): Promise<string[]> {
  const paths = new Set<string>();
  const dirPaths = new Map<string, string | undefined>();
  const dirPath = async (dir: string): Promise<string | undefined> => {
    if (!dirPaths.has(dir)) dirPaths.set(dir, await directoryPath(store, pfsId, dir));
    return dirPaths.get(dir);
  };
  for (const t of targets) {
    if (t.pfsId !== pfsId) continue;
    if (t.kind === "entry") {
      const parent = await dirPath(t.dir);
      if (parent !== undefined) paths.add(parent === "/" ? `/${t.name}` : `${parent}/${t.name}`);
    } else {
      const asDir = await dirPath(t.ino);
      if (asDir !== undefined) paths.add(asDir);
      else {
        const record = await store.get(placementKey(pfs, t.ino));
        if (record) paths.add(decodePlacement(record).path);
      }
    }
  }
  return [...paths];
}

/** A live directory's path from its `ctl` chain (parent, name); undefined for a file or a removed one. */
async function directoryPath(store: MetadataStore, pfsId: string, ino: string): Promise<string | undefined> {
  const names: string[] = [];
  let at = ino;
  for (let depth = 0; depth < 4096; depth++) {
    const ctl = await store.get({ pk: `ino#${pfsId}#${at}`, sk: "ctl" });
    if (!ctl) return undefined;
    if (typeof ctl.parent !== "string" || ctl.parent === "" || ctl.parent === at)
      return formatPath(names.reverse());
    names.push(String(ctl.name));
    at = ctl.parent;
  }
  return undefined;
}
