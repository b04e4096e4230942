/**
 * One operation of the API: its name, what it needs (scope, right, the paths it touches), its
 * input schema, and what it does. The registry (registry.ts) collects them; the HTTP routes,
 * validation, the OpenAPI document, in-process admin calls and the CLI's help all come from it.
 */
import type { z } from "zod";
import type { FileSystem } from "../../core/namespace/api.ts";
import type { Right } from "../../sdk/types.ts";
import type { Principal } from "./auth.ts";
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
}

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
  /** Paths of the input that the token's prefix must cover (PFS-scoped ops). */
  paths?: (input: Input) => string[];
  /** An example input for docs and `--help`. */
  example?: Record<string, unknown>;
  /** For "pfs" scope, `ctx.pfs`/`ctx.fs` are set; for "deployment" they are "" and a stub. */
  run(ctx: OpContext, input: Input): Promise<unknown>;
}

/**
 * Type helper: `run` and `paths` see the schema's output type; the registry holds them erased
 * (`invoke` validates with the same schema before calling `run`).
 */
export function defineOp<S extends z.ZodType>(
  op: Omit<Operation<z.output<S>>, "input"> & { input: S },
): Operation {
  return op as unknown as Operation;
}
