/**
 * `@aws-sdk/client-s3` (latest, default checksums: aws-chunked bodies with CRC32 trailers)
 * against the gateway: the core object operations, errors as S3 codes, versions from history.
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type S3Fixture, startS3Fixture } from "../support/s3-gateway.ts";

let fx: S3Fixture;
let s3: S3Client;

beforeAll(async () => {
  fx = await startS3Fixture();
  s3 = new S3Client({
    endpoint: fx.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: fx.keys.accessKeyId, secretAccessKey: fx.keys.secretAccessKey },
  });
}, 60_000);
afterAll(async () => {
  s3?.destroy();
  await fx?.dispose();
});

describe("@aws-sdk/client-s3 against the gateway", () => {
  it("puts, heads, gets and lists with default checksums", async () => {
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: "default",
        Key: "docs/a.txt",
        Body: "hello",
        ContentType: "text/plain",
        Metadata: { who: "me" },
      }),
    );
    expect(put.ETag).toBe('"5d41402abc4b2a76b9719d911017c592"');
    const head = await s3.send(new HeadObjectCommand({ Bucket: "default", Key: "docs/a.txt" }));
    expect([head.ContentLength, head.ContentType, head.Metadata]).toEqual([5, "text/plain", { who: "me" }]);
    const got = await s3.send(new GetObjectCommand({ Bucket: "default", Key: "docs/a.txt" }));
    expect(await got.Body!.transformToString()).toBe("hello");
    const list = await s3.send(new ListObjectsV2Command({ Bucket: "default", Prefix: "docs/" }));
    expect(list.Contents?.map((c) => [c.Key, c.Size, c.ETag])).toEqual([["docs/a.txt", 5, put.ETag]]);
  });
});
