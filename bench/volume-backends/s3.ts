/**
 * Benchmark backend "s3": the s3rver stand-in (a child process on 127.0.0.1), the S3 volume driver
 * on a fresh bucket, and — for the ratio — the plain SDK against the same server: `@aws-sdk/lib-storage`
 * `Upload` with the driver's part size and parallelism, and `GetObject`. s3rver has neither conditional
 * writes nor native checksums, so the driver runs with both off, as in the tests.
 */
import { CreateBucketCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { S3VolumeDriver } from "../../adapters/volumes/s3.ts";
import { s3StandInClientConfig, startS3StandIn } from "../../standins/s3.ts";
import type { VolumeBenchBackend } from "./backend.ts";

const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 4;

export const s3BenchBackend: VolumeBenchBackend = {
  name: "s3",
  async start() {
    const standIn = await startS3StandIn();
    try {
      const client = new S3Client(s3StandInClientConfig(standIn.endpoint));
      const bucket = `strata-bench-${Date.now().toString(36)}`;
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      const driver = new S3VolumeDriver({
        name: "s3-bench",
        bucket,
        client,
        conditionalWrites: false,
        nativeChecksums: false,
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
      });
      return {
        driver,
        raw: {
          async put(key, bytes) {
            // https://docs.aws.amazon.com/AWSJavaScriptSDK/v3/latest/Package/-aws-sdk-lib-storage/
            await new Upload({
              client,
              params: { Bucket: bucket, Key: key, Body: bytes },
              partSize: PART_SIZE,
              queueSize: QUEUE_SIZE,
            }).done();
          },
          async get(key) {
            // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
            const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
            let n = 0;
            for await (const chunk of out.Body as AsyncIterable<Uint8Array>) n += chunk.byteLength;
            return n;
          },
        },
        async stop() {
          client.destroy();
          await standIn.stop();
        },
      };
    } catch (err) {
      await standIn.stop();
      throw err;
    }
  },
};
