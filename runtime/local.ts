/**
 * The local deployment's services (`npm start`, the HTTP tests): SQLite metadata in a home
 * directory, the configured volumes registered as volume records (docs/placement.md), the one
 * volume registry over them with presigners (local-directory volumes: URLs served by this
 * process's blob route; GCS: the configured signing account), placement, and the token service.
 * functions/local/deployment.ts serves them over HTTP with timers; functions/local/main.ts is
 * `npm start`.
 */
import { join } from "node:path";
import { CreateBucketCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { BlobServiceClient } from "@azure/storage-blob";
import { Storage, type StorageOptions } from "@google-cloud/storage";
import { fileKeyRing, type KeySource, secureHome } from "../adapters/auth/keys.ts";
import { TokenService } from "../adapters/auth/tokens.ts";
import { installNativeCrc32c } from "../adapters/crc32c-native.ts";
import { nodeSha256 } from "../adapters/data/sha256.ts";
import { registerVolumes, type VolumeConfig } from "../adapters/data/volumes.ts";
import { SqliteMetadataStore } from "../adapters/metadata/sqlite.ts";
import type { GcsSigningCredential } from "../adapters/presign/gcs.ts";
import type { LocalBlobSigner } from "../adapters/presign/local.ts";
import { strataError } from "../core/errors.ts";
import { createNamespace } from "../core/namespace/index.ts";
import type { Volume } from "../core/volume/volume.ts";
import { openPlacement, type PlacementServices, type Schedules, type Services } from "./services.ts";

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

export interface LocalServicesOptions {
  /** Directory of metadata.db and the token key file (made 0700; metadata.db 0600). */
  home: string;
  /** The token signing keys (default: `<home>/token-keys`, adapters/auth/keys.ts). */
  keys?: KeySource;
  volumes: Record<string, LocalVolumeSpec>;
  defaultVolume: string;
  site?: string;
  chunkSize?: number;
  inlineThreshold?: number;
  /** Create missing PFSs for deployment-admin tokens (default true: it is the user's own deployment). */
  autoCreatePfs?: boolean;
  presignTtlSeconds?: number;
  clock?: () => number;
  /** Create missing buckets / containers (stand-ins start empty). Default true. */
  createContainers?: boolean;
  /** Placement's trim grace (default 60 s). */
  graceMs?: number;
  /** Signs GCS URLs of GCS volumes added at runtime (`volume.add`); configured ones use their spec's signer. */
  gcsSigner?: GcsSigningCredential;
  /** The server's base URL, known after it listens (local-directory volume URLs point there). */
  endpoint: () => string;
  /** The deployment's timers (`services.schedules`). */
  schedules?: Schedules;
}

export interface LocalServices {
  services: Services & { placement: PlacementServices };
  /** What startup registered: new records, existing ones, and configured volumes whose record differs (the record wins). */
  registration: { added: string[]; existing: string[]; conflicts: string[] };
  /** The blob route's signer (URLs signed with a key derived from the token keys). */
  blobSigner: LocalBlobSigner;
  /** A local-directory volume by name (records added at runtime included), for the blob route. */
  localVolume(name: string): Promise<Volume | undefined>;
  /** Stop placement and release the volumes, then the store. */
  close(): Promise<void>;
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

/** SAS URLs need the account key: an Azure volume without it fails at startup, not per request. */
function checkAccountKey(connectionString: string): void {
  const field = (name: string) => new RegExp(`(?:^|;)${name}=([^;]+)`).exec(connectionString)?.[1];
  if (!field("AccountName") || !field("AccountKey"))
    throw strataError(
      "EINVAL",
      "an Azure volume needs AccountName and AccountKey in its connection string to sign SAS URLs",
    );
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
    checkAccountKey(spec.connectionString);
    await BlobServiceClient.fromConnectionString(spec.connectionString)
      .getContainerClient(spec.container)
      .createIfNotExists();
  }
}

export async function openLocalServices(options: LocalServicesOptions): Promise<LocalServices> {
  installNativeCrc32c();
  const clock = options.clock ?? Date.now;
  await secureHome(options.home);
  const store = new SqliteMetadataStore({ path: join(options.home, "metadata.db") });
  const cleanups: Array<() => Promise<void>> = [() => store.close()];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
  try {
    const tokens = await TokenService.open(store, options.keys ?? fileKeyRing(options.home), clock);
    const namespace = createNamespace({ store, clock });
    const gcsSigners: Record<string, GcsSigningCredential> = {};
    for (const [name, spec] of Object.entries(options.volumes))
      if (spec.kind === "gcs") gcsSigners[name] = spec.signer.credential;
    if (options.gcsSigner) gcsSigners["*"] = options.gcsSigner;
    // Blob URLs are signed with a key derived from the token keys: rotated and retired with them.
    const blobSigner: LocalBlobSigner = {
      key: (keyId?: string) => tokens.derivedKey("local-blob-urls", keyId),
      clock,
    };
    // The volume registry over the records, and the data plane over it with objectives.
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
      graceMs: options.graceMs,
      urls: { localUrls: { endpoint: options.endpoint, signer: blobSigner }, gcsSigners },
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
    await placement.registry.handles(); // every record's driver and presigner: bad settings fail at startup
    const services: Services & { placement: PlacementServices } = {
      namespace,
      data: placement.data,
      store,
      tokens,
      volumes: placement.registry,
      placement,
      sha256: nodeSha256,
      clock,
      deployment: { name: "local", site: options.site, startedAt: clock(), runtime: "local" },
      autoCreatePfs: options.autoCreatePfs ?? true,
      presignTtlSeconds: options.presignTtlSeconds,
      ...(options.schedules ? { schedules: options.schedules } : {}),
    };
    return {
      services,
      registration,
      blobSigner,
      async localVolume(name) {
        const record = (await placement.registry.list()).find((r) => r.name === name);
        return record?.kind === "local" ? placement.registry.volume(name) : undefined;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
