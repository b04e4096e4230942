/**
 * A whole API deployment in this process: SQLite metadata, the configured volumes with their
 * presigners, the token service, the local HTTP server. `npm start` (main.ts) and the HTTP tests
 * build theirs with this.
 */
import { join } from "node:path";
import { CreateBucketCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { Storage, type StorageOptions } from "@google-cloud/storage";
import { TokenService } from "../../adapters/auth/tokens.ts";
import { installNativeCrc32c } from "../../adapters/crc32c-native.ts";
import { nodeSha256 } from "../../adapters/data/sha256.ts";
import { openVolumes } from "../../adapters/data/volumes.ts";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { AzurePresigner } from "../../adapters/presign/azure.ts";
import { GcsPresigner, type GcsSigningCredential } from "../../adapters/presign/gcs.ts";
import { LocalPresigner } from "../../adapters/presign/local.ts";
import type { Presigner } from "../../adapters/presign/presigner.ts";
import { S3Presigner } from "../../adapters/presign/s3.ts";
import { createDataPlane } from "../../core/data/index.ts";
import { strataError } from "../../core/errors.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import type { Volume } from "../../core/volume/volume.ts";
import type { ApiVolume, Services } from "../api/services.ts";
import { scheduleMirrors } from "../mirror/run.ts";
import { scheduleMaintenance } from "../schedule/maintenance.ts";
import { intervalsFromEnv, type ScheduleIntervals, timerSchedules } from "./schedules.ts";
import { type LocalServer, startLocalServer } from "./server.ts";

/** One volume of a local deployment (the kinds whose URLs can be presigned). */
export type LocalVolumeSpec = { site?: string; cost?: number } & (
  | { kind: "local"; root: string }
  | { kind: "s3"; bucket: string; clientConfig: S3ClientConfig; prefix?: string }
  | { kind: "azure"; connectionString: string; container: string; prefix?: string }
  | {
      kind: "gcs";
      bucket: string;
      /** The driver's client options (endpoint, credentials). */
      storageOptions: StorageOptions;
      /** Service account that signs V4 URLs, and where the URLs point. */
      signer: { credential: GcsSigningCredential; apiEndpoint?: string };
      prefix?: string;
    }
);

export interface LocalDeploymentOptions {
  /** Directory of metadata.db. */
  home: string;
  volumes: Record<string, LocalVolumeSpec>;
  defaultVolume: string;
  port: number;
  site?: string;
  chunkSize?: number;
  inlineThreshold?: number;
  /** Create missing PFSs for deployment-admin tokens (default true: it is the user's own deployment). */
  autoCreatePfs?: boolean;
  presignTtlSeconds?: number;
  clock?: () => number;
  /** Create missing buckets / containers (stand-ins start empty). Default true. */
  createContainers?: boolean;
  /** Vacuum / scrub / mirror intervals (0 = off); default from the environment (./schedules.ts). */
  schedules?: ScheduleIntervals;
}

export interface LocalDeployment {
  readonly endpoint: string;
  readonly services: Services;
  readonly server: LocalServer;
  /** Stop the server (draining in-flight requests), the schedules, the volumes and the store. */
  stop(): Promise<void>;
}

function accountKeyOf(connectionString: string): StorageSharedKeyCredential {
  const field = (name: string) => new RegExp(`(?:^|;)${name}=([^;]+)`).exec(connectionString)?.[1];
  const account = field("AccountName");
  const key = field("AccountKey");
  if (!account || !key)
    throw strataError(
      "EINVAL",
      "an Azure volume needs AccountName and AccountKey in its connection string to sign SAS URLs",
    );
  return new StorageSharedKeyCredential(account, key);
}

export async function startLocalDeployment(options: LocalDeploymentOptions): Promise<LocalDeployment> {
  installNativeCrc32c();
  const clock = options.clock ?? Date.now;
  const store = new SqliteMetadataStore({ path: join(options.home, "metadata.db") });
  const cleanups: Array<() => Promise<void>> = [() => store.close()];
  try {
    const tokens = await TokenService.open(store, clock);
    const blobKey = await tokens.deriveKey("local-blob-urls");
    let endpoint = "";
    const registry = openVolumes(
      Object.fromEntries(
        Object.entries(options.volumes).map(([name, spec]) => {
          const placement = { site: spec.site, cost: spec.cost };
          if (spec.kind === "local") return [name, { ...placement, kind: "local", root: spec.root }];
          if (spec.kind === "s3")
            return [
              name,
              {
                ...placement,
                kind: "s3",
                bucket: spec.bucket,
                prefix: spec.prefix,
                clientConfig: spec.clientConfig,
                // Stand-in settings; harmless against real S3 (slower create-only, own CRC).
                conditionalWrites: false,
                nativeChecksums: false,
              },
            ];
          if (spec.kind === "gcs")
            return [
              name,
              {
                ...placement,
                kind: "gcs",
                bucket: spec.bucket,
                prefix: spec.prefix,
                storageOptions: spec.storageOptions,
              },
            ];
          return [
            name,
            {
              ...placement,
              kind: "azure",
              connectionString: spec.connectionString,
              container: spec.container,
              prefix: spec.prefix,
            },
          ];
        }),
      ) as Parameters<typeof openVolumes>[0],
    );
    cleanups.push(() => registry.close());
    const volumes: Record<string, ApiVolume> = {};
    const localVolumes: Record<string, Volume> = {};
    for (const [name, spec] of Object.entries(options.volumes)) {
      let presigner: Presigner;
      if (spec.kind === "local") {
        presigner = new LocalPresigner(name, () => endpoint, { key: blobKey, clock });
        localVolumes[name] = registry.volumes[name]!.volume;
      } else if (spec.kind === "s3") {
        const client = new S3Client(spec.clientConfig);
        cleanups.push(async () => client.destroy());
        if (options.createContainers !== false)
          await client
            .send(new CreateBucketCommand({ Bucket: spec.bucket }))
            .catch((err: { name?: string }) => {
              if (err.name !== "BucketAlreadyOwnedByYou" && err.name !== "BucketAlreadyExists") throw err;
            });
        presigner = new S3Presigner({ client, bucket: spec.bucket, prefix: spec.prefix });
      } else if (spec.kind === "gcs") {
        if (options.createContainers !== false)
          await new Storage(spec.storageOptions)
            .bucket(spec.bucket)
            .create()
            .catch((err: { code?: number }) => {
              if (err.code !== 409) throw err;
            });
        presigner = new GcsPresigner({
          bucket: spec.bucket,
          prefix: spec.prefix,
          credential: spec.signer.credential,
          apiEndpoint: spec.signer.apiEndpoint,
        });
      } else {
        const containerClient = BlobServiceClient.fromConnectionString(
          spec.connectionString,
        ).getContainerClient(spec.container);
        if (options.createContainers !== false) await containerClient.createIfNotExists();
        presigner = new AzurePresigner({
          containerClient,
          credential: accountKeyOf(spec.connectionString),
          prefix: spec.prefix,
        });
      }
      volumes[name] = { ...registry.volumes[name]!, kind: spec.kind, presigner };
    }
    const data = createDataPlane({
      store,
      volumes: registry.volumes,
      defaultVolume: options.defaultVolume,
      site: options.site,
      chunkSize: options.chunkSize,
      inlineThreshold: options.inlineThreshold,
      sha256: nodeSha256,
      clock,
    });
    const schedules = timerSchedules();
    cleanups.push(() => schedules.stop());
    const services: Services = {
      namespace: createNamespace({ store, clock }),
      data,
      store,
      tokens,
      volumes,
      sha256: nodeSha256,
      clock,
      deployment: { name: "local", site: options.site, startedAt: clock(), runtime: "local" },
      autoCreatePfs: options.autoCreatePfs ?? true,
      presignTtlSeconds: options.presignTtlSeconds,
      schedules,
    };
    // Vacuum (applying), scrub and every defined mirror (≤ 10 stream pages per run) on timers.
    const every = options.schedules ?? intervalsFromEnv();
    const cancels = scheduleMaintenance(services, {
      vacuumEveryMs: every.vacuumMs,
      scrubEveryMs: every.scrubMs,
    });
    if (every.vacuumMs === 0) cancels[0]?.();
    if (every.scrubMs === 0) cancels[1]?.();
    if (every.mirrorMs > 0) scheduleMirrors(services, every.mirrorMs);
    const server = await startLocalServer(services, {
      port: options.port,
      blobs: { volumes: localVolumes, signer: { key: blobKey, clock } },
    });
    endpoint = server.endpoint;
    let stopped: Promise<void> | undefined;
    return {
      endpoint,
      services,
      server,
      stop() {
        stopped ??= (async () => {
          await server.stop();
          for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
        })();
        return stopped;
      },
    };
  } catch (err) {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    throw err;
  }
}
