/**
 * `client.admin` of the embedded deployment (`connect({ local })`): the operation registry run
 * in-process, as a deployment administrator (`"*"` admin), over the deployment's own store and
 * volume — tokens, status, PFSs and every registry operation by name (`admin.call`), exactly as
 * the HTTP API runs them but with no server and no token. Whoever can open the directory already
 * owns everything in it, so there is nothing to authenticate.
 *
 * No presigned URLs: an embedded client moves bytes through its own data plane, so the byte
 * operations (`upload.chunks`, `fs.read` sources) answer ENOTSUP here.
 */
import { TokenService } from "../../adapters/auth/tokens.ts";
import { nodeSha256 } from "../../adapters/data/sha256.ts";
import type { EmbeddedDeployment } from "../../adapters/embedded.ts";
import type { Presigner } from "../../adapters/presign/presigner.ts";
import { strataError } from "../../core/errors.ts";
import type { CreatedToken, StrataAdmin, TokenInfo, TokenSpec } from "../../sdk/types.ts";
import type { Principal } from "../api/auth.ts";
import type { Services } from "../api/services.ts";

/** Who embedded admin calls run as: the deployment's administrator. */
export const EMBEDDED_ADMIN: Principal = {
  tokenId: "embedded",
  pfs: "*",
  prefix: "/",
  rights: ["admin"],
  expiresAt: 8.64e15, // the latest time a Date can hold: never expires
};

const noUrls: Presigner = {
  presign: async (request) => {
    throw strataError(
      "ENOTSUP",
      "the embedded deployment has no server to serve presigned URLs; read and write through the client",
      { key: request.key },
    );
  },
};

async function servicesOf(d: EmbeddedDeployment): Promise<Services> {
  const clock = Date.now;
  return {
    namespace: d.namespace,
    data: d.data,
    store: d.store,
    tokens: await TokenService.open(d.store, clock),
    volumes: Object.fromEntries(
      Object.entries(d.volumes).map(([name, v]) => [name, { ...v, kind: "local", presigner: noUrls }]),
    ),
    sha256: nodeSha256,
    clock,
    deployment: { name: `embedded ${d.dir}`, site: d.site, startedAt: clock(), runtime: "local" },
    autoCreatePfs: true,
  };
}

/**
 * The admin of an embedded deployment; PFS-scoped operations run on the input's `pfs`, else on
 * `defaultPfs` (the client's). The registry is loaded on the first call, so a client that never
 * administers never loads it.
 */
export function embeddedAdmin(d: EmbeddedDeployment, defaultPfs: string): StrataAdmin {
  let services: Promise<Services> | undefined;
  const call = async <T>(op: string, input: Record<string, unknown>): Promise<T> => {
    const { invoke } = await import("../api/handle.ts");
    const { registry } = await import("../api/registry.ts");
    services ??= servicesOf(d);
    const { pfs, ...rest } = input ?? {};
    const scope = registry.get(op)?.scope;
    const target = scope === "pfs" ? (typeof pfs === "string" ? pfs : defaultPfs) : undefined;
    const args = scope === "pfs" ? rest : input;
    return (await invoke(await services, EMBEDDED_ADMIN, op, args, target ? { pfs: target } : {})) as T;
  };
  return {
    listPfs: () => d.namespace.listPfs(),
    createPfs: (name) => d.namespace.createPfs(name),
    deletePfs: (name) => d.namespace.deletePfs(name),
    createToken: (spec: TokenSpec) => call<CreatedToken>("token.create", { ...spec }),
    listTokens: async () => (await call<{ tokens: TokenInfo[] }>("token.list", {})).tokens,
    revokeToken: async (id) => {
      await call("token.revoke", { id });
    },
    status: () => call("status", {}),
    call,
  };
}
