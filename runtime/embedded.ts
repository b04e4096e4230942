/**
 * The embedded deployment behind `connect({ local: dir })`: everything in one directory, in this
 * process, no server and no cloud account. The SDK reaches it only through this entry point
 * (sdk/connect.ts loads it on demand), so a remote-only client never loads SQLite or the adapters.
 *
 * ```
 * <dir>/                   mode 0700
 * <dir>/metadata.db        the namespace and chunk records (SQLite, DynamoDB semantics), 0600
 * <dir>/token-keys         token signing keys (0600, made on first `client.admin` token call)
 * <dir>/volumes/local/     file chunks (the local volume "local", the default volume)
 * ```
 *
 * PFSs are created on first use (the directory is the user's own deployment). Several clients —
 * in this process or in others — may open the same directory: SQLite serialises their writes.
 *
 * `client.admin` ({@link embeddedAdmin}) runs the operation registry in-process, as a deployment
 * administrator (`"*"` admin), over the deployment's own store and volumes — tokens, status, PFSs
 * and every registry operation by name (`admin.call`), exactly as the HTTP API runs them but with
 * no server and no token: whoever can open the directory already owns everything in it. No
 * presigned URLs: an embedded client moves bytes through its own data plane, so the byte
 * operations (`upload.chunks`, `fs.read` sources) answer ENOTSUP here.
 *
 * Placement (docs/placement.md): {@link embeddedDeployment} opens it over the directory's store —
 * the local volume registered as a volume record (idempotent, every open), the client's data plane
 * built over the volume registry (objectives decide where writes go; volumes added with
 * `volume.add` are read and written without reopening) — so `volume.*`, `objective.*` and
 * `placement.*` work. The placement worker (change feed poller, sweeper) starts on the first
 * `client.admin` call, not at open: a client that never administers polls nothing.
 *
 * The one edge of the runtime into functions/: `client.admin` loads the operation registry
 * (functions/api/handle.ts, registry.ts) on its first call, as the HTTP entry points do.
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileKeyRing, secureHome } from "../adapters/auth/keys.ts";
import { TokenService } from "../adapters/auth/tokens.ts";
import { installNativeCrc32c } from "../adapters/crc32c-native.ts";
import { nodeSha256 } from "../adapters/data/sha256.ts";
import { registerVolumes } from "../adapters/data/volumes.ts";
import { SqliteMetadataStore } from "../adapters/metadata/sqlite.ts";
import { LocalVolumeDriver } from "../adapters/volumes/local.ts";
import type { Principal } from "../core/auth/scope.ts";
import { createDataPlane } from "../core/data/index.ts";
import type { DataPlaneAdmin } from "../core/data/plane.ts";
import { isStrataError, strataError } from "../core/errors.ts";
import type { MetadataStore } from "../core/metadata/port.ts";
import type { FileSystem } from "../core/namespace/api.ts";
import { createNamespace } from "../core/namespace/index.ts";
import { fixedRegistry, noUrls, type VolumeRegistry } from "../core/volume/registry.ts";
import { Volume } from "../core/volume/volume.ts";
import { createClient, type Deployment } from "../sdk/client.ts";
import type { CreatedToken, Strata, StrataAdmin, TokenInfo, TokenSpec } from "../sdk/types.ts";
import { openPlacement, type PlacementServices, type Services } from "./services.ts";

export interface EmbeddedOptions {
  /** The deployment's directory (created if missing). */
  dir: string;
  /** The reader's site name: chunk instances on volumes of this site are read first. */
  site?: string;
  /** Chunk size in bytes (default: the data plane's). */
  chunkSize?: number;
  /** Files up to this many bytes live inline in metadata (default: the data plane's, 4 KiB). */
  inlineThreshold?: number;
}

/** The embedded deployment plus its parts, for what runs in-process over the same store and volumes. */
export interface EmbeddedDeployment extends Deployment {
  readonly dir: string;
  readonly store: MetadataStore;
  readonly data: Deployment["data"] & DataPlaneAdmin;
  /** The volumes: the local one (with placement: the registry over the volume records). */
  readonly volumes: VolumeRegistry;
  readonly site?: string;
}

/** The name of the embedded deployment's one configured volume. */
export const LOCAL_VOLUME = "local";

/** Why an embedded deployment hands out no URLs (ENOTSUP). */
const NO_URLS =
  "the embedded deployment has no server to serve presigned URLs; read and write through the client";

