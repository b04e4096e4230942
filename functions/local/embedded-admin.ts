/**
 * `client.admin` of the embedded deployment (`connect({ local })`): the operation registry run
 * in-process, as a deployment administrator (`"*"` admin), over the deployment's own store and
 * volume — tokens, status, PFSs and every registry operation by name (`admin.call`), exactly as
 * the HTTP API runs them but with no server and no token. Whoever can open the directory already
 * owns everything in it, so there is nothing to authenticate.
 *
 * No presigned URLs: an embedded client moves bytes through its own data plane, so the byte
 * operations (`upload.chunks`, `fs.read` sources) answer ENOTSUP here.
 *
 * Placement (docs/placement.md): `embeddedDeployment` opens it over the directory's store — the
 * local volume registered as a volume record (idempotent, every open), the client's data plane
 * built over the records (objectives decide where writes go; volumes added with `volume.add` are
 * read and written without reopening) — so `volume.*`, `objective.*` and `placement.*` work. The
 * placement worker (change feed poller, sweeper) starts on the first `client.admin` call, not at
 * open: a client that never administers polls nothing.
 */
import { join } from "node:path";
import { fileKeyRing } from "../../adapters/auth/keys.ts";
import { TokenService } from "../../adapters/auth/tokens.ts";
import { nodeSha256 } from "../../adapters/data/sha256.ts";
import { registerVolumes } from "../../adapters/data/volumes.ts";
import { type EmbeddedDeployment, LOCAL_VOLUME } from "../../adapters/embedded.ts";
import type { Presigner } from "../../adapters/presign/presigner.ts";
import { openPlacement, type PlacementServices } from "../../adapters/workflows/placement.ts";
import type { CreatedToken, Principal, TokenInfo, TokenSpec } from "../../core/auth/scope.ts";
import { strataError } from "../../core/errors.ts";
import type { StrataAdmin } from "../../sdk/types.ts";
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

async function servicesOf(d: EmbeddedDeployment, placement?: PlacementServices): Promise<Services> {
  const clock = Date.now;
  return {
    namespace: d.namespace,
    data: placement?.data ?? d.data,
    ...(placement ? { placement } : {}),
    store: d.store,
    tokens: await TokenService.open(d.store, fileKeyRing(d.dir), clock),
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
export function embeddedAdmin(
  d: EmbeddedDeployment,
  defaultPfs: string,
  placement?: PlacementServices,
): StrataAdmin {
  let services: Promise<Services> | undefined;
  let started = false;
  const call = async <T>(op: string, input: Record<string, unknown>): Promise<T> => {
    const { invoke } = await import("../api/handle.ts");
    const { registry } = await import("../api/registry.ts");
    services ??= servicesOf(d, placement);
    if (placement && !started) {
      started = true;
      placement.orchestrator.start();
    }
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

/**
 * The embedded deployment as `connect({ local })` hands it to the client: the data plane over
 * the volume records (with objectives), `client.admin` with placement, and a `close` that stops
 * the placement worker and its drivers before the store.
 */
export async function embeddedDeployment(
  d: EmbeddedDeployment,
  defaultPfs: string,
): Promise<EmbeddedDeployment & { admin: StrataAdmin }> {
  const placement = openPlacement({
    store: d.store,
    namespace: d.namespace,
    defaultVolume: LOCAL_VOLUME,
    data: {
      site: d.site,
      chunkSize: d.data.chunkSize,
      inlineThreshold: d.data.inlineThreshold,
      sha256: nodeSha256,
    },
  });
  try {
    await registerVolumes(placement.volumes, {
      [LOCAL_VOLUME]: {
        kind: "local",
        root: join(d.dir, "volumes", LOCAL_VOLUME),
        ...(d.site !== undefined ? { site: d.site } : {}),
      },
    });
  } catch (err) {
    await placement.close();
    await d.close();
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    ...d,
    data: placement.data,
    admin: embeddedAdmin(d, defaultPfs, placement),
    close() {
      closed ??= (async () => {
        await placement.close();
        await d.close();
      })();
      return closed;
    },
  };
}
