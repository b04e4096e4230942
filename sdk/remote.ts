/**
 * The remote {@link Deployment}: the same `Strata` client (sdk/client.ts) over strata's HTTP API.
 * Namespace calls are RPCs (`POST /v1/pfs/{pfs}/ops/{op}`, sdk/remote/rpc.ts and fs.ts); file
 * bytes go straight between this process and the volumes by presigned URL (sdk/remote/data.ts,
 * docs/http-api.md "Bytes").
 *
 * @example
 * const client = await connect({ endpoint: "http://127.0.0.1:7070", token, pfs: "default" });
 */
import { strataError } from "../core/errors.ts";
import type { Deployment } from "./client.ts";
import { RemoteDataPlane } from "./remote/data.ts";
import { RemoteNamespace } from "./remote/fs.ts";
import { allPages, Rpc } from "./remote/rpc.ts";
import type { CreatedToken, StrataAdmin, TokenInfo, TokenSpec } from "./types.ts";

export interface RemoteDeploymentOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:7070 */
  endpoint: string;
  token?: string;
  /** PFS that `admin.call` uses for PFS-scoped operations when the input names none. */
  pfs?: string;
  /** Chunks uploaded / downloaded at once per call (default 4). */
  parallelism?: number;
  /**
   * Retries of one API call after a network failure or a retryable answer (429, 503, 504), with
   * the call's Idempotency-Key (default 3).
   */
  retries?: number;
  /**
   * TEST-ONLY switch (counter-checks): false sends no Idempotency-Key, so a retried mutating call
   * runs twice. Default true.
   */
  idempotencyKeys?: boolean;
}

function remoteAdmin(rpc: Rpc, namespace: RemoteNamespace): StrataAdmin {
  return {
    listPfs: () => namespace.listPfs(),
    createPfs: (name) => namespace.createPfs(name),
    deletePfs: (name) => namespace.deletePfs(name),
    createToken: (spec: TokenSpec) => rpc.call<CreatedToken>("token.create", spec),
    listTokens: () =>
      allPages(
        (cursor) => rpc.call<{ tokens: TokenInfo[]; next?: string }>("token.list", { cursor }),
        (p) => p.tokens,
      ),
    revokeToken: async (id) => {
      await rpc.call("token.revoke", { id });
    },
    status: () => rpc.call("status", {}),
    call: (op, input) => rpc.call(op, input),
  };
}

/** A {@link Deployment} over HTTP; `createClient(remoteDeployment(…), pfs)` is `connect({ endpoint })`. */
export function remoteDeployment(options: RemoteDeploymentOptions): Deployment {
  if (typeof options.endpoint !== "string" || !/^https?:\/\//.test(options.endpoint))
    throw strataError("EINVAL", "connect({ endpoint }) needs an http(s) URL", { endpoint: options.endpoint });
  const rpc = new Rpc(
    options.endpoint.replace(/\/+$/, ""),
    options.token,
    options.pfs ?? "default",
    options.retries ?? 3,
    options.idempotencyKeys ?? true,
  );
  const namespace = new RemoteNamespace(rpc);
  return {
    namespace,
    data: new RemoteDataPlane(options.parallelism ?? 4),
    openPfs: async (name) => namespace.pfs(name),
    close: async () => {},
    admin: remoteAdmin(rpc, namespace),
  };
}
