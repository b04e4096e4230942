/**
 * Placement: objectives attached to inodes, explain(), the data plane's `chooseVolumes` hook, and
 * the steps of the placement workflow (core/workflows/placement.ts) — copy → verify → commit →
 * trim — each idempotent, each taking and returning the workflow's JSON state. Pure over the
 * ports (MetadataStore, the namespace, Volumes); no timers, no SDKs.
 *
 * One object over four parts: the objective store (objective-store.ts), status (status.ts), the
 * workflow's steps (steps.ts) and object-level drain (drain.ts), sharing `PlacementContext`
 * (context.ts) and the file walk (walk.ts).
 *
 * Invariants:
 * - An instance is recorded `present` only after its bytes were read back at the target and
 *   matched the chunk's size and CRC32C (verify before commit).
 * - Trim never removes the last present instance of a chunk, nor an instance some file wants
 *   (`want#` items), nor anything before `graceMs` after the desired set was committed (readers
 *   that picked the instance earlier finish), nor for a run that a newer run superseded.
 */

import type { MetadataStore } from "../metadata/port.ts";
import type { PlacementContext } from "./context.ts";
import * as drain from "./drain.ts";
import * as objectives from "./objective-store.ts";
import * as status from "./status.ts";
import * as steps from "./steps.ts";
import {
  CHUNK_PAGE,
  type Explanation,
  type PlacementOptions,
  type PlacementState,
  type PlacementStatus,
  type ScopedView,
  type SweepState,
} from "./types.ts";
import { filesUnder } from "./walk.ts";

export class Placement {
  readonly store: MetadataStore;
  readonly graceMs: number;
  private readonly ctx: PlacementContext;

  constructor(options: PlacementOptions) {
    this.ctx = {
      store: options.store,
      namespace: options.namespace,
      volumes: options.volumes,
      clock: options.clock ?? Date.now,
      random: options.random ?? Math.random,
      graceMs: options.graceMs ?? 60_000,
      parallelism: options.parallelism ?? 4,
      maxCopyRounds: options.maxCopyRounds ?? 3,
      chunkPage: options.chunkPage ?? CHUNK_PAGE,
      leaseSleep: options.sleep,
      defaultVolumeOf: options.defaultVolume,
      parsed: new Map(),
      hasObjectivesCache: new Map(),
    };
    this.store = this.ctx.store;
    this.graceMs = this.ctx.graceMs;
  }

  /** Attach objectives to the inode at `path` (replacing what was attached there). EINVAL with line/column. */
  setObjectives(
    pfs: string,
    path: string,
    text: string,
    view?: ScopedView,
  ): Promise<{ path: string; ino: string }> {
    return objectives.setObjectives(this.ctx, pfs, path, text, view);
  }

  removeObjectives(pfs: string, path: string, view?: ScopedView): Promise<void> {
    return objectives.removeObjectives(this.ctx, pfs, path, view);
  }

  /**
   * Attachments in the PFS (`path` given: only at or below it). The path shown is the one given
   * when the objective was set (a later rename keeps the attachment; the path is then stale).
   */
  listObjectives(
    pfs: string,
    path?: string,
    view?: ScopedView,
  ): Promise<Array<{ path: string; ino: string; text: string }>> {
    return objectives.listObjectives(this.ctx, pfs, path, view);
  }

  explain(pfs: string, path: string, view?: ScopedView): Promise<Explanation> {
    return objectives.explain(this.ctx, pfs, path, view);
  }

  /** True when the PFS has at least one objective attached (cached 5 s). */
  hasObjectives(pfs: string): Promise<boolean> {
    return objectives.hasObjectives(this.ctx, pfs);
  }

  /**
   * The data plane's placement hook: where a new file's chunks go. Objectives of the parent
   * chain (and of the file, when it exists) decide; a draining volume is never chosen.
   */
  chooseVolumes(file: { pfs: string; path: string; defaultVolume: string }): Promise<string[]> {
    return objectives.chooseVolumes(this.ctx, file);
  }

  /**
   * Placement of a file, or of the files under a directory in walk order: up to `limit` (default
   * 1,000) after the file `after`; `next` (the last file looked at) resumes when more follow.
   */
  status(
    pfs: string,
    path: string,
    options?: { limit?: number; after?: string; view?: ScopedView },
  ): Promise<PlacementStatus> {
    return status.status(this.ctx, pfs, path, options);
  }

  /**
   * Wait until every file at or under `path` is placed (polling every `pollMs`; a file seen placed
   * is not checked again). ETIMEDOUT after `timeoutMs`, with the files still pending and their
   * last errors; EINVAL at once for a file no volume can take (`details.reason: "unsatisfiable"`).
   * Resolves with the final status of every file.
   */
  waitPlaced(
    pfs: string,
    path: string,
    options: {
      timeoutMs: number;
      pollMs?: number;
      sleep?: (ms: number) => Promise<void>;
      view?: ScopedView;
      /** Test-only `false`: wait for an unsatisfiable file instead of failing at once. */
      failUnsatisfied?: boolean;
    },
  ): Promise<PlacementStatus> {
    return status.waitPlaced(this.ctx, pfs, path, options);
  }

  /** Plan, then copy every missing (chunk, desired volume) from a present instance. Idempotent. */
  copy(state: PlacementState): Promise<PlacementState> {
    return steps.copy(this.ctx, state);
  }

  /** Read every copied instance back in full at its target: size and CRC32C must be the chunk's. */
  verify(state: PlacementState): Promise<PlacementState> {
    return steps.verify(this.ctx, state);
  }

  /** Record the verified instances present, the file's wants, and the run as placed. */
  commit(state: PlacementState): Promise<PlacementState> {
    return steps.commit(this.ctx, state);
  }

  /**
   * Remove surplus instances once the grace passed (GRACE_PENDING before: the workflow retries).
   * Skips what another file wants and the last present instance of a chunk; a superseded run trims nothing.
   */
  trim(state: PlacementState): Promise<PlacementState> {
    return steps.trim(this.ctx, state);
  }

  /** The Catch-all step: the run's error on the file's placement record (placement.get shows it). */
  recordFailure(state: PlacementState): Promise<PlacementState> {
    return steps.recordFailure(this.ctx, state);
  }

  /** The sweeper workflow's ListWork step (steps.ts `sweepList`). */
  sweepList(state: SweepState): Promise<SweepState> {
    return steps.sweepList(this.ctx, state);
  }

  /** Names of the volumes being drained. */
  drainingVolumes(): Promise<string[]> {
    return drain.drainingVolumes(this.ctx);
  }

  /** Move every chunk object still on a draining volume elsewhere (drain.ts `evacuate`). */
  evacuate(volumeName: string, options?: { limit?: number }): Promise<number> {
    return drain.evacuate(this.ctx, volumeName, options);
  }

  /**
   * Every file at or under `path`, or the path itself when it is a file: depth first in name order
   * (UTF-8 bytes, as readdir sorts), so a walk can resume after any path (`after`, exclusive).
   */
  files(pfs: string, path: string, options?: { after?: string; view?: ScopedView }): AsyncGenerator<string> {
    return filesUnder(this.ctx, pfs, path, options);
  }
}
