/**
 * The operation registry: the single source of truth for what the API offers. HTTP routes,
 * request validation, the OpenAPI document, in-process admin calls (`client.admin.call`) and the
 * CLI's help text all read it.
 *
 * Adding an area = one file in ops/ exporting `Operation[]` + one line in AREAS below.
 */
import { z } from "zod";
import type { Operation } from "./operation.ts";
import { dataOps } from "./ops/data.ts";
import { fsOps } from "./ops/fs.ts";
import { maintenanceOps } from "./ops/maintenance.ts";
import { mirrorOps } from "./ops/mirror.ts";
import { objectiveOps } from "./ops/objective.ts";
import { pfsOps } from "./ops/pfs.ts";
import { placementOps } from "./ops/placement.ts";
import { statusOps } from "./ops/status.ts";
import { tokenOps } from "./ops/token.ts";
import { volumeOps } from "./ops/volume.ts";

export type { OpContext, Operation } from "./operation.ts";

const AREAS: ReadonlyArray<readonly Operation[]> = [
  fsOps,
  dataOps,
  pfsOps,
  tokenOps,
  statusOps,
  mirrorOps,
  volumeOps,
  objectiveOps,
  placementOps,
  maintenanceOps,
];

const TOUCHES: ReadonlySet<unknown> = new Set(["paths", "pfs", "deployment"]);

/** Why an operation's declaration of what it touches (operation.ts `touches`) is unusable, or undefined. */
function declarationFault(op: Operation): string | undefined {
  if (!TOUCHES.has(op.touches)) return 'declares no `touches` ("paths" | "pfs" | "deployment")';
  if (op.touches === "paths") {
    if (op.scope !== "pfs") return 'touches "paths" but is not PFS-scoped';
    if (typeof op.paths !== "function") return 'touches "paths" but has no `paths(input)`';
  } else if (op.paths !== undefined) return `touches "${op.touches}" but has \`paths\` (declare "paths")`;
  if (op.touches === "pfs" && op.scope === "deployment" && typeof op.pfsOf !== "function")
    return 'touches "pfs" on the deployment route but has no `pfsOf(input)` naming the PFS';
  if (op.pfsOf !== undefined && !(op.touches === "pfs" && op.scope === "deployment"))
    return "has `pfsOf` but is not a deployment-scoped whole-PFS operation";
  return recoveryFault(op);
}

const AFTER_CRASH: ReadonlySet<unknown> = new Set(["engine", "rerun", "runs-again", "gone-is-done"]);

/**
 * Why a mutating operation's `afterCrash` (operation.ts) is missing or unusable, or undefined:
 * without it a keyed retry after "applied, server died before recording" could run it twice.
 */
function recoveryFault(op: Operation): string | undefined {
  const after = op.afterCrash;
  if (op.oneCommit !== undefined && after !== "engine")
    return 'declares `oneCommit` but does not commit through the engine (afterCrash "engine")';
  if (!isMutating(op))
    return after === undefined ? undefined : "declares `afterCrash` but does not mutate (right read)";
  if (after === undefined)
    return 'mutates but declares no `afterCrash` ("engine" | "rerun" | "runs-again" | "gone-is-done" | { recover })';
  if (AFTER_CRASH.has(after)) return undefined;
  if (typeof after === "object" && after !== null && typeof after.recover === "function") return undefined;
  return "has an unusable `afterCrash`";
}

/**
 * Collect operations by name. Refuses (throws) an operation registered twice or one whose
 * declaration of what it touches is missing or inconsistent: authorisation (auth.ts `authorise`)
 * is derived from that declaration, so an undeclared operation would have no scope check.
 */
export function buildRegistry(areas: ReadonlyArray<readonly Operation[]>): ReadonlyMap<string, Operation> {
  const map = new Map<string, Operation>();
  for (const area of areas) {
    for (const op of area) {
      if (map.has(op.name)) throw new Error(`operation ${op.name} is registered twice`);
      const fault = declarationFault(op);
      if (fault) throw new Error(`operation ${op.name} ${fault}`);
      map.set(op.name, op);
    }
  }
  return map;
}

/** Every operation by name. */
export const registry: ReadonlyMap<string, Operation> = buildRegistry(AREAS);

/**
 * Operations that change state: every one that needs `write` or `admin`. They honour the
 * `Idempotency-Key` header (functions/api/idempotency.ts); `read` operations ignore it.
 */
export function isMutating(op: Pick<Operation, "right">): boolean {
  return op.right !== "read";
}

/** The HTTP route of an operation (with `{pfs}` for PFS-scoped ones). */
export function routeOf(op: Pick<Operation, "name" | "scope">): string {
  return op.scope === "pfs" ? `/v1/pfs/{pfs}/ops/${op.name}` : `/v1/ops/${op.name}`;
}

/** JSON Schema of an operation's input (for OpenAPI and `--help`). */
export function inputSchemaOf(op: Operation): Record<string, unknown> {
  return z.toJSONSchema(op.input, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}

const NEEDS: Record<Operation["touches"], string> = {
  paths: " on the PFS, whose prefix covers every path of the input",
  pfs: ' on the whole PFS (its prefix "/")',
  deployment: " (deployment-wide: narrowed to the token's own scope, or deployment admin)",
};

/** OpenAPI parameters of an operation: its PFS (path) and, when it mutates, the Idempotency-Key header. */
function parametersOf(op: Operation): Record<string, unknown>[] {
  return [
    ...(op.scope === "pfs" ? [{ name: "pfs", in: "path", required: true, schema: { type: "string" } }] : []),
    ...(isMutating(op)
      ? [
          {
            name: "Idempotency-Key",
            in: "header",
            required: false,
            description:
              "one new key per call, the same on its retries: a retry gets the original response (422 when the key was used for another request)",
            schema: { type: "string", minLength: 1, maxLength: 255 },
          },
        ]
      : []),
  ];
}

/** The OpenAPI 3.1 document served at GET /v1/openapi.json. */
export function openApiDocument(): Record<string, unknown> {
  const errorSchema = {
    type: "object",
    properties: {
      error: {
        type: "object",
        properties: {
          code: { type: "string", description: "a StrataError code (core/errors.ts)" },
          message: { type: "string" },
          details: { type: "object" },
        },
        required: ["code", "message", "details"],
      },
    },
  };
  const paths: Record<string, unknown> = {};
  for (const op of registry.values()) {
    const { $schema: _drop, ...schema } = inputSchemaOf(op);
    paths[routeOf(op)] = {
      post: {
        operationId: op.name,
        summary: op.summary,
        description: `Needs a token with right \`${op.right}\`${NEEDS[op.touches]}.`,
        "x-strata-touches": op.touches,
        ...(parametersOf(op).length > 0 ? { parameters: parametersOf(op) } : {}),
        requestBody: {
          required: true,
          content: { "application/json": { schema, ...(op.example ? { example: op.example } : {}) } },
        },
        responses: {
          "200": {
            description: "the result (Uint8Array as {$bytes: base64}, Date as {$date: ISO})",
            content: { "application/json": { schema: { type: "object" } } },
          },
          default: { description: "a StrataError", content: { "application/json": { schema: errorSchema } } },
        },
        security: [{ bearer: [] }],
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "strata HTTP API", version: "1", description: "See docs/http-api.md." },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    paths,
  };
}
