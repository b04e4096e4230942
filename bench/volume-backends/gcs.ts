/**
 * Benchmark backend "gcs": strata's GCS stand-in (a child process on 127.0.0.1), the GCS volume
 * driver on a fresh bucket, and — for the ratio — the plain `@google-cloud/storage` calls
 * (`file.save` / `file.download`) against the same server with the same upload type (multipart up
 * to 8 MiB, resumable above) and no client-side hashing, so the ratio shows strata's own overhead.
 */
import { Storage } from "@google-cloud/storage";
import { GcsVolumeDriver } from "../../adapters/volumes/gcs.ts";
import { gcsStandInStorageOptions, startGcsStandIn } from "../../standins/gcs.ts";
import type { VolumeBenchBackend } from "./backend.ts";

const RESUMABLE_THRESHOLD = 8 * 1024 * 1024;

export const gcsBenchBackend: VolumeBenchBackend = {
  name: "gcs",
  async start() {
    const standIn = await startGcsStandIn();
    try {
      const options = gcsStandInStorageOptions(standIn.endpoint);
      const storage = new Storage({ ...options, retryOptions: { autoRetry: false } });
      const bucketName = `strata-bench-${Date.now().toString(36)}`;
      // https://cloud.google.com/storage/docs/json_api/v1/buckets/insert
      const [bucket] = await storage.createBucket(bucketName);
      const driver = new GcsVolumeDriver({
        name: "gcs-bench",
        bucket: bucketName,
        storageOptions: options,
        resumableThreshold: RESUMABLE_THRESHOLD,
      });
      return {
        driver,
        raw: {
          async put(key, bytes) {
            // https://cloud.google.com/storage/docs/uploading-objects
            await bucket.file(key).save(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
              resumable: bytes.byteLength > RESUMABLE_THRESHOLD,
              validation: false,
              contentType: "application/octet-stream",
            });
          },
          async get(key) {
            // https://cloud.google.com/storage/docs/downloading-objects
            const [contents] = await bucket.file(key).download({ validation: false });
            return contents.length;
          },
        },
        async stop() {
          await standIn.stop();
        },
      };
    } catch (err) {
      await standIn.stop();
      throw err;
    }
  },
};
