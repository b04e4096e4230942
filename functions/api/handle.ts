/**
 * The API's core: `handle(request, services) → response` over a tiny request/response type, the
 * same on Lambda (functions/api/lambda.ts) and the local server (functions/local/server.ts).
 *
 *   POST /v1/pfs/{pfs}/ops/{op}   PFS-scoped operation (JSON in, JSON out)
 *   POST /v1/ops/{op}             deployment operation
 *   GET  /v1/openapi.json         the OpenAPI document (no token)
 *   GET  /v1/health               {"ok": true} (no token)
 *
 * Errors: `{ error: { code, message, details } }` with the status from status-codes.ts.
 */
import { TOKEN_CACHE_MS } from "../../adapters/auth/tokens.ts";
import { isStrataError, strataError } from "../../core/errors.ts";
import type { FileSystem, KeyedWrites } from "../../core/namespace/api.ts";
import { toWire } from "../../core/wire.ts";
import { authorise, isDeploymentAdmin, type Principal } from "./auth.ts";
import { engineAnswers, idempotent } from "./idempotency.ts";
import { internalError, REQUEST_ID_HEADER } from "./internal-error.ts";
import type { ApiRequest, ApiResponse } from "./messages.ts";
import type { OpContext, Operation } from "./operation.ts";
import { isMutating, openApiDocument, registry } from "./registry.ts";
import type { Services } from "./services.ts";
import { statusOf } from "./status-codes.ts";

export type { ApiRequest, ApiResponse } from "./messages.ts";

/** Largest JSON request body (1 MiB): bytes travel by presigned URL, not through the API. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Where one request's time goes, in ms by section: the local server's timing hook
 * (functions/local/server.ts `timing`, off by default; `npm run bench -- http` prints it). Each
 * `lap` charges the time since the previous one to a section; off, callers hold `undefined` and
 * pay one optional call per section.
 */
export class RequestTiming {
  readonly sections: Record<string, number> = {};
  private readonly start = performance.now();
  private last = this.start;

  lap(section: string): void {
    const now = performance.now();
    this.sections[section] = (this.sections[section] ?? 0) + (now - this.last);
    this.last = now;
  }

  /** The sections, and `total`: the whole request so far. */
  end(): Record<string, number> {
    this.sections.total = performance.now() - this.start;
    return this.sections;
  }
}

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

function json(status: number, value: unknown): ApiResponse {
  return { status, headers: { ...JSON_HEADERS }, body: JSON.stringify(toWire(value)) };
}

/**
 * The HTTP answer for any error: StrataErrors keep their code; anything else is a generic EIO with
 * a request id (also in the `x-strata-request-id` header), the details logged (./internal-error.ts).
 */
export function errorResponse(err: unknown): ApiResponse {
  const e = isStrataError(err) ? err : internalError(err);
  let details: unknown;
  try {
    details = JSON.parse(JSON.stringify(toWire(e.details)));
  } catch {
    details = {};
  }
  const response = json(statusOf(e.code, e.details), {
    error: { code: e.code, message: e.message, details },
  });
  if (!isStrataError(err)) response.headers[REQUEST_ID_HEADER] = String(e.details.requestId);
  return response;
}

const fsCache = new WeakMap<Services, Map<string, FileSystem>>();
const knownPfs = new WeakMap<Services, Set<string>>();

/**
 * The principal's view of a PFS, cached per (PFS, prefix): confined beneath the token's prefix
 * (docs/namespace.md "Confinement"), so every path resolves inside its scope.
 */
function fileSystem(
  services: Services,
  pfs: string,
  principal: Principal,
  idempotencyKey?: string,
): FileSystem {
  const cache = fsCache.get(services) ?? new Map<string, FileSystem>();
  fsCache.set(services, cache);
  const beneath = services.testOnlyUnconfined ? "/" : principal.prefix;
  // One file system per keyed request: its commits are recorded under that key.
  if (idempotencyKey !== undefined) return services.namespace.pfs(pfs, { beneath, idempotencyKey });
  const key = `${beneath}\u0000${pfs}`;
  const fs = cache.get(key) ?? services.namespace.pfs(pfs, { beneath });
  cache.set(key, fs);
  return fs;
}

