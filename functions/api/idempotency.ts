/**
 * The `Idempotency-Key` header (docs/http-api.md "Idempotency"): a client names each mutating
 * call with a key and sends the same key on every retry of that call; the answer to a retry is the
 * answer to the original.
 *
 * - After a 2xx, the response (status + body) is recorded under (token, key) with a fingerprint
 *   of the request, for {@link RECORD_TTL_MS}; a retry with the same key and request gets it back
 *   byte for byte (header `idempotent-replayed: true`), without running anything.
 * - The same key with a different request (operation, PFS or body) is EINVAL with
 *   `details.idempotency = "mismatch"`, answered 422; nothing runs.
 * - Namespace operations get the key too (`OpContext.idempotencyKey` → `namespace.pfs(pfs, {
 *   idempotencyKey })`): their commit writes the operation's result IN its own transaction
 *   (core/namespace/idempotency.ts), so a retry still gets the original result when the server
 *   died between commit and recording the response.
 * - Operations whose whole effect and answer are that one commit (`oneCommit` in the registry:
 *   unlink, rename, non-recursive mkdir, inline upload.commit…) write NO response record here
 *   when the run made exactly one transaction whose record keeps the result ({@link engineAnswers}):
 *   the namespace's record answers the retry (the same body; `idempotent-replayed: true`), and
 *   the request saves one synchronous write. The lookup of a response record before running stays
 *   (a record written by another run of the key still replays or says "mismatch").
 * - Errors are not recorded: a failed call changed nothing, so its retry simply runs again.
 * - Operations that do NOT commit through the engine (`afterCrash` other than "engine" in the
 *   registry: token.*, volume.*, mirror.*, backup.*, pfs.*, objective.*, …) first write a **claim**
 *   (the same item in state `pending`, create-only) and then run; the recorded response replaces
 *   it. A retry that finds a pending claim knows the operation MAY have applied (the server died
 *   between applying and recording) and runs it in **recovery** mode: the operation's declared
 *   `afterCrash` turns "already done" (EEXIST, ENOENT) into the original answer. Why a claim rather
 *   than a record in the op's own write: these ops write through many different stores and
 *   drivers (volumes, key ring, mirror definitions); one claim here covers all of them, and each op
 *   only states how its re-run reads back what it did.
 * - A claim held by a request still running in this process answers a same-key request with
 *   ETIMEDOUT `again: true`, `idempotency: "in-flight"` (504, retried by the SDK): it does not run
 *   twice. Across processes a pending claim is indistinguishable from a crash: the second request
 *   recovers, which every `afterCrash` makes safe to run twice.
 */
import { createHash } from "node:crypto";
import { isStrataError, strataError } from "../../core/errors.ts";
import type { Item, MetadataStore } from "../../core/metadata/port.ts";
import { ttlAttribute } from "../../core/metadata/table.ts";
import type { KeyedWrites } from "../../core/namespace/api.ts";
import { hash64, isIdempotencyKey, RECORD_TTL_MS } from "../../core/namespace/idempotency.ts";
import type { Principal } from "./auth.ts";
import type { ApiResponse } from "./messages.ts";

/** Responses larger than this are not recorded (a replay then re-runs the operation). */
const MAX_RECORDED_BODY = 300 * 1024;

export interface IdempotentRequest {
  /** The Idempotency-Key header as sent. */
  key: string;
  /** Operation name, target PFS and body: what makes two requests "the same". */
  name: string;
  pfs: string | undefined;
  body: string;
}

function recordKeyOf(principal: Principal, key: string) {
  return { pk: `idem#http#${principal.tokenId}#${key}`, sk: "r" };
}

/**
 * TEST ONLY (test/e2e/http-crash-before-record.test.ts): `loseAfterApply` makes a successful first
 * run leave its pending claim, report the response it would have recorded to `lost`, and fail as a
 * lost reply (EUNAVAIL, retried by the SDK); `retried` sees what the retry answered.
 * `recovery: false` disables recovery (the retry runs as a fresh call, without a key for the op):
 * the counter-check. `beforeRun` holds a run (concurrency tests); `claim: false` writes no claim.
 */
export const crashTestHooks: {
  loseAfterApply?: boolean;
  recovery?: boolean;
  lost?: (key: string, response: ApiResponse, op: string) => void;
  retried?: (key: string, response: ApiResponse) => void;
  beforeRun?: (key: string) => Promise<void>;
  claim?: boolean;
  engineRecord?: boolean;
} = {};

/**
 * Whether the namespace's own idempotency record answers a keyed retry of this run, so that no
 * response record is needed here: the operation declares `oneCommit` (operation.ts) and its run
 * made exactly one transaction under the key, whose record keeps the result (core/namespace/api.ts
 * KeyedWrites). TEST ONLY: `crashTestHooks.engineRecord = false` hands the namespace no key (its
 * commit records nothing) yet still skips the response record — the counter-check that the
 * namespace's record is what answers those retries.
 */
