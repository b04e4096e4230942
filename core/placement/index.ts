/**
 * Placement (objectives → where a file's chunks are): the `Placement` service and its public
 * types. The parts: objective-store.ts, status.ts, steps.ts, drain.ts over context.ts and walk.ts.
 */
export { Placement } from "./service.ts";
export {
  CHUNK_PAGE,
  type Explanation,
  type FileStatus,
  GAVE_UP,
  GRACE_PENDING,
  type PlacementOptions,
  type PlacementState,
  type PlacementStatus,
  type ScopedView,
  type SweepState,
} from "./types.ts";