/** Local convenience: a deployment admin's write to a PFS that does not exist creates it (never a read). */
async function ensurePfs(
  services: Services,
  principal: Principal,
  op: Operation,
  pfs: string,
): Promise<void> {
  if (!services.autoCreatePfs || op.right === "read" || !isDeploymentAdmin(principal)) return;
  const known = knownPfs.get(services) ?? new Set<string>();
  knownPfs.set(services, known);
  if (known.has(pfs)) return;
  try {
    await services.namespace.createPfs(pfs);
  } catch (err) {
    if (!isStrataError(err, "EEXIST")) throw err;
  }
  known.add(pfs);
}

const noFs = new Proxy({} as FileSystem, {
  get: () => {
    throw strataError("EINVAL", "a deployment operation has no PFS; use /v1/pfs/{pfs}/ops/{op}");
  },
});

/** Field path of a zod issue as "a.b[2].c". */
function fieldOf(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (out, p) => (typeof p === "number" ? `${out}[${p}]` : out ? `${out}.${String(p)}` : String(p)),
    "",
  );
}

/**
 * Validate, authorise and run one operation for an authenticated principal. The HTTP handler and
 * in-process callers (the embedded deployment's `admin.call`) both come through here.
 */
export async function invoke(
  services: Services,
  principal: Principal,
  name: string,
  rawInput: unknown,
  options: {
    pfs?: string;
    signal?: AbortSignal;
    idempotencyKey?: string;
    recovering?: boolean;
    timing?: RequestTiming;
    /** Filled in after a keyed run: the op's `oneCommit` for this input and its file system's KeyedWrites. */
    keyed?: { oneCommit?: boolean; writes?: KeyedWrites };
  } = {},
): Promise<unknown> {
  const op: Operation | undefined = registry.get(name);
  if (!op) throw strataError("ENOENT", `no operation ${name}; GET /v1/openapi.json lists them`, { op: name });
  const pfs = options.pfs;
  if (op.scope === "pfs" && pfs === undefined)
    throw strataError("EINVAL", `${name} is a PFS operation: call it as /v1/pfs/{pfs}/ops/${name}`, {
      op: name,
    });
  if (op.scope === "deployment" && pfs !== undefined)
    throw strataError("EINVAL", `${name} is a deployment operation: call it as /v1/ops/${name}`, {
      op: name,
    });
  const parsed = op.input.safeParse(rawInput ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = fieldOf(issue.path);
    throw strataError("EINVAL", `${name}: ${field ? `field \`${field}\`` : "input"}: ${issue.message}`, {
      op: name,
      field,
      issues: parsed.error.issues.map((i) => ({ field: fieldOf(i.path), message: i.message })),
    });
  }
  const input = parsed.data;
  // What the op touches (its registry declaration) decides the scope the token needs.
  authorise(principal, op, input, pfs);
  if (pfs !== undefined) await ensurePfs(services, principal, op, pfs);
  const ctx: OpContext = {
    services,
    principal,
    pfs: pfs ?? "",
    fs: pfs === undefined ? noFs : fileSystem(services, pfs, principal, options.idempotencyKey),
    signal: options.signal ?? new AbortController().signal,
    ...(options.idempotencyKey !== undefined ? { idempotencyKey: options.idempotencyKey } : {}),
    ...(options.recovering ? { recovering: true } : {}),
  };
  options.timing?.lap("validate");
  const result = options.recovering ? await recoveryRun(op, ctx, input) : await op.run(ctx, input);
  options.timing?.lap("store");
  if (options.keyed) {
    options.keyed.oneCommit =
      typeof op.oneCommit === "function" ? op.oneCommit(input) : op.oneCommit === true;
    if (pfs !== undefined) options.keyed.writes = ctx.fs.keyedWrites?.();
  }
  return result;
}

/**
 * Run `op` again after a possible crash between applying and recording (functions/api/idempotency.ts):
 * its failure goes through the op's declared `afterCrash` (operation.ts {@link AfterCrash}).
 */
async function recoveryRun(op: Operation, ctx: OpContext, input: unknown): Promise<unknown> {
  try {
    return await op.run(ctx, input);
  } catch (err) {
    const after = op.afterCrash;
    if (after === "gone-is-done" && isStrataError(err, "ENOENT")) return {};
    if (typeof after === "object") return after.recover(ctx, input, err);
    throw err;
  }
}

const PFS_ROUTE = /^\/v1\/pfs\/([^/]+)\/ops\/([^/]+)$/;
const DEPLOYMENT_ROUTE = /^\/v1\/ops\/([^/]+)$/;

function decodeSegment(segment: string, what: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw strataError("EINVAL", `the ${what} in the URL is not valid percent-encoding`, { segment });
  }
}

export async function handle(
  request: ApiRequest,
  services: Services,
  signal?: AbortSignal,
  timing?: RequestTiming,
): Promise<ApiResponse> {
  try {
    const { method, path } = request;
    if (method === "GET" && path === "/v1/openapi.json") return json(200, openApiDocument());
    if (method === "GET" && path === "/v1/health") return json(200, { ok: true });
    const pfsMatch = PFS_ROUTE.exec(path);
    const deploymentMatch = pfsMatch ? null : DEPLOYMENT_ROUTE.exec(path);
    if (!pfsMatch && !deploymentMatch)
      throw strataError("ENOENT", `no route ${method} ${path}; see GET /v1/openapi.json`, { method, path });
    if (method !== "POST")
      throw strataError("EINVAL", `operations are called with POST, not ${method}`, { method, path });
    const pfs = pfsMatch ? decodeSegment(pfsMatch[1]!, "PFS name") : undefined;
    const name = decodeSegment((pfsMatch ? pfsMatch[2] : deploymentMatch![1])!, "operation name");
    if (!registry.has(name))
      throw strataError("ENOENT", `no operation ${name}; GET /v1/openapi.json lists them`, { op: name });

    timing?.lap("route");
    const principal = await authenticate(request, services);
    timing?.lap("auth");
    const body = request.body ?? "";
    if (Buffer.byteLength(body) > MAX_BODY_BYTES)
      throw strataError(
        "E2BIG",
        `request bodies are limited to ${MAX_BODY_BYTES} bytes; file bytes go by presigned URL`,
        {
          limit: MAX_BODY_BYTES,
        },
      );
    let input: unknown = {};
    if (body.trim() !== "") {
      try {
        input = JSON.parse(body);
      } catch (err) {
        throw strataError("EINVAL", `the request body is not valid JSON: ${(err as Error).message}`, {
          op: name,
        });
      }
    }
    let target = pfs;
    if (target === undefined && registry.get(name)!.scope === "pfs") {
      // A PFS operation on the deployment route (e.g. `client.admin.call`): the PFS is the input's
      // `pfs`, else the caller's default from the x-strata-pfs header.
      const fromInput = (input as { pfs?: unknown } | null)?.pfs;
      if (typeof fromInput === "string") {
        target = fromInput;
        delete (input as { pfs?: unknown }).pfs;
      } else if (request.headers["x-strata-pfs"]) {
        target = decodeSegment(request.headers["x-strata-pfs"], "x-strata-pfs header");
      }
    }
    timing?.lap("json");
    const call = async (idempotencyKey?: string, recovering = false) => {
      timing?.lap("idempotency");
      const keyed: { oneCommit?: boolean; writes?: KeyedWrites } = {};
      const result = await invoke(services, principal, name, input, {
        pfs: target,
        signal,
        ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
        recovering,
        timing,
        keyed,
      });
      const response = json(200, result ?? {});
      const answered = engineAnswers(keyed.oneCommit === true, keyed.writes);
      // Answered from the namespace's record (done before): a replay, as from the response record.
      if (answered && keyed.writes?.replayed) response.headers["idempotent-replayed"] = "true";
      timing?.lap("json");
      return { response, engineAnswers: answered };
    };
    const key = request.headers["idempotency-key"];
    // Reads ignore the header: running them again is harmless.
    if (key === undefined || !isMutating(registry.get(name)!)) return (await call()).response;
    const response = await idempotent(
      services.store,
      services.clock,
      principal,
      { key, name, pfs: target, body },
      call,
      // Ops that commit elsewhere than the engine claim the key before running (idempotency.ts).
      { claim: registry.get(name)!.afterCrash !== "engine" },
    );
    timing?.lap("idempotency");
    return response;
  } catch (err) {
    return errorResponse(err);
  }
}

async function authenticate(request: ApiRequest, services: Services): Promise<Principal> {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match)
    throw strataError(
      "EACCES",
      "missing bearer token: send `Authorization: Bearer <token>` (npm start prints an admin token)",
      { auth: "token" },
    );
  // A token verified < 1 s ago is trusted without reading its record again (the revocation bound:
  // adapters/auth/tokens.ts TOKEN_CACHE_MS).
  return services.tokens.verify(match[1]!, { maxAgeMs: TOKEN_CACHE_MS });
}
