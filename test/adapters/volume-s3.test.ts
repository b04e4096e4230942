/**
 * The S3 volume driver: the shared conformance suite against s3rver (and against real S3 when
 * `STRATA_TEST_S3_BUCKET` is set, with the standard AWS credentials and region in the environment),
 * plus focused tests of what is specific to S3: multipart abandonment, the CRC recorded after a
 * multipart upload, key prefixes, and error mapping.
 */
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mapS3Error, S3_CRC_METADATA, S3VolumeDriver } from "../../adapters/volumes/s3.ts";
import { crc32c, crc32cToBase64, crc32cToHex } from "../../core/crc32c.ts";
import { isStrataError, StrataError } from "../../core/errors.ts";
import { Volume } from "../../core/volume/volume.ts";
import { freePort } from "../../standins/child.ts";
import { s3StandInClientConfig } from "../../standins/s3.ts";
import { lazyStream, patternBytes, testVolume } from "../conformance/volume.ts";
import { standInEndpoint } from "../support/standins.ts";
import {
  chunksOf,
  corruptS3Object,
  countingBody,
  emptyS3Prefix,
  expectStraddlingBodyStoredExact,
  realRunPrefix,
  skippedSuite,
  uniqueName,
} from "../support/volumes.ts";

const MiB = 1024 * 1024;
const endpoint = standInEndpoint("s3");

/** A fresh bucket on s3rver, its client, and a driver configured for s3rver's gaps. */
async function standInBucket(prefix = "") {
  const client = new S3Client(s3StandInClientConfig(endpoint!));
  const bucket = uniqueName("s3");
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const driver = new S3VolumeDriver({
    name: "s3-test",
    bucket,
    prefix,
    client,
    conditionalWrites: false,
    nativeChecksums: false,
  });
  return {
    client,
    bucket,
    driver,
    async dispose() {
      await emptyS3Prefix(client, bucket, "");
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      client.destroy();
    },
  };
}

if (endpoint) {
  testVolume("s3 (s3rver)", async () => {
    const fx = await standInBucket();
    return {
      driver: fx.driver,
      corruptAtRest: (key) => corruptS3Object(fx.client, fx.bucket, key),
      dispose: () => fx.dispose(),
    };
  });
} else {
  skippedSuite(
    "volume conformance: s3 (s3rver)",
    "needs the s3 stand-in",
    "the s3 stand-in was not started (STRATA_STANDINS excludes s3)",
    "volume-s3",
  );
}

const realBucket = process.env.STRATA_TEST_S3_BUCKET;
if (realBucket) {
  testVolume("s3 (real S3)", async () => {
    const client = new S3Client({});
    const prefix = realRunPrefix();
    const driver = new S3VolumeDriver({ name: "s3-real", bucket: realBucket, prefix, client });
    return {
      driver,
      corruptAtRest: (key) => corruptS3Object(client, realBucket, prefix + key),
      async dispose() {
        await emptyS3Prefix(client, realBucket, prefix);
        client.destroy();
      },
    };
  });
} else {
  skippedSuite(
    "volume conformance: s3 (real S3)",
    "needs STRATA_TEST_S3_BUCKET",
    "STRATA_TEST_S3_BUCKET is not set (plus AWS credentials and region): no real-S3 run",
    "volume-s3",
  );
}

