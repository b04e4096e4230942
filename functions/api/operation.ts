/**
 * One operation of the API: its name, what it needs (scope, right, the paths it touches), its
 * input schema, and what it does. The registry (registry.ts) collects them; the HTTP routes,
 * validation, the OpenAPI document, in-process admin calls and the CLI's help all come from it.
 */
import type { z } from "zod";
import type { Principal, Right } from "../../core/auth/scope.ts";
import type { FileSystem } from "../../core/namespace/api.ts";
import type { Services } from "./services.ts";

export interface OpContext {
  services: Services;
  principal: Principal;
  /** PFS-scoped operations: the PFS named in the URL (already authorised) and its FileSystem. */
  pfs: string;
  fs: FileSystem;
  signal: AbortSignal;
  /**
   * The request's idempotency key as the namespace should see it (functions/api/idempotency.ts);
   * `fs` is already bound to it. Operations that commit through other paths may pass it on.
   */
  idempotencyKey?: string;
  /**
   * True when this run is the retry of a request that may already have applied (a pending claim
   * without a recorded response, functions/api/idempotency.ts): `afterCrash` applies to its failure.
   */
  recovering?: boolean;
}

/** What an operation touches; see {@link Operation.touches}. */
export type Touches = "paths" | "pfs" | "deployment";

export interface Operation<Input = unknown> {
  /** "<area>.<verb>", e.g. "fs.stat", "token.create". */
  name: string;
  /** One line, shown in OpenAPI and `strata --help`. */
  summary: string;
  /** "pfs": POST /v1/pfs/{pfs}/ops/{name}; "deployment": POST /v1/ops/{name}. */
  scope: "pfs" | "deployment";
  /** Least right the token needs (checked before `run`). */
  right: Right;
  input: z.ZodType<Input>;
  /**
   * What the operation touches, which decides the scope a token needs (handle.ts `authorise`):
   * - "paths": only the objects its `paths(input)` name (required) — the token's prefix must
   *   cover each of them;
   * - "pfs": a whole PFS (the one in the URL, or for deployment-scoped ops the one(s)
   *   `pfsOf(input)` names) — the token's prefix must be "/" on that PFS (or a deployment admin's);
   * - "deployment": deployment-wide state (tokens, volumes, the PFS list, mirrors, maintenance) —
   *   the op narrows to the caller itself (token.*, pfs.list, status) or needs a deployment admin.
   * The registry refuses an operation without a declaration (registry.ts `buildRegistry`).
   */
  touches: Touches;
  /** Paths of the input that the token's prefix must cover (`touches: "paths"`). */
  paths?: (input: Input) => string[];
  /** The PFSs a deployment-scoped `touches: "pfs"` operation acts on, from its input. */
  pfsOf?: (input: Input) => string[];
  /** An example input for docs and `--help`. */
  example?: Record<string, unknown>;
  /**
   * How a keyed retry gets the original answer when the server may have died after this mutating
   * operation applied but before the HTTP layer recorded its response (functions/api/idempotency.ts:
   * the retry finds the pending claim and re-runs in recovery mode). Required on every mutating
   * operation (registry.ts `buildRegistry` refuses one without it); see {@link AfterCrash}.
   */
  afterCrash?: AfterCrash<Input>;
  /**
   * An "engine" operation whose whole effect AND answer are one namespace commit made through
   * `ctx.fs` with the request's key (`true`, or true for these inputs): that commit's own
   * idempotency record (core/namespace/idempotency.ts) answers a keyed retry with the original
   * result, so the HTTP layer writes no response record of its own when the run made exactly one
   * transaction and the engine kept its result (functions/api/idempotency.ts). Leave it out when
   * the answer is read after the commit (mkdir -p), other writes follow it, or it commits elsewhere.
   */
  oneCommit?: true | ((input: Input) => boolean);
  /** For "pfs" scope, `ctx.pfs`/`ctx.fs` are set; for "deployment" they are "" and a stub. */
  run(ctx: OpContext, input: Input): Promise<unknown>;
}

/**
 * What a recovery re-run of a mutating operation does (Operation.afterCrash):
 * - "engine": it commits through the namespace engine with the request's key, which records the
 *   result IN the commit (core/namespace/idempotency.ts); no claim is written, the re-run replays.
 * - "rerun": running it again answers as the original did (set-style ops, reads, token.create
 *   whose id derives from the key).
 * - "runs-again": running it again is harmless but answers anew — a new run's report (vacuum,
 *   scrub, fsck, mirror.run, placement.sweep), a new upload session, one more signing key, a second
 *   backup bundle, a resumed restore. Declared so that the exemption from "the original answer" is
 *   visible here and in docs/http-api.md, not hidden in a test.
 * - "gone-is-done": delete-style; ENOENT on the re-run means the first run deleted it: answer `{}`.
 * - `{ recover }`: create-style; when the re-run fails (EEXIST…), `recover` reads back the object
 *   the first run made and answers what that run answered (or rethrows `err`).
 */
export type AfterCrash<Input = unknown> =
  | "engine"
  | "rerun"
  | "runs-again"
  | "gone-is-done"
  | { recover: (ctx: OpContext, input: Input, err: unknown) => Promise<unknown> };

/**
 * Type helper: `run` and `paths` see the schema's output type; the registry holds them erased
 * (`invoke` validates with the same schema before calling `run`).
 */
export function defineOp<S extends z.ZodType>(
  op: Omit<Operation<z.output<S>>, "input"> & { input: S },
): Operation {
  return op as unknown as Operation;
}
