/**
 * The placement service's public types: the workflows' JSON states, the options, what status and
 * explain return, and a scoped caller's view.
 */

import type { MetadataStore } from "../metadata/port.ts";
import type { Namespace, ReadableFileSystem } from "../namespace/api.ts";
import type { PlacementPlan } from "../objectives/planner.ts";
import type { VolumeSet } from "./volumes.ts";

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
  /** The pause while Commit waits out a vacuum's `deleting` lease (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
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
  /** Rules that found fewer volumes than asked (the planner's `unsatisfied`), when any. */
  unsatisfied?: PlacementPlan["unsatisfied"];
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