/**
 * Open (creating if needed) the deployment in `options.dir`, without placement or admin.
 * `connect({ local })` opens it through {@link embeddedDeployment}; call this directly to tune the
 * data plane (e.g. a small chunk size in tests).
 *
 * @example
 * const client = createClient(await openEmbedded({ dir: "./data", chunkSize: 64 * 1024 }), "default");
 */
export async function openEmbedded(options: EmbeddedOptions): Promise<EmbeddedDeployment> {
  if (typeof options.dir !== "string" || options.dir.length === 0) {
    throw strataError("EINVAL", "connect({ local }) needs a directory path", { dir: options.dir });
  }
  installNativeCrc32c();
  const dir = resolve(options.dir);
  const volumeRoot = join(dir, "volumes", LOCAL_VOLUME);
  try {
    await secureHome(dir); // 0700, metadata.db 0600 (the token key file is made 0600 beside it)
    await mkdir(volumeRoot, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw strataError(
      code === "EACCES" || code === "EPERM" ? "EACCES" : "EIO",
      `cannot create the deployment directory ${volumeRoot}: ${(err as Error).message}`,
      { dir },
      err,
    );
  }
  const store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
  const namespace = createNamespace({ store });
  const volume = new Volume(new LocalVolumeDriver({ name: LOCAL_VOLUME, root: volumeRoot }));
  const volumes = fixedRegistry({
    [LOCAL_VOLUME]: {
      volume,
      kind: "local",
      presigner: noUrls(LOCAL_VOLUME, NO_URLS),
      ...(options.site !== undefined ? { site: options.site } : {}),
    },
  });
  const data = createDataPlane({
    store,
    volumes: { [LOCAL_VOLUME]: { volume, site: options.site } },
    defaultVolume: LOCAL_VOLUME,
    site: options.site,
    chunkSize: options.chunkSize,
    inlineThreshold: options.inlineThreshold,
    sha256: nodeSha256,
  });
  const opened = new Map<string, Promise<FileSystem>>();
  let closed: Promise<void> | undefined;

  const openPfs = (name: string): Promise<FileSystem> => {
    if (closed) {
      return Promise.reject(
        strataError("EUNAVAIL", `the deployment in ${dir} is closed`, { dir, pfs: name }),
      );
    }
    let fs = opened.get(name);
    if (!fs) {
      fs = (async () => {
        try {
          await namespace.createPfs(name);
        } catch (err) {
          if (!isStrataError(err, "EEXIST")) throw err; // created earlier (or by another client)
        }
        return namespace.pfs(name);
      })();
      opened.set(name, fs);
      fs.catch(() => opened.delete(name));
    }
    return fs;
  };

  return {
    dir,
    store,
    volumes,
    site: options.site,
    namespace,
    data,
    openPfs,
    close() {
      closed ??= store.close();
      return closed;
    },
  };
}

/** Who embedded admin calls run as: the deployment's administrator. */
export const EMBEDDED_ADMIN: Principal = {
  tokenId: "embedded",
  pfs: "*",
  prefix: "/",
  rights: ["admin"],
  expiresAt: 8.64e15, // the latest time a Date can hold: never expires
};

async function servicesOf(d: EmbeddedDeployment, placement?: PlacementServices): Promise<Services> {
  const clock = Date.now;
  return {
    namespace: d.namespace,
    data: placement?.data ?? d.data,
    ...(placement ? { placement } : {}),
    store: d.store,
    tokens: await TokenService.open(d.store, fileKeyRing(d.dir), clock),
    volumes: placement?.registry ?? d.volumes,
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
    const { invoke } = await import("../functions/api/handle.ts");
    const { registry } = await import("../functions/api/registry.ts");
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
 * the volume registry (with objectives), `client.admin` with placement, and a `close` that stops
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
    urls: { none: NO_URLS },
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
    volumes: placement.registry,
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

/** `connect({ local })`: the embedded deployment in `options.local`, as a client of its PFS. */
export async function connectLocal(
  // sdk/connect.ts `LocalConnectOptions` (not imported: connect.ts loads this module).
  options: { local: string; pfs?: string; site?: string },
  defaultPfs: string,
): Promise<Strata> {
  const pfs = options.pfs ?? defaultPfs;
  const deployment = await openEmbedded({ dir: options.local, site: options.site });
  // client.admin: the operation registry in-process, as the deployment's administrator; the
  // data plane over the volume registry, with placement.
  return createClient(await embeddedDeployment(deployment, pfs), pfs);
}
