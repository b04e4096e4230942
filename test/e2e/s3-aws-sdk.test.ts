/**
 * `@aws-sdk/client-s3` (latest, default checksums: aws-chunked bodies with CRC32 trailers)
 * against the gateway: object operations, S3 error codes, conditionals, ranges, copies,
 * versions from history, tagging as strata tags, multipart (lib-storage), presigned URLs.
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  type S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type S3Fixture, startS3Fixture } from "../support/s3-gateway.ts";

let fx: S3Fixture;
let s3: S3Client;

const clientWith = (accessKeyId: string, secretAccessKey: string) =>
  new S3Client({
    endpoint: fx.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });

beforeAll(async () => {
  fx = await startS3Fixture();
  s3 = clientWith(fx.keys.accessKeyId, fx.keys.secretAccessKey);
}, 60_000);
afterAll(async () => {
  s3?.destroy();
  await fx?.dispose();
});

/** The S3 error code and HTTP status of a failed call. */
async function failure(p: Promise<unknown>): Promise<[string, number | undefined]> {
  try {
    await p;
  } catch (err) {
    const e = err as S3ServiceException;
    return [e.name, e.$metadata?.httpStatusCode];
  }
  throw new Error("expected the call to fail");
}

describe("@aws-sdk/client-s3 against the gateway", () => {
  it("puts, heads, gets and lists with default checksums; metadata and headers are kept", async () => {
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: "default",
        Key: "docs/a.txt",
        Body: "hello",
        ContentType: "text/plain",
        CacheControl: "max-age=60",
        Metadata: { who: "me" },
      }),
    );
    expect(put.ETag).toBe('"5d41402abc4b2a76b9719d911017c592"');
    const head = await s3.send(new HeadObjectCommand({ Bucket: "default", Key: "docs/a.txt" }));
    expect([head.ContentLength, head.ContentType, head.CacheControl, head.Metadata]).toEqual([
      5,
      "text/plain",
      "max-age=60",
      { who: "me" },
    ]);
    const got = await s3.send(new GetObjectCommand({ Bucket: "default", Key: "docs/a.txt" }));
    expect(await got.Body!.transformToString()).toBe("hello");
    const list = await s3.send(new ListObjectsV2Command({ Bucket: "default", Prefix: "docs/" }));
    expect(list.Contents?.map((c) => [c.Key, c.Size, c.ETag])).toEqual([["docs/a.txt", 5, put.ETag]]);
    // The file is a strata file: the SDK of strata reads the same bytes.
    const client = await fx.api.client();
    expect(await client.readFile("/docs/a.txt", "utf8")).toBe("hello");
    await client.close();
  });

  it("lists buckets, heads a bucket, and answers versioning Enabled", async () => {
    const buckets = await s3.send(new ListBucketsCommand({}));
    expect(buckets.Buckets?.map((b) => b.Name)).toEqual(["default"]);
    await s3.send(new HeadBucketCommand({ Bucket: "default" }));
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: "default" }))).Status).toBe("Enabled");
    // A HEAD answer has no body, so the SDK cannot name the code: the status says it.
    expect((await failure(s3.send(new HeadBucketCommand({ Bucket: "nope" }))))[1]).toBe(403);
  });

  it("answers S3 error codes: NoSuchKey, SignatureDoesNotMatch, InvalidAccessKeyId, PreconditionFailed, InvalidRange", async () => {
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: "default", Key: "missing" })))).toEqual([
      "NoSuchKey",
      404,
    ]);
    const wrong = clientWith(fx.keys.accessKeyId, "x".repeat(40));
    expect(await failure(wrong.send(new GetObjectCommand({ Bucket: "default", Key: "docs/a.txt" })))).toEqual(
      ["SignatureDoesNotMatch", 403],
    );
    wrong.destroy();
    const unknown = clientWith("tUnknownKey1", "x".repeat(40));
    expect(await failure(unknown.send(new ListObjectsV2Command({ Bucket: "default" })))).toEqual([
      "InvalidAccessKeyId",
      403,
    ]);
    unknown.destroy();
    await s3.send(new PutObjectCommand({ Bucket: "default", Key: "once.txt", Body: "1", IfNoneMatch: "*" }));
    expect(
      await failure(
        s3.send(new PutObjectCommand({ Bucket: "default", Key: "once.txt", Body: "2", IfNoneMatch: "*" })),
      ),
    ).toEqual(["PreconditionFailed", 412]);
    expect(
      await failure(
        s3.send(new PutObjectCommand({ Bucket: "default", Key: "once.txt", Body: "2", IfMatch: '"nope"' })),
      ),
    ).toEqual(["PreconditionFailed", 412]);
    const cur = await s3.send(new HeadObjectCommand({ Bucket: "default", Key: "once.txt" }));
    await s3.send(new PutObjectCommand({ Bucket: "default", Key: "once.txt", Body: "3", IfMatch: cur.ETag }));
    const back = await s3.send(new GetObjectCommand({ Bucket: "default", Key: "once.txt" }));
    expect(await back.Body!.transformToString()).toBe("3");
    expect(
      await failure(
        s3.send(new GetObjectCommand({ Bucket: "default", Key: "once.txt", Range: "bytes=5-9" })),
      ),
    ).toEqual(["InvalidRange", 416]);
  });

  it("serves ranges and conditional GETs", async () => {
    await s3.send(new PutObjectCommand({ Bucket: "default", Key: "r.bin", Body: "0123456789" }));
    const part = await s3.send(new GetObjectCommand({ Bucket: "default", Key: "r.bin", Range: "bytes=2-5" }));
    expect([await part.Body!.transformToString(), part.ContentRange]).toEqual(["2345", "bytes 2-5/10"]);
    const tail = await s3.send(new GetObjectCommand({ Bucket: "default", Key: "r.bin", Range: "bytes=-3" }));
    expect(await tail.Body!.transformToString()).toBe("789");
    const head = await s3.send(new HeadObjectCommand({ Bucket: "default", Key: "r.bin" }));
    // 304 has no body: the status is the answer.
    expect(
      (
        await failure(
          s3.send(new GetObjectCommand({ Bucket: "default", Key: "r.bin", IfNoneMatch: head.ETag })),
        )
      )[1],
    ).toBe(304);
    expect(
      await failure(s3.send(new GetObjectCommand({ Bucket: "default", Key: "r.bin", IfMatch: '"other"' }))),
    ).toEqual(["PreconditionFailed", 412]);
    const over = await s3.send(
      new GetObjectCommand({ Bucket: "default", Key: "r.bin", ResponseContentType: "text/x-test" }),
    );
    expect(over.ContentType).toBe("text/x-test");
    await over.Body!.transformToString();
  });

  it("lists with delimiter, prefixes, paging (v1 markers and v2 continuation) and url encoding", async () => {
    for (const key of ["l/a", "l/b/1", "l/b/2", "l/c d", "l/d/", "l/e"])
      await s3.send(
        new PutObjectCommand({ Bucket: "default", Key: key, Body: key.endsWith("/") ? "" : key }),
      );
    const top = await s3.send(new ListObjectsV2Command({ Bucket: "default", Prefix: "l/", Delimiter: "/" }));
    expect(top.Contents?.map((c) => c.Key)).toEqual(["l/a", "l/c d", "l/e"]);
    expect(top.CommonPrefixes?.map((c) => c.Prefix)).toEqual(["l/b/", "l/d/"]);
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: "default", Prefix: "l/", MaxKeys: 2, ContinuationToken: token }),
      );
      keys.push(...(page.Contents ?? []).map((c) => c.Key!));
      token = page.NextContinuationToken;
    } while (token);
    expect(keys).toEqual(["l/a", "l/b/1", "l/b/2", "l/c d", "l/d/", "l/e"]);
    const v1: string[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = await s3.send(
        new ListObjectsCommand({ Bucket: "default", Prefix: "l/", MaxKeys: 2, Marker: marker }),
      );
      v1.push(...(page.Contents ?? []).map((c) => c.Key!));
      if (!page.IsTruncated) break;
      marker = page.Contents!.at(-1)!.Key;
    }
    expect(v1).toEqual(keys);
    const encoded = await s3.send(
      new ListObjectsV2Command({ Bucket: "default", Prefix: "l/c", EncodingType: "url" }),
    );
    expect(encoded.Contents?.map((c) => c.Key)).toEqual(["l/c%20d"]); // this SDK hands keys back as sent
  });

  it("deletes objects and prunes parents it made, but keeps directories a client marked", async () => {
    await s3.send(new PutObjectCommand({ Bucket: "default", Key: "p/q/r/x", Body: "x" }));
    await s3.send(new PutObjectCommand({ Bucket: "default", Key: "keep/", Body: "" }));
    await s3.send(new PutObjectCommand({ Bucket: "default", Key: "keep/x", Body: "x" }));
    await s3.send(new DeleteObjectCommand({ Bucket: "default", Key: "p/q/r/x" }));
    await s3.send(new DeleteObjectCommand({ Bucket: "default", Key: "keep/x" }));
    await s3.send(new DeleteObjectCommand({ Bucket: "default", Key: "never/was" }));
    const client = await fx.api.client();
    expect((await client.readdir("/")).filter((n) => n === "p" || n === "keep")).toEqual(["keep"]);
    await client.close();
    await s3.send(new PutObjectCommand({ Bucket: "default", Key: "m/1", Body: "1" }));
    await s3.send(new PutObjectCommand({ Bucket: "default", Key: "m/2", Body: "2" }));
    const res = await s3.send(
      new DeleteObjectsCommand({
        Bucket: "default",
        Delete: { Objects: [{ Key: "m/1" }, { Key: "m/2" }, { Key: "m/none" }] },
      }),
    );
    expect(res.Deleted?.map((d) => d.Key).sort()).toEqual(["m/1", "m/2", "m/none"]);
    expect((await s3.send(new ListObjectsV2Command({ Bucket: "default", Prefix: "m/" }))).KeyCount).toBe(0);
  });

  it("copies objects (COPY and REPLACE metadata, from a past version) and reads versions from history", async () => {
    const v1 = await s3.send(
      new PutObjectCommand({ Bucket: "default", Key: "v.txt", Body: "one", ContentType: "text/a" }),
    );
    await s3.send(
      new PutObjectCommand({ Bucket: "default", Key: "v.txt", Body: "two", ContentType: "text/b" }),
    );
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: "default", Prefix: "v.txt" }));
    expect(versions.Versions?.map((v) => [v.IsLatest, v.Size, v.ETag])).toEqual([
      [true, 3, '"b8a9f715dbb64fd5c56e7783c6820a61"'],
      [false, 3, v1.ETag],
    ]);
    const old = versions.Versions![1]!.VersionId!;
    const got = await s3.send(new GetObjectCommand({ Bucket: "default", Key: "v.txt", VersionId: old }));
    expect([await got.Body!.transformToString(), got.ContentType, got.ETag]).toEqual([
      "one",
      "text/a",
      v1.ETag,
    ]);
    await s3.send(
      new CopyObjectCommand({
        Bucket: "default",
        Key: "v-copy.txt",
        CopySource: `default/v.txt?versionId=${old}`,
      }),
    );
    const copy = await s3.send(new GetObjectCommand({ Bucket: "default", Key: "v-copy.txt" }));
    expect([await copy.Body!.transformToString(), copy.ContentType, copy.ETag]).toEqual([
      "one",
      "text/a",
      v1.ETag,
    ]);
    await s3.send(
      new CopyObjectCommand({
        Bucket: "default",
        Key: "v-copy.txt",
        CopySource: "default/v.txt",
        MetadataDirective: "REPLACE",
        ContentType: "text/c",
      }),
    );
    const replaced = await s3.send(new HeadObjectCommand({ Bucket: "default", Key: "v-copy.txt" }));
    expect(replaced.ContentType).toBe("text/c");
    expect(
      await failure(
        s3.send(new GetObjectCommand({ Bucket: "default", Key: "v.txt", VersionId: "00000000000000ff" })),
      ),
    ).toEqual(["NoSuchVersion", 404]);
  });

  it("maps object tagging to strata tags", async () => {
    await s3.send(new PutObjectCommand({ Bucket: "default", Key: "t.txt", Body: "t" }));
    await s3.send(
      new PutObjectTaggingCommand({
        Bucket: "default",
        Key: "t.txt",
        Tagging: { TagSet: [{ Key: "render-site", Value: "gcs-eu" }] },
      }),
    );
    const client = await fx.api.client();
    expect(await client.tags.list("/t.txt")).toEqual({ "render-site": "gcs-eu" });
    await client.tags.set("/t.txt", "other", "x");
    await client.close();
    const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: "default", Key: "t.txt" }));
    expect(tags.TagSet?.map((t) => [t.Key, t.Value]).sort()).toEqual([
      ["other", "x"],
      ["render-site", "gcs-eu"],
    ]);
  });

  it("uploads multipart (lib-storage, 3 parts) with the md5-of-md5s ETag and reads parts back", async () => {
    const body = Buffer.alloc(11 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body.writeUInt32BE(i, i);
    const upload = new Upload({
      client: s3,
      params: { Bucket: "default", Key: "big/multi.bin", Body: body },
      partSize: 5 * 1024 * 1024,
      queueSize: 2,
    });
    const done = await upload.done();
    expect(done.ETag).toMatch(/^"[0-9a-f]{32}-3"$/);
    const got = await s3.send(new GetObjectCommand({ Bucket: "default", Key: "big/multi.bin" }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    const part2 = await s3.send(
      new GetObjectCommand({ Bucket: "default", Key: "big/multi.bin", PartNumber: 2 }),
    );
    expect([part2.ContentLength, part2.PartsCount]).toEqual([5 * 1024 * 1024, 3]);
    await part2.Body!.transformToByteArray();
  });

  it("serves presigned GET and PUT URLs, and refuses an altered one", async () => {
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: "default", Key: "pre.txt" }), {
      expiresIn: 60,
    });
    expect((await fetch(putUrl, { method: "PUT", body: "presigned" })).status).toBe(200);
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: "default", Key: "pre.txt" }), {
      expiresIn: 60,
    });
    const res = await fetch(getUrl);
    expect([res.status, await res.text()]).toEqual([200, "presigned"]);
    const altered = await fetch(getUrl.replace("pre.txt", "docs/a.txt"));
    expect([altered.status, (await altered.text()).includes("<Code>SignatureDoesNotMatch</Code>")]).toEqual([
      403,
      true,
    ]);
  });
});
