/**
 * Placement across clouds: SQLite metadata + a local volume + S3 (s3rver), Azure (azurite) and
 * GCS (our stand-in) volumes, registered as records with plain JSON driver settings.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { Storage } from "@google-cloud/storage";
import { describe, it } from "vitest";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import type { Value } from "../../core/metadata/port.ts";
import { azuriteConnectionString, azuriteServiceClient } from "../../standins/azure.ts";
import { gcsStandInStorageOptions } from "../../standins/gcs.ts";
import { s3StandInClientConfig } from "../../standins/s3.ts";
import { testPlacement } from "../conformance/placement.ts";
import { standInEndpoint } from "../support/standins.ts";

const s3 = standInEndpoint("s3");
const azure = standInEndpoint("azure");
const gcs = standInEndpoint("gcs");
let seq = 0;

if (s3 && azure && gcs) {
  testPlacement("sqlite + local, s3rver, azurite and gcs stand-in volumes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "strata-placement-standins-"));
    const store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
    const name = `strata-placement-${process.pid}-${Date.now().toString(36)}-${seq++}`;
    const client = new S3Client(s3StandInClientConfig(s3));
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html
    await client.send(new CreateBucketCommand({ Bucket: name }));
    client.destroy();
    // https://learn.microsoft.com/rest/api/storageservices/create-container
    await azuriteServiceClient(azure).getContainerClient(name).create();
    // https://cloud.google.com/storage/docs/json_api/v1/buckets/insert
    await new Storage(gcsStandInStorageOptions(gcs)).createBucket(name);
    return {
      store,
      volumes: {
        local: { kind: "local", config: { root: join(dir, "volumes", "local") } },
        s3: {
          kind: "s3",
          // s3rver ignores If-None-Match and native checksums: the driver's documented fallbacks.
          config: {
            bucket: name,
            prefix: "s3/",
            clientConfig: s3StandInClientConfig(s3) as Value,
            conditionalWrites: false,
            nativeChecksums: false,
          },
        },
        azure: {
          kind: "azure",
          config: { connectionString: azuriteConnectionString(azure), container: name, prefix: "azure/" },
        },
        gcs: {
          kind: "gcs",
          config: { bucket: name, prefix: "gcs/", storageOptions: gcsStandInStorageOptions(gcs) as Value },
        },
      },
      async dispose() {
        await store.close();
        await rm(dir, { recursive: true, force: true });
        // Buckets and containers are left to the stand-ins (in-memory / per-run directories).
      },
    };
  });
} else {
  describe("placement: sqlite + local, s3rver, azurite and gcs stand-in volumes", () => {
    it("needs the s3, azure and gcs stand-ins", (ctx) => {
      console.info("[placement-standins] skipped: STRATA_STANDINS excludes s3, azure or gcs");
      ctx.skip("the s3, azure and gcs stand-ins were not all started (STRATA_STANDINS)");
    });
  });
}
