/**
 * The embedded deployment behind `connect({ local: dir })`: everything in one directory, in this
 * process, no server and no cloud account.
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
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createDataPlane } from "../core/data/index.ts";
import type { DataPlaneAdmin, VolumeEntry } from "../core/data/plane.ts";
import { isStrataError, strataError } from "../core/errors.ts";
import type { MetadataStore } from "../core/metadata/port.ts";
import type { FileSystem } from "../core/namespace/api.ts";
import { createNamespace } from "../core/namespace/index.ts";
import { Volume } from "../core/volume/volume.ts";
import type { Deployment } from "../sdk/client.ts";
import { secureHome } from "./auth/keys.ts";
import { installNativeCrc32c } from "./crc32c-native.ts";
import { nodeSha256 } from "./data/sha256.ts";
import { SqliteMetadataStore } from "./metadata/sqlite.ts";
import { LocalVolumeDriver } from "./volumes/local.ts";

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

/**
 * The embedded deployment plus its parts, for what runs in-process over the same store and volume
 * (the operation registry behind `client.admin`: functions/local/embedded-admin.ts).
 */
export interface EmbeddedDeployment extends Deployment {
  readonly dir: string;
  readonly store: MetadataStore;
  readonly data: Deployment["data"] & DataPlaneAdmin;
  readonly volumes: Record<string, VolumeEntry>;
  readonly site?: string;
}

/** The name of the embedded deployment's one volume. */
export const LOCAL_VOLUME = "local";

/**
 * Open (creating if needed) the deployment in `options.dir`. `connect({ local })` calls this;
 * call it directly to tune the data plane (e.g. a small chunk size in tests).
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
  const volumes = { [LOCAL_VOLUME]: { volume, site: options.site } };
  const data = createDataPlane({
    store,
    volumes,
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