export function engineAnswers(oneCommit: boolean, writes: KeyedWrites | undefined): boolean {
  if (!oneCommit) return false;
  if (crashTestHooks.engineRecord === false) return true;
  return writes !== undefined && writes.transactions === 1 && writes.answered === 1;
}

/** Claims held by requests running in this process, per store (pk of the record). */
const running = new WeakMap<MetadataStore, Set<string>>();

function inFlightError(key: string, op: string) {
  return strataError(
    "ETIMEDOUT",
    `a request with Idempotency-Key ${key} is still running; call again with the same key for its answer`,
    { again: true, idempotency: "in-flight", op },
  );
}

/**
 * Run `run` once per (token, key): the first time for real, later with the recorded response.
 * `run` receives the key to hand to the namespace (unique per token and key).
 */
export async function idempotent(
  store: MetadataStore,
  clock: () => number,
  principal: Principal,
  request: IdempotentRequest,
  run: (
    namespaceKey: string | undefined,
    recovering: boolean,
  ) => Promise<{ response: ApiResponse; engineAnswers?: boolean }>,
  options: { claim: boolean } = { claim: false },
): Promise<ApiResponse> {
  if (!isIdempotencyKey(request.key))
    throw strataError(
      "EINVAL",
      "the Idempotency-Key header is 1..255 printable ASCII characters (no spaces); send a new random one per call",
      { header: "idempotency-key" },
    );
  const fingerprint = createHash("sha256")
    .update(`${request.name}\n${request.pfs ?? ""}\n${request.body}`)
    .digest("hex");
  const key = recordKeyOf(principal, request.key);
  const now = clock();
  const expiresAt = Math.floor((now + RECORD_TTL_MS) / 1000);
  const inFlight = running.get(store) ?? new Set<string>();
  running.set(store, inFlight);
  const seen = await store.get(key);
  let retry = false; // a pending claim was found: the first run may have applied
  if (seen && Number(seen.expiresAt) >= Math.floor(now / 1000)) {
    if (seen.fp !== fingerprint)
      throw strataError(
        "EINVAL",
        `Idempotency-Key ${request.key} was already used for a different request; use a new key per call`,
        { idempotency: "mismatch", op: request.name },
      );
    if (seen.state !== "pending")
      return {
        status: Number(seen.status),
        headers: { ...(seen.headers as Record<string, string>), "idempotent-replayed": "true" },
        body: String(seen.body),
      };
    if (inFlight.has(key.pk)) throw inFlightError(request.key, request.name);
    retry = true;
  } else if (options.claim && crashTestHooks.claim !== false) {
    try {
      // Create-only: of two concurrent first requests, one claims and the other is "in flight".
      await store.put(
        { ...key, state: "pending", fp: fingerprint, expiresAt, ...ttlAttribute(now + RECORD_TTL_MS) },
        {
          condition: seen
            ? { op: "eq", attr: "expiresAt", value: Number(seen.expiresAt) }
            : { op: "notExists" },
        },
      );
    } catch (err) {
      if (isStrataError(err, "ECONFLICT")) throw inFlightError(request.key, request.name);
      throw err;
    }
  }
  const recovering = retry && crashTestHooks.recovery !== false;
  // Two different tokens must not share namespace records: the namespace key is per token.
  const namespaceKey = hash64(`${principal.tokenId}\u0000${request.key}`) + hash64(request.key);
  const withKey =
    (options.claim && crashTestHooks.recovery === false) ||
    (!options.claim && crashTestHooks.engineRecord === false)
      ? undefined
      : namespaceKey;
  inFlight.add(key.pk);
  let response: ApiResponse;
  let answered: boolean;
  try {
    await crashTestHooks.beforeRun?.(request.key);
    ({ response, engineAnswers: answered = false } = await run(withKey, recovering));
  } catch (err) {
    // A failed call changed nothing: drop our claim so that its retry runs as a first call.
    if (options.claim && !retry)
      await store.delete(key, { condition: { op: "eq", attr: "state", value: "pending" } }).catch(() => {});
    throw err;
  } finally {
    inFlight.delete(key.pk);
  }
  const ok = response.status >= 200 && response.status < 300;
  if (retry) crashTestHooks.retried?.(request.key, response);
  if (ok && options.claim && !retry && crashTestHooks.loseAfterApply) {
    crashTestHooks.lost?.(request.key, response, request.name);
    throw strataError("EUNAVAIL", "test: the server died after applying, before recording the response", {
      idempotency: "lost",
    });
  }
  // The namespace's record, written in the operation's own commit, already answers a retry.
  if (ok && !answered && response.body.length <= MAX_RECORDED_BODY) {
    const item: Item = {
      ...key,
      fp: fingerprint,
      status: response.status,
      headers: response.headers,
      body: response.body,
      expiresAt,
      ...ttlAttribute(now + RECORD_TTL_MS),
    };
    try {
      await store.put(item);
    } catch (err) {
      // The operation is done; a retry finds the claim (recovery) or the namespace's own record.
      console.error("strata api: could not record an idempotent response", err);
    }
  }
  return response;
}
