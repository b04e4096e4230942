/** Scrub's shared suite on SQLite metadata + two S3 volumes served by the s3rver stand-in. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { describe, it } from "vitest";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { s3StandInClientConfig } from "../../adapters/standins/s3.ts";
import { S3VolumeDriver } from "../../adapters/volumes/s3.ts";
import { testScrub } from "../conformance/scrub.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("s3");
let seq = 0;

if (endpoint) {
  testScrub("sqlite + s3 volumes (s3rver)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "strata-scrub-s3-"));
    const store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
    const client = new S3Client(s3StandInClientConfig(endpoint));
    const bucket = `strata-scrub-${process.pid}-${Date.now().toString(36)}-${seq++}`;
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    // s3rver ignores If-None-Match and native checksums: the driver's documented fallbacks.
    const driver = (name: string) =>
      new S3VolumeDriver({
        name,
        bucket,
        prefix: `${name}/`,
        client,
        conditionalWrites: false,
        nativeChecksums: false,
      });
    return {
      store,
      drivers: { a: driver("a"), b: driver("b") },
      async corruptAtRest(volume, key) {
        // Rewrite the object with one byte flipped and the same user metadata (its recorded CRC).
        const Key = `${volume}/${key}`;
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key }));
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
        const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key }));
        const bytes = await got.Body!.transformToByteArray();
        bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
        await client.send(
          new PutObjectCommand({ Bucket: bucket, Key, Body: bytes, Metadata: head.Metadata }),
        );
      },
      async dispose() {
        await store.close();
        await rm(dir, { recursive: true, force: true });
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
        for (const o of page.Contents ?? [])
          await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
        await client.send(new DeleteBucketCommand({ Bucket: bucket }));
        client.destroy();
      },
    };
  });
} else {
  describe("scrub: sqlite + s3 volumes (s3rver)", () => {
    it("needs the s3 stand-in", (ctx) => {
      console.info("[scrub-s3] skipped: the s3 stand-in was not started (STRATA_STANDINS excludes s3)");
      ctx.skip("the s3 stand-in was not started (STRATA_STANDINS excludes s3)");
    });
  });
}
