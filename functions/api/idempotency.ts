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
 * - Errors are not recorded: a failed call changed nothing, so its retry simply runs again.
 */
import { createHash } from "node:crypto";
import { strataError } from "../../core/errors.ts";
import type { Item, MetadataStore } from "../../core/metadata/port.ts";
import { ttlAttribute } from "../../core/metadata/table.ts";
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
 * Run `run` once per (token, key): the first time for real, later with the recorded response.
 * `run` receives the key to hand to the namespace (unique per token and key).
 */
export async function idempotent(
  store: MetadataStore,
  clock: () => number,
  principal: Principal,
  request: IdempotentRequest,
  run: (namespaceKey: string) => Promise<ApiResponse>,
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
  const seen = await store.get(key);
  if (seen && Number(seen.expiresAt) >= Math.floor(now / 1000)) {
    if (seen.fp !== fingerprint)
      throw strataError(
        "EINVAL",
        `Idempotency-Key ${request.key} was already used for a different request; use a new key per call`,
        { idempotency: "mismatch", op: request.name },
      );
    return {
      status: Number(seen.status),
      headers: { ...(seen.headers as Record<string, string>), "idempotent-replayed": "true" },
      body: String(seen.body),
    };
  }
  // Two different tokens must not share namespace records: the namespace key is per token.
  const response = await run(hash64(`${principal.tokenId}\u0000${request.key}`) + hash64(request.key));
  if (response.status >= 200 && response.status < 300 && response.body.length <= MAX_RECORDED_BODY) {
    const item: Item = {
      ...key,
      fp: fingerprint,
      status: response.status,
      headers: response.headers,
      body: response.body,
      expiresAt: Math.floor((now + RECORD_TTL_MS) / 1000),
      ...ttlAttribute(now + RECORD_TTL_MS),
    };
    try {
      await store.put(item);
    } catch (err) {
      // The operation is done; a retry falls back to the namespace's own record (or re-runs).
      console.error("strata api: could not record an idempotent response", err);
    }
  }
  return response;
}
