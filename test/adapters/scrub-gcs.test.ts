/** Scrub's shared suite on SQLite metadata + two GCS volumes on the gcs stand-in. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Storage } from "@google-cloud/storage";
import { describe, it } from "vitest";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { corruptGcsStandInObject, gcsStandInStorageOptions } from "../../adapters/standins/gcs.ts";
import { GcsVolumeDriver } from "../../adapters/volumes/gcs.ts";
import { testScrub } from "../conformance/scrub.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("gcs");
let seq = 0;

if (endpoint) {
  testScrub("sqlite + gcs volumes (stand-in)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "strata-scrub-gcs-"));
    const store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
    const storage = new Storage(gcsStandInStorageOptions(endpoint));
    const bucket = `strata-scrub-${process.pid}-${Date.now().toString(36)}-${seq++}`;
    // https://cloud.google.com/storage/docs/json_api/v1/buckets/insert
    await storage.createBucket(bucket);
    const driver = (name: string) =>
      new GcsVolumeDriver({
        name,
        bucket,
        prefix: `${name}/`,
        storageOptions: gcsStandInStorageOptions(endpoint),
      });
    return {
      store,
      drivers: { a: driver("a"), b: driver("b") },
      // Flips one stored byte, keeping the object's recorded CRC32C.
      corruptAtRest: (volume, key) => corruptGcsStandInObject(endpoint, bucket, `${volume}/${key}`),
      async dispose() {
        await store.close();
        await rm(dir, { recursive: true, force: true });
        // https://cloud.google.com/storage/docs/json_api/v1/objects/delete
        await storage.bucket(bucket).deleteFiles({ force: true });
        // https://cloud.google.com/storage/docs/json_api/v1/buckets/delete
        await storage.bucket(bucket).delete({ ignoreNotFound: true });
      },
    };
  });
} else {
  describe("scrub: sqlite + gcs volumes (stand-in)", () => {
    it("needs the gcs stand-in", (ctx) => {
      console.info("[scrub-gcs] skipped: the gcs stand-in was not started (STRATA_STANDINS excludes gcs)");
      ctx.skip("the gcs stand-in was not started (STRATA_STANDINS excludes gcs)");
    });
  });
}
