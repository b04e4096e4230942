/**
 * The one place that turns a volume's kind and settings into a driver and a presigner (the
 * registry, core/volume/registry.ts, calls {@link openVolumeKind} per volume). Driver and
 * presigner of one volume share ONE SDK client (S3: the S3Client; Azure: the ContainerClient).
 * GCS is the exception: its URLs are signed locally with a service account that is not the
 * driver's credential, so the presigner keeps its own signing-only client (it sends no request).
 */
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import type { StorageOptions } from "@google-cloud/storage";
import { StrataError } from "../../core/errors.ts";
import type { VolumeDriver } from "../../core/volume/port.ts";
import type { Presigner } from "../../core/volume/presign.ts";
import { noUrls, type OpenedVolume, type VolumeDescription } from "../../core/volume/registry.ts";
import type { VolumeOptions } from "../../core/volume/volume.ts";
import { AzurePresigner } from "../presign/azure.ts";
import { GcsPresigner, type GcsSigningCredential } from "../presign/gcs.ts";
import { type LocalBlobSigner, LocalPresigner } from "../presign/local.ts";
import { S3Presigner } from "../presign/s3.ts";
import { AzureVolumeDriver, type AzureVolumeOptions } from "./azure.ts";
import { GcsVolumeDriver, type GcsVolumeOptions } from "./gcs.ts";
import { LocalVolumeDriver } from "./local.ts";
import { S3VolumeDriver, type S3VolumeOptions } from "./s3.ts";

/** What the reader weighs, common to every kind. */
export interface VolumePlacement {
  /** Site of the volume; readers of the same site read it first. */
  site?: string;
  /** Relative read cost (default 1); lower is preferred. */
  cost?: number;
  /** Retry settings of the `Volume` wrapper. */
  retry?: VolumeOptions["retry"];
}

/** One volume's settings; the driver options are those of the adapter (adapters/volumes/*.ts), minus `name`. */
export type VolumeConfig =
  | (VolumePlacement & { kind: "local"; root: string })
  | (VolumePlacement & { kind: "s3" } & Omit<S3VolumeOptions, "name">)
  | (VolumePlacement & { kind: "azure" } & Omit<AzureVolumeOptions, "name">)
  | (VolumePlacement & { kind: "gcs" } & Omit<GcsVolumeOptions, "name">)
  /** A driver built by the caller (tests, custom backends). */
  | (VolumePlacement & { kind: "driver"; driver: VolumeDriver });

/** The driver of one volume. EINVAL naming the volume for an unknown kind. */
export function driverFor(name: string, config: VolumeConfig): VolumeDriver {
  switch (config.kind) {
    case "local":
      return new LocalVolumeDriver({ name, root: config.root });
    case "s3": {
      const { kind: _k, site: _s, cost: _c, retry: _r, ...options } = config;
      return new S3VolumeDriver({ name, ...options });
    }
    case "azure": {
      const { kind: _k, site: _s, cost: _c, retry: _r, ...options } = config;
      return new AzureVolumeDriver({ name, ...options });
    }
    case "gcs": {
      const { kind: _k, site: _s, cost: _c, retry: _r, ...options } = config;
      return new GcsVolumeDriver({ name, ...options });
    }
    case "driver":
      return config.driver;
    default:
      throw new StrataError(
        "EINVAL",
        `volume \`${name}\`: unknown kind ${JSON.stringify((config as { kind: unknown }).kind)}; use local, s3, azure, gcs or driver`,
        { details: { volume: name } },
      );
  }
}

/** What this process can hand out URLs with (absent: ENOTSUP for that kind). */
export interface PresignContext {
  /** No URLs for any volume, for this reason (the embedded deployment: its client moves the bytes). */
  none?: string;
  /** Local-directory volumes: URLs served by this process's `/v1/blobs/` route. */
  localUrls?: { endpoint: () => string; signer: LocalBlobSigner };
  /**
   * The service account that signs GCS V4 URLs, per volume name or for every GCS volume (`*`).
   * Kept out of the records on purpose: a private key is a secret.
   */
  gcsSigners?: Record<string, GcsSigningCredential>;
}

function accountKeyOf(connectionString: string): StorageSharedKeyCredential | undefined {
  const field = (name: string) => new RegExp(`(?:^|;)${name}=([^;]+)`).exec(connectionString)?.[1];
  const account = field("AccountName");
  const key = field("AccountKey");
  return account && key ? new StorageSharedKeyCredential(account, key) : undefined;
}

/** The presigner of a local or GCS volume (the kinds whose presigner needs no driver client). */
export function presignerFor(d: VolumeDescription, context: PresignContext): Presigner {
  if (context.none !== undefined) return noUrls(d.name, context.none);
  const c = d.config as Record<string, unknown>;
  const prefix = typeof c.prefix === "string" ? c.prefix : undefined;
  switch (d.kind) {
    case "local":
      return context.localUrls
        ? new LocalPresigner(d.name, context.localUrls.endpoint, context.localUrls.signer)
        : noUrls(d.name, "this deployment serves no URLs for local-directory volumes");
    case "gcs": {
      const credential = context.gcsSigners?.[d.name] ?? context.gcsSigners?.["*"];
      if (!credential)
        return noUrls(d.name, "no service account to sign GCS URLs is configured on this server");
      const apiEndpoint = (c.storageOptions as StorageOptions | undefined)?.apiEndpoint;
      return new GcsPresigner({
        bucket: String(c.bucket),
        prefix,
        credential,
        ...(apiEndpoint ? { apiEndpoint } : {}),
      });
    }
    default:
      return noUrls(d.name, `no URLs for volumes of kind ${d.kind}`);
  }
}

/**
 * A described volume's driver and presigner, sharing one SDK client where the kind has one.
 * Throws what the driver's constructor throws (bad settings).
 */
export function openVolumeKind(d: VolumeDescription, context: PresignContext = {}): OpenedVolume {
  const c = d.config as Record<string, unknown>;
  const prefix = typeof c.prefix === "string" ? c.prefix : undefined;
  if (d.kind === "s3") {
    // No clientConfig: the SDK's default chain (the Lambda's role, env credentials).
    const client = new S3Client((c.clientConfig ?? {}) as S3ClientConfig);
    try {
      const driver = driverFor(d.name, { ...c, kind: "s3", client } as unknown as VolumeConfig);
      return {
        driver,
        presigner:
          context.none !== undefined
            ? noUrls(d.name, context.none)
            : new S3Presigner({ client, bucket: String(c.bucket), prefix }),
        close: () => client.destroy(), // the driver does not own a client it was given
      };
    } catch (err) {
      client.destroy();
      throw err;
    }
  }
  if (d.kind === "azure") {
    const cs = typeof c.connectionString === "string" ? c.connectionString : undefined;
    const container = typeof c.container === "string" ? c.container : undefined;
    const containerClient = cs && container ? new ContainerClient(cs, container) : undefined;
    const driver = driverFor(d.name, {
      ...c,
      kind: "azure",
      ...(containerClient ? { containerClient } : {}),
    } as unknown as VolumeConfig);
    const credential = cs ? accountKeyOf(cs) : undefined;
    return {
      driver,
      presigner:
        context.none !== undefined
          ? noUrls(d.name, context.none)
          : containerClient && credential
            ? new AzurePresigner({ containerClient, credential, prefix })
            : noUrls(d.name, "SAS URLs need AccountName and AccountKey in the volume's connection string"),
    };
  }
  return {
    driver: driverFor(d.name, { ...c, kind: d.kind } as unknown as VolumeConfig),
    presigner: presignerFor(d, context),
  };
}
