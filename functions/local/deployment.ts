/**
 * A whole API deployment in this process: SQLite metadata, the configured volumes registered as
 * volume records (docs/placement.md) with presigners that follow the records, placement (data
 * plane with objectives, the orchestrator and its in-process workflows), the token service, the
 * local HTTP server. `npm start` (main.ts) and the HTTP tests build theirs with this.
 */
import { join } from "node:path";
import { CreateBucketCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { Storage, type StorageOptions } from "@google-cloud/storage";
import { fileKeyRing, type KeySource, secureHome } from "../../adapters/auth/keys.ts";
import { TokenService } from "../../adapters/auth/tokens.ts";
import { installNativeCrc32c } from "../../adapters/crc32c-native.ts";
import { nodeSha256 } from "../../adapters/data/sha256.ts";
import { registerVolumes, type VolumeConfig } from "../../adapters/data/volumes.ts";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import type { GcsSigningCredential } from "../../adapters/presign/gcs.ts";
import { openRecordApiVolumes } from "../../adapters/presign/records.ts";
import { openPlacement } from "../../adapters/workflows/placement.ts";
import { strataError } from "../../core/errors.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import type { ApiVolume, Services } from "../api/services.ts";
import { scheduleMirrors } from "../mirror/run.ts";
import { scheduleMaintenance } from "../schedule/maintenance.ts";
import { intervalsFromEnv, type ScheduleIntervals, timerSchedules } from "./schedules.ts";
import { type LocalServer, startLocalServer } from "./server.ts";

/** One volume of a local deployment (the kinds whose URLs can be presigned), with its record's attributes. */
export type LocalVolumeSpec = { site?: string; cost?: number; cloud?: string; class?: string } & (
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
  /** Directory of metadata.db and the token key file (made 0700; metadata.db 0600). */
  home: string;
  /** The token signing keys (default: `<home>/token-keys`, adapters/auth/keys.ts). */
  keys?: KeySource;
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
  /** Placement tuning: trim grace (default 60 s), change-feed poll (250 ms), sweep interval (5 min; 0 = off). */
  placement?: { graceMs?: number; pollMs?: number; sweepEveryMs?: number };
  /** Signs GCS URLs of GCS volumes added at runtime (`volume.add`); configured ones use their spec's signer. */
  gcsSigner?: GcsSigningCredential;
}

export interface LocalDeployment {
  readonly endpoint: string;
  readonly services: Services;
  readonly server: LocalServer;
  /** What startup registered: new records, existing ones, and configured volumes whose record differs (the record wins). */
  readonly registration: { added: string[]; existing: string[]; conflicts: string[] };
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

/** A spec's driver settings as a volume record holds them (plain JSON, no undefined fields). */
function recordSettings(spec: LocalVolumeSpec): VolumeConfig & { cloud?: string; class?: string } {
  const attributes = { site: spec.site, cost: spec.cost, cloud: spec.cloud, class: spec.class };
  let settings: Record<string, unknown>;
  if (spec.kind === "local") settings = { kind: "local", root: spec.root };
  else if (spec.kind === "s3")
    settings = {
      kind: "s3",
      bucket: spec.bucket,
      prefix: spec.prefix,
      clientConfig: spec.clientConfig,
      // Stand-in settings; harmless against real S3 (slower create-only, own CRC).
      conditionalWrites: false,
      nativeChecksums: false,
    };
  else if (spec.kind === "gcs")
    settings = { kind: "gcs", bucket: spec.bucket, prefix: spec.prefix, storageOptions: spec.storageOptions };
  else
    settings = {
      kind: "azure",
      connectionString: spec.connectionString,
      container: spec.container,
      prefix: spec.prefix,
    };
  // JSON round trip: drops undefined fields (records hold JSON values only).
  return JSON.parse(JSON.stringify({ ...settings, ...attributes }));
}

/** Stand-ins start empty: make the configured volumes' buckets and containers (exists = fine). */
async function createContainer(spec: LocalVolumeSpec): Promise<void> {
  if (spec.kind === "s3") {
    const client = new S3Client(spec.clientConfig);
    try {
      await client.send(new CreateBucketCommand({ Bucket: spec.bucket })).catch((err: { name?: string }) => {
        if (err.name !== "BucketAlreadyOwnedByYou" && err.name !== "BucketAlreadyExists") throw err;
      });
    } finally {
      client.destroy();
    }
  } else if (spec.kind === "gcs") {
    await new Storage(spec.storageOptions)
      .bucket(spec.bucket)
      .create()
      .catch((err: { code?: number }) => {
        if (err.code !== 409) throw err;
      });
  } else if (spec.kind === "azure") {
    accountKeyOf(spec.connectionString); // SAS URLs need the account key: fail at startup, not per request
    await BlobServiceClient.fromConnectionString(spec.connectionString)
      .getContainerClient(spec.container)
      .createIfNotExists();
  }
}

export async function startLocalDeployment(options: LocalDeploymentOptions): Promise<LocalDeployment> {
  installNativeCrc32c();
  const clock = options.clock ?? Date.now;
  await secureHome(options.home);
  const store = new SqliteMetadataStore({ path: join(options.home, "metadata.db") });
  const cleanups: Array<() => Promise<void>> = [() => store.close()];
  try {
    const tokens = await TokenService.open(store, options.keys ?? fileKeyRing(options.home), clock);
    let endpoint = "";
    const namespace = createNamespace({ store, clock });
    // The data plane over the volume records, with objectives deciding where new chunks go.
    const placement = openPlacement({
      store,
      namespace,
      defaultVolume: options.defaultVolume,
      data: {
        site: options.site,
        chunkSize: options.chunkSize,
        inlineThreshold: options.inlineThreshold,
        sha256: nodeSha256,
      },
      graceMs: options.placement?.graceMs,
      clock,
    });
    cleanups.push(() => placement.close()); // cleanups run in reverse: before the store closes
    if (options.createContainers !== false)
      for (const spec of Object.values(options.volumes)) await createContainer(spec);
    // Every startup (idempotent): the configured volumes become records; records win on conflict.
    const registration = await registerVolumes(
      placement.volumes,
      Object.fromEntries(Object.entries(options.volumes).map(([name, spec]) => [name, recordSettings(spec)])),
    );
    const gcsSigners: Record<string, GcsSigningCredential> = {};
    for (const [name, spec] of Object.entries(options.volumes))
      if (spec.kind === "gcs") gcsSigners[name] = spec.signer.credential;
    if (options.gcsSigner) gcsSigners["*"] = options.gcsSigner;
    // Blob URLs are signed with a key derived from the token keys: rotated and retired with them.
    const blobSigner = { key: (keyId?: string) => tokens.derivedKey("local-blob-urls", keyId), clock };
    const apiVolumes = openRecordApiVolumes({
      records: placement.records,
      localUrls: { endpoint: () => endpoint, signer: blobSigner },
      gcsSigners,
    });
    cleanups.push(() => apiVolumes.close());
    const volumes: Record<string, ApiVolume> = await apiVolumes.volumes();
    const data = placement.data;
    const schedules = timerSchedules();
    cleanups.push(() => schedules.stop());
    const services: Services = {
      namespace,
      data,
      store,
      tokens,
      volumes,
      apiVolumes: () => apiVolumes.volumes(),
      placement,
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
      blobs: {
        // Local-directory volume records, including ones added at runtime.
        volumes: async (name) => {
          const record = (await placement.records.list()).find((r) => r.name === name);
          return record?.kind === "local" ? placement.records.volume(name) : undefined;
        },
        signer: blobSigner,
      },
    });
    endpoint = server.endpoint;
    // Tag, file, objective and volume changes → placement runs (docs/placement.md "Events").
    placement.orchestrator.start({
      pollMs: options.placement?.pollMs,
      sweepEveryMs: options.placement?.sweepEveryMs,
    });
    let stopped: Promise<void> | undefined;
    return {
      endpoint,
      services,
      server,
      registration,
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
