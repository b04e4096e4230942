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
  /**
   * ONE PAGE of the file's chunks (at most `chunkPage`): [sha, size, crc32c]. The whole list is
   * never carried: a 20 GB file has 2,560 chunks of 8 MiB, ~230 KB of JSON, near Step Functions'
   * 256 KiB state limit.
   */
  chunks?: Array<[string, number, number]>;
  /** Index of the page's first chunk in the file's chunk list (moved on by commit). */
  chunkAt?: number;
  /** Chunks in the file (distinct). */
  chunkCount?: number;
  /** Set by commit: another page follows (the workflow goes back to Copy). */
  more?: boolean;
  /** Trim's page (index into the committed version's chunks), the surplus it left so far, and whether a page follows. */
  trimAt?: number;
  trimLeft?: string[];
  trimMore?: boolean;
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

/**
 * Chunks per page of the per-file placement state: 100 × (~85 bytes per chunk + ~72 per copy and
 * target) ≈ 30 KB of JSON with 3 targets, an eighth of Step Functions' 256 KiB.
 */
export const CHUNK_PAGE = 100;

/** The sweeper workflow's state (core/workflows/placement.ts `sweepWorkflow`): one page per execution. */
export interface SweepState {
  /** Files to place per page (default 100). */
  limit?: number;
  /** Files looked at per page at most (default 1,000): a page ends there even with fewer to place. */
  scan?: number;
  /** Only this PFS (default every PFS). */
  pfs?: string;
  /** The job this sweep runs for (core/jobs): its record gets the cursor and the counts. */
  job?: string;
  /** The job's counters so far: pages done, files looked at, files handed to the per-file states. */
  counts?: { pages: number; scanned: number; placed: number };
  /** The next execution's input (a `continue` state starts it), set when the walk is not done. */
  next?: SweepState;
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
  /** Chunks per page of the workflow state (default {@link CHUNK_PAGE}; tests use small pages). */
  chunkPage?: number;
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