describe.skipIf(!endpoint)("s3 volume driver specifics (s3rver)", () => {
  let fx: Awaited<ReturnType<typeof standInBucket>>;
  let volume: Volume;
  beforeAll(async () => {
    fx = await standInBucket("vol/");
    volume = new Volume(fx.driver, { retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  it("keys live under the configured prefix and list without it", async () => {
    await volume.put("a/b", Uint8Array.of(1, 2));
    const raw = await fx.client.send(new ListObjectsV2Command({ Bucket: fx.bucket }));
    expect(raw.Contents?.map((o) => o.Key)).toEqual(["vol/a/b"]);
    expect((await volume.list("a/")).entries).toEqual([{ key: "a/b", size: 2 }]);
    expect(await volume.copy("a/b", "a/c")).toMatchObject({ key: "a/c", size: 2 });
    expect((await volume.list("")).entries.map((e) => e.key)).toEqual(["a/b", "a/c"]);
  });

  it("a body whose chunks straddle part boundaries (one 20 MiB chunk, then odd ones) is stored byte-exact", async () => {
    await expectStraddlingBodyStoredExact(volume, "mp/one-big-chunk");
  });

  it("a multipart upload without a declared CRC records the CRC it computed (self-copy fallback)", async () => {
    const size = 17 * MiB + 5; // three 8 MiB parts
    const stored = await volume.put("mp/undeclared", lazyStream(size, MiB, 41));
    const head = await fx.client.send(new HeadObjectCommand({ Bucket: fx.bucket, Key: "vol/mp/undeclared" }));
    expect(head.ContentLength).toBe(size);
    expect(head.Metadata?.[S3_CRC_METADATA]).toBe(crc32cToHex(stored.crc32c));
    expect(await volume.head("mp/undeclared")).toMatchObject({ size, crc32c: stored.crc32c });
  });

  it("a multipart upload with a declared CRC stores it from the start and keeps user metadata", async () => {
    const bytes = patternBytes(9 * MiB, 42);
    const info = await volume.put("mp/declared", lazyStream(9 * MiB, 9 * MiB, 42), {
      crc32c: crc32c(bytes),
      metadata: { origin: "test" },
    });
    expect(info.crc32c).toBe(crc32c(bytes));
    expect(await volume.head("mp/declared")).toMatchObject({
      crc32c: crc32c(bytes),
      metadata: { origin: "test" },
    });
    expect(crc32c(await volume.getBytes("mp/declared"))).toBe(crc32c(bytes));
  });

  it("a multipart body that fails its declared CRC at the end is abandoned: nothing visible", async () => {
    const size = 20 * MiB;
    const err = await volume
      .put("mp/bad", lazyStream(size, MiB, 43), { crc32c: 12345 })
      .catch((e: unknown) => e);
    expect(isStrataError(err, "ECORRUPT")).toBe(true);
    expect((await volume.list("mp/bad")).entries).toEqual([]);
    // The aborted upload left no parts behind on s3rver's disk either.
    const raw = await fx.client.send(new ListObjectsV2Command({ Bucket: fx.bucket, Prefix: "vol/mp/bad" }));
    expect(raw.Contents ?? []).toEqual([]);
  });

  it("an object without a recorded CRC (not written by strata) is refused with EIO, not trusted", async () => {
    await fx.client.send(new PutObjectCommand({ Bucket: fx.bucket, Key: "vol/foreign", Body: "x" }));
    const err = await volume.head("foreign").catch((e: unknown) => e);
    expect(isStrataError(err, "EIO")).toBe(true);
    expect(isStrataError(await fx.driver.get("foreign", {}).catch((e: unknown) => e), "EIO")).toBe(true);
    expect(isStrataError(await volume.getBytes("foreign").catch((e: unknown) => e), "EIO")).toBe(true);
    expect(String(err)).toContain("no recorded CRC32C");
  });

  it("a missing bucket is EUNAVAIL naming the bucket and the setting to fix", async () => {
    const driver = new S3VolumeDriver({
      name: "s3-nobucket",
      bucket: "strata-no-such-bucket",
      client: fx.client,
      conditionalWrites: false,
      nativeChecksums: false,
    });
    const err = await driver.list("").catch((e: unknown) => e);
    expect(isStrataError(err, "EUNAVAIL")).toBe(true);
    expect(String(err)).toContain("volumes.s3-nobucket.bucket");
  });

  it("refused credentials are EACCES", async () => {
    const client = new S3Client({
      ...s3StandInClientConfig(endpoint!),
      // s3rver refuses unknown access key ids (it does not check signatures made with a wrong secret).
      credentials: { accessKeyId: "WRONG", secretAccessKey: "wrong" },
    });
    const driver = new S3VolumeDriver({
      name: "s3-badkey",
      bucket: fx.bucket,
      client,
      nativeChecksums: false,
    });
    const err = await driver.list("").catch((e: unknown) => e);
    client.destroy();
    expect(isStrataError(err, "EACCES")).toBe(true);
    expect(String(err)).toContain("check credentials for volume s3-badkey");
  });

  it("a refused connection is EUNAVAIL (retryable)", async () => {
    const port = await freePort(); // nothing listens there
    const driver = new S3VolumeDriver({
      name: "s3-down",
      bucket: "b",
      clientConfig: { ...s3StandInClientConfig(`http://127.0.0.1:${port}`), maxAttempts: 1 },
      nativeChecksums: false,
    });
    const err = await driver.head("k").catch((e: unknown) => e);
    await driver.close();
    expect(isStrataError(err, "EUNAVAIL")).toBe(true);
    expect(isStrataError(err) && err.retryable).toBe(true);
  });

  it("an aborted signal is EABORTED", async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await fx.driver.head("a/b", { signal: controller.signal }).catch((e: unknown) => e);
    expect(isStrataError(err, "EABORTED")).toBe(true);
  });
});

/** An S3Client stand-in that records every command and answers from a small script (no network). */
function recordingClient(
  answer: (name: string, input: Record<string, unknown>) => unknown = () => ({}),
  answerHead?: "from answer",
) {
  // HEAD answers 404 (no such key) unless `answerHead` routes it to `answer`.
  // Bodies are copied at send time: the driver reuses a part's buffer once its upload is done.
  const sent: { name: string; input: Record<string, unknown>; body?: Buffer }[] = [];
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const body = command.input.Body;
      sent.push({
        name: command.constructor.name,
        input: command.input,
        body: body instanceof Uint8Array ? Buffer.from(body) : undefined,
      });
      const out =
        command.constructor.name === "HeadObjectCommand" && answerHead === undefined
          ? Object.assign(new Error("NotFound"), { name: "NotFound", $metadata: { httpStatusCode: 404 } })
          : answer(command.constructor.name, command.input);
      if (out instanceof Error) throw out;
      return out;
    },
    destroy() {},
  };
  return { client: client as unknown as S3Client, sent };
}

function putBody(bytes: Uint8Array) {
  return countingBody(chunksOf(bytes, MiB));
}

describe("s3 driver requests for real S3 (conditional writes, native CRC32C), recorded without a network", () => {
  it("a small create-only put is one PutObject with If-None-Match, the native CRC32C and the CRC in metadata", async () => {
    const { client, sent } = recordingClient();
    const driver = new S3VolumeDriver({ name: "real", bucket: "b", prefix: "p/", client });
    const bytes = patternBytes(1000, 61);
    await driver.put("k", putBody(bytes), { metadata: { origin: "x" }, ifNoneMatch: true });
    expect(sent.map((c) => c.name)).toEqual(["PutObjectCommand"]);
    expect(sent[0]!.input).toMatchObject({
      Bucket: "b",
      Key: "p/k",
      IfNoneMatch: "*",
      ChecksumCRC32C: crc32cToBase64(crc32c(bytes)),
      Metadata: { origin: "x", [S3_CRC_METADATA]: crc32cToHex(crc32c(bytes)) },
    });
    expect(driver.capabilities).toMatchObject({ atomicCreateOnly: true, nativeCrc32c: true });
  });

  it("a large create-only put is a FULL_OBJECT CRC32C multipart upload, conditional at completion, with no self-copy", async () => {
    const { client, sent } = recordingClient((name, input) =>
      name === "CreateMultipartUploadCommand"
        ? { UploadId: "u1" }
        : name === "UploadPartCommand"
          ? { ETag: `"e${String(input.PartNumber)}"`, ChecksumCRC32C: input.ChecksumCRC32C }
          : {},
    );
    const driver = new S3VolumeDriver({ name: "real", bucket: "b", client, queueSize: 2 });
    const bytes = patternBytes(17 * MiB, 62);
    const info = await driver.put("big", putBody(bytes), { metadata: {}, ifNoneMatch: true });
    expect(info).toMatchObject({ size: bytes.length, crc32c: crc32c(bytes) });
    expect(sent.map((c) => c.name)).toEqual([
      "HeadObjectCommand", // fail fast if the key exists; not the guard
      "CreateMultipartUploadCommand",
      "UploadPartCommand",
      "UploadPartCommand",
      "UploadPartCommand",
      "CompleteMultipartUploadCommand",
    ]);
    expect(sent[1]!.input).toMatchObject({ ChecksumAlgorithm: "CRC32C", ChecksumType: "FULL_OBJECT" });
    const parts = sent.filter((c) => c.name === "UploadPartCommand");
    parts.forEach((c, i) => {
      expect(c.input).toMatchObject({ UploadId: "u1", PartNumber: i + 1 });
      expect(c.input.ChecksumCRC32C).toBe(crc32cToBase64(crc32c(c.body!)));
    });
    expect(Buffer.concat(parts.map((c) => c.body!)).equals(bytes)).toBe(true);
    expect(sent[5]!.input).toMatchObject({
      UploadId: "u1",
      IfNoneMatch: "*",
      ChecksumType: "FULL_OBJECT",
      ChecksumCRC32C: crc32cToBase64(crc32c(bytes)),
      MultipartUpload: { Parts: [{ PartNumber: 1 }, { PartNumber: 2 }, { PartNumber: 3 }] },
    });
  });

  it("a large create-only put onto an existing key fails EEXIST before uploading any part", async () => {
    const { client, sent } = recordingClient(() => ({ ContentLength: 1, Metadata: {} }), "from answer");
    const driver = new S3VolumeDriver({ name: "real", bucket: "b", client });
    const err = await driver
      .put("big", putBody(patternBytes(9 * MiB, 65)), { metadata: {}, ifNoneMatch: true })
      .catch((e: unknown) => e);
    expect(isStrataError(err, "EEXIST")).toBe(true);
    expect(sent.map((c) => c.name)).toEqual(["HeadObjectCommand"]);
  });

  it("a losing conditional completion (412) is EEXIST and aborts the multipart upload", async () => {
    const { client, sent } = recordingClient((name) =>
      name === "CreateMultipartUploadCommand"
        ? { UploadId: "u2" }
        : name === "CompleteMultipartUploadCommand"
          ? Object.assign(new Error("PreconditionFailed"), {
              name: "PreconditionFailed",
              $metadata: { httpStatusCode: 412 },
            })
          : { ETag: '"e"' },
    );
    const driver = new S3VolumeDriver({ name: "real", bucket: "b", client });
    const err = await driver
      .put("big", putBody(patternBytes(9 * MiB, 63)), { metadata: {}, ifNoneMatch: true })
      .catch((e: unknown) => e);
    expect(isStrataError(err, "EEXIST")).toBe(true);
    expect(sent.at(-1)).toMatchObject({ name: "AbortMultipartUploadCommand", input: { UploadId: "u2" } });
  });

  it("a body that throws after some parts were sent aborts the multipart upload and rethrows", async () => {
    const { client, sent } = recordingClient((name) =>
      name === "CreateMultipartUploadCommand" ? { UploadId: "u3" } : { ETag: '"e"' },
    );
    const driver = new S3VolumeDriver({ name: "real", bucket: "b", client });
    const failing = {
      crc32c: () => 0,
      size: () => 0,
      async *[Symbol.asyncIterator]() {
        yield patternBytes(9 * MiB, 64);
        throw new StrataError("ECORRUPT", "declared CRC32C does not match");
      },
    };
    const err = await driver
      .put("bad", failing, { metadata: {}, ifNoneMatch: false })
      .catch((e: unknown) => e);
    expect(isStrataError(err, "ECORRUPT")).toBe(true);
    expect(sent.map((c) => c.name)).toContain("AbortMultipartUploadCommand");
    expect(sent.map((c) => c.name)).not.toContain("CompleteMultipartUploadCommand");
  });

  it("head returns the native full-object CRC32C when the metadata has none", async () => {
    const crc = 0x1234abcd;
    const { client, sent } = recordingClient(
      () => ({ ContentLength: 5, Metadata: {}, ChecksumCRC32C: crc32cToBase64(crc) }),
      "from answer",
    );
    const driver = new S3VolumeDriver({ name: "real", bucket: "b", client });
    expect(await driver.head("k")).toMatchObject({ size: 5, crc32c: crc });
    expect(sent[0]!.input).toMatchObject({ ChecksumMode: "ENABLED" });
  });
});

describe("s3 error mapping", () => {
  const where = { volume: "v", bucket: "b", op: "put", key: "k" };
  const sdkError = (name: string, status: number) =>
    Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

  it.each([
    ["NoSuchKey", 404, false, "ENOENT"],
    ["NotFound", 404, false, "ENOENT"],
    ["NoSuchBucket", 404, false, "EUNAVAIL"],
    ["PreconditionFailed", 412, true, "EEXIST"],
    ["ConditionalRequestConflict", 409, true, "EEXIST"],
    ["PreconditionFailed", 412, false, "ECONFLICT"],
    ["SlowDown", 503, false, "ETHROTTLED"],
    ["ThrottlingException", 400, false, "ETHROTTLED"],
    ["AccessDenied", 403, false, "EACCES"],
    ["InvalidAccessKeyId", 403, false, "EACCES"],
    ["SignatureDoesNotMatch", 403, false, "EACCES"],
    ["InternalError", 500, false, "EUNAVAIL"],
    ["BadDigest", 400, false, "ECORRUPT"],
    ["InvalidArgument", 400, false, "EINVAL"],
    ["TimeoutError", 0, false, "ETIMEDOUT"],
    ["AbortError", 0, false, "EABORTED"],
  ] as const)("%s (%i, create-only %s) → %s", (name, status, createOnly, code) => {
    const err = mapS3Error(sdkError(name, status), { ...where, createOnly });
    expect(err.code).toBe(code);
    expect(err.details).toMatchObject({ volume: "v", key: "k" });
    expect(err.cause).toBeDefined();
  });

  it("network errors by code: ECONNREFUSED/ECONNRESET → EUNAVAIL, ETIMEDOUT → ETIMEDOUT", () => {
    for (const [code, want] of [
      ["ECONNREFUSED", "EUNAVAIL"],
      ["ECONNRESET", "EUNAVAIL"],
      ["ETIMEDOUT", "ETIMEDOUT"],
    ] as const) {
      expect(mapS3Error(Object.assign(new Error(code), { code }), where).code).toBe(want);
    }
  });
});
