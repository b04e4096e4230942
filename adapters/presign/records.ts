/**
 * Presigners that follow the volume records (docs/placement.md): the API's volumes are whatever
 * `volume` records exist, each with a presigner built from its kind and driver settings the same
 * way `openVolumeRecords` builds its driver, cached by name + settings. A volume added at runtime
 * (`volume.add`) can be uploaded to and read from by remote clients without a restart.
 *
 * ```ts
 * const records = openVolumeRecords({ store });
 * const api = openRecordApiVolumes({ records, localUrls: { endpoint: () => server.endpoint, signer } });
 * const volumes = await api.volumes(); // name → { volume, site, cost, kind, presigner }
 * ```
 */
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import type { StorageOptions } from "@google-cloud/storage";
import type { VolumeEntry } from "../../core/data/plane.ts";
import { strataError } from "../../core/errors.ts";
import type { VolumeRecord } from "../../core/placement/records.ts";
import type { VolumeRecords } from "../data/volumes.ts";
import { AzurePresigner } from "./azure.ts";
import { GcsPresigner, type GcsSigningCredential } from "./gcs.ts";
import { type LocalBlobSigner, LocalPresigner } from "./local.ts";
import type { Presigner } from "./presigner.ts";
import { S3Presigner } from "./s3.ts";

/** A volume as the API hands out URLs for it (functions/api/services.ts `ApiVolume`). */
export type RecordApiVolume = VolumeEntry & { kind: string; presigner: Presigner };

export interface RecordApiVolumesOptions {
  records: VolumeRecords;
  /** Local-directory volumes: URLs served by this process's `/v1/blobs/` route. Absent: ENOTSUP. */
  localUrls?: { endpoint: () => string; signer: LocalBlobSigner };
  /**
   * The service account that signs GCS V4 URLs, per volume name or for every GCS volume (`*`).
   * Kept out of the records on purpose: a private key is a secret. Absent: ENOTSUP for GCS URLs.
   */
  gcsSigners?: Record<string, GcsSigningCredential>;
}

export interface RecordApiVolumes {
  /** Every recorded volume with its presigner (records cached as `openVolumeRecords` caches them). */
  volumes(): Promise<Record<string, RecordApiVolume>>;
  /** Release the SDK clients the presigners hold. */
  close(): Promise<void>;
}

/** A presigner that explains why this volume has no URLs here (ENOTSUP: configuration, not a retry). */
function unsupported(name: string, why: string): Presigner {
  return {
    presign: async (request) => {
      throw strataError("ENOTSUP", `volume \`${name}\`: ${why}`, { volume: name, key: request.key });
    },
  };
}

function accountKeyOf(connectionString: string): StorageSharedKeyCredential | undefined {
  const field = (name: string) => new RegExp(`(?:^|;)${name}=([^;]+)`).exec(connectionString)?.[1];
  const account = field("AccountName");
  const key = field("AccountKey");
  return account && key ? new StorageSharedKeyCredential(account, key) : undefined;
}

export function openRecordApiVolumes(options: RecordApiVolumesOptions): RecordApiVolumes {
  const built = new Map<string, { signature: string; presigner: Presigner; close?: () => void }>();

  const build = (r: VolumeRecord): { presigner: Presigner; close?: () => void } => {
    const c = r.config as Record<string, unknown>;
    const prefix = typeof c.prefix === "string" ? c.prefix : undefined;
    switch (r.kind) {
      case "local":
        return options.localUrls
          ? { presigner: new LocalPresigner(r.name, options.localUrls.endpoint, options.localUrls.signer) }
          : { presigner: unsupported(r.name, "this deployment serves no URLs for local-directory volumes") };
      case "s3": {
        // No clientConfig: the SDK's default chain (the Lambda's role, env credentials).
        const client = new S3Client((c.clientConfig ?? {}) as S3ClientConfig);
        return {
          presigner: new S3Presigner({ client, bucket: String(c.bucket), prefix }),
          close: () => client.destroy(),
        };
      }
      case "azure": {
        const cs = typeof c.connectionString === "string" ? c.connectionString : undefined;
        const credential = cs ? accountKeyOf(cs) : undefined;
        if (!cs || !credential)
          return {
            presigner: unsupported(
              r.name,
              "SAS URLs need AccountName and AccountKey in the volume's connection string",
            ),
          };
        const containerClient = BlobServiceClient.fromConnectionString(cs).getContainerClient(
          String(c.container ?? "strata"),
        );
        return { presigner: new AzurePresigner({ containerClient, credential, prefix }) };
      }
      case "gcs": {
        const credential = options.gcsSigners?.[r.name] ?? options.gcsSigners?.["*"];
        if (!credential)
          return {
            presigner: unsupported(
              r.name,
              "no service account to sign GCS URLs is configured on this server",
            ),
          };
        const apiEndpoint = (c.storageOptions as StorageOptions | undefined)?.apiEndpoint;
        return {
          presigner: new GcsPresigner({
            bucket: String(c.bucket),
            prefix,
            credential,
            ...(apiEndpoint ? { apiEndpoint } : {}),
          }),
        };
      }
      default:
        return { presigner: unsupported(r.name, `no URLs for volumes of kind ${r.kind}`) };
    }
  };

  const presignerOf = (r: VolumeRecord): Presigner => {
    const signature = JSON.stringify([r.kind, r.config]);
    const have = built.get(r.name);
    if (have?.signature === signature) return have.presigner;
    have?.close?.();
    const made = build(r);
    built.set(r.name, { signature, ...made });
    return made.presigner;
  };

  return {
    async volumes() {
      const [records, entries] = await Promise.all([
        options.records.list(),
        options.records.dataPlaneSource(),
      ]);
      const out: Record<string, RecordApiVolume> = {};
      for (const r of records) {
        const entry = entries[r.name];
        if (!entry) continue; // listed between the two reads: next call
        out[r.name] = { ...entry, kind: r.kind, presigner: presignerOf(r) };
      }
      return out;
    },
    async close() {
      for (const b of built.values()) b.close?.();
      built.clear();
    },
  };
}
