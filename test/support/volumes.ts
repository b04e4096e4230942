/**
 * Fixture helpers shared by the volume driver tests (test/adapters/volume-*.test.ts), and the
 * "SQLite + two volumes on stand-in X" fixture behind the per-backend data-plane and scrub files.
 */
import { randomBytes } from "node:crypto";
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
import type { ContainerClient } from "@azure/storage-blob";
import { Storage } from "@google-cloud/storage";
import { describe, expect, it } from "vitest";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { AzureVolumeDriver } from "../../adapters/volumes/azure.ts";
import { GcsVolumeDriver } from "../../adapters/volumes/gcs.ts";
import { corruptLocalObject, LocalVolumeDriver } from "../../adapters/volumes/local.ts";
import { S3VolumeDriver } from "../../adapters/volumes/s3.ts";
import { crc32c, crc32cUpdate } from "../../core/crc32c.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import type { PutBody, VolumeDriver } from "../../core/volume/port.ts";
import type { Volume } from "../../core/volume/volume.ts";
import { azuriteServiceClient } from "../../standins/azure.ts";
import { corruptGcsStandInObject, gcsStandInStorageOptions } from "../../standins/gcs.ts";
import { s3StandInClientConfig } from "../../standins/s3.ts";
import { patternBytes } from "../conformance/volume.ts";
import { standInEndpoint } from "./standins.ts";

const MiB = 1024 * 1024;
let seq = 0;

/** A bucket or container name no other fixture or test process uses: `strata-<kind>-<pid>-<time>-<n>`. */
export function uniqueName(kind: string): string {
  return `strata-${kind}-${process.pid}-${Date.now().toString(36)}-${seq++}`;
}

/** A key prefix of its own for one run against a real cloud bucket, so runs never see each other's keys. */
export function realRunPrefix(): string {
  return `strata-test-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}/`;
}

/**
 * A suite `title` whose one case `name` is skipped for `reason`. With `log` the reason is also
 * printed as `[log] skipped: reason`, so a run that skipped a backend says so in its output.
 */
export function skippedSuite(title: string, name: string, reason: string, log?: string): void {
  describe(title, () => {
    it(name, (ctx) => {
      if (log) console.info(`[${log}] skipped: ${reason}`);
      ctx.skip(reason);
    });
  });
}

/**
 * A PutBody like the core wrapper's, for calling a driver directly: counts and checksums the chunks
 * of `source` as they are iterated; optionally declares a size or CRC, or throws at the end (as the
 * wrapper does when the body does not match what was declared).
 */
export function countingBody(
  source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  options: { declaredSize?: number; declaredCrc32c?: number; failAtEnd?: Error } = {},
): PutBody & { yielded(): number } {
  let crc = 0;
  let size = 0;
  return {
    declaredSize: options.declaredSize,
    declaredCrc32c: options.declaredCrc32c,
    crc32c: () => crc,
    size: () => size,
    yielded: () => size,
    async *[Symbol.asyncIterator]() {
      for await (const chunk of source) {
        crc = crc32cUpdate(crc, chunk);
        size += chunk.length;
        yield chunk;
      }
      if (options.failAtEnd) throw options.failAtEnd;
    },
  };
}

/** `bytes` as views of `chunk` bytes each (the last one shorter), nothing copied. */
export function* chunksOf(bytes: Uint8Array, chunk: number): Iterable<Uint8Array> {
  for (let at = 0; at < bytes.length; at += chunk) yield bytes.subarray(at, at + chunk);
}

/**
 * Put at `key` a body whose chunks straddle part (block) boundaries — one 20 MiB chunk, then odd
 * ones — and check that the stored object and its bytes are exactly the body's.
 */
export async function expectStraddlingBodyStoredExact(volume: Volume, key: string): Promise<void> {
  const big = patternBytes(20 * MiB + 1, 44);
  const tail = [patternBytes(3, 45), patternBytes(1, 46), patternBytes(9 * MiB, 47)];
  const all = Buffer.concat([big, ...tail]);
  const info = await volume.put(
    key,
    (async function* () {
      yield big;
      yield* tail;
    })(),
  );
  expect(info).toMatchObject({ size: all.length, crc32c: crc32c(all) });
  expect(Buffer.from(await volume.getBytes(key)).equals(all)).toBe(true);
}

/** Rewrite an S3 object with one byte flipped and the same user metadata (so its recorded CRC is now wrong). */
export async function corruptS3Object(client: S3Client, bucket: string, key: string): Promise<void> {
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = await got.Body!.transformToByteArray();
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, Metadata: head.Metadata }));
}

/** Every object under `prefix` in `bucket`, removed one by one (s3rver has no DeleteObjects quirks to trust). */
export async function emptyS3Prefix(client: S3Client, bucket: string, prefix: string): Promise<void> {
  let token: string | undefined;
  do {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? [])
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** Rewrite a blob with one byte flipped and the same metadata (so its recorded CRC is now wrong). */
export async function corruptAzureBlob(container: ContainerClient, name: string): Promise<void> {
  const blob = container.getBlockBlobClient(name);
  // https://learn.microsoft.com/rest/api/storageservices/get-blob-properties
  const { metadata } = await blob.getProperties();
  // https://learn.microsoft.com/rest/api/storageservices/get-blob
  const bytes = await blob.downloadToBuffer();
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  // https://learn.microsoft.com/rest/api/storageservices/put-blob
  await blob.upload(bytes, bytes.length, { metadata });
}

export type VolumeBackend = "local" | "s3" | "azure" | "gcs";

/** Suite titles per backend, naming the server each stand-in is. */
const BACKEND_TITLE: Record<VolumeBackend, string> = {
  local: "sqlite + local volumes",
  s3: "sqlite + s3 volumes (s3rver)",
  azure: "sqlite + azure volumes (azurite)",
  gcs: "sqlite + gcs volumes (stand-in)",
};

/**
 * SQLite metadata + two empty volumes "a" and "b" on one backend (the two share one bucket or
 * container, under prefixes "a/" and "b/"), and a way to corrupt a stored object at rest: the
 * fixture the data-plane and scrub suites take (DataFixture, ScrubFixture).
 */
export interface SqliteTwoVolumes {
  store: MetadataStore;
  drivers: { a: VolumeDriver; b: VolumeDriver };
  /** Flip one stored byte of `key` on volume `volume`, keeping its recorded CRC32C. */
  corruptAtRest(volume: "a" | "b", key: string): Promise<void>;
  dispose(): Promise<void>;
}

/** A fresh {@link SqliteTwoVolumes} on `backend`; `endpoint` is its stand-in's (unused for local). */
export async function sqliteTwoVolumes(
  backend: VolumeBackend,
  endpoint: string | undefined,
  tag: string,
): Promise<SqliteTwoVolumes> {
  const dir = await mkdtemp(join(tmpdir(), `strata-${tag}-${backend}-`));
  const store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
  const removeDir = async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  };
  if (backend === "local") {
    const a = new LocalVolumeDriver({ name: "a", root: join(dir, "a") });
    const b = new LocalVolumeDriver({ name: "b", root: join(dir, "b") });
    return {
      store,
      drivers: { a, b },
      corruptAtRest: (volume, key) => corruptLocalObject(volume === "a" ? a : b, key, 100),
      dispose: removeDir,
    };
  }
  if (!endpoint) throw new Error(`the ${backend} stand-in is not running`);
  const bucket = uniqueName(tag);
  if (backend === "s3") {
    const client = new S3Client(s3StandInClientConfig(endpoint));
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
      corruptAtRest: (volume, key) => corruptS3Object(client, bucket, `${volume}/${key}`),
      async dispose() {
        await removeDir();
        await emptyS3Prefix(client, bucket, "");
        await client.send(new DeleteBucketCommand({ Bucket: bucket }));
        client.destroy();
      },
    };
  }
  if (backend === "azure") {
    const container = azuriteServiceClient(endpoint).getContainerClient(bucket);
    // https://learn.microsoft.com/rest/api/storageservices/create-container
    await container.create();
    const driver = (name: string) =>
      new AzureVolumeDriver({ name, containerClient: container, prefix: `${name}/` });
    return {
      store,
      drivers: { a: driver("a"), b: driver("b") },
      corruptAtRest: (volume, key) => corruptAzureBlob(container, `${volume}/${key}`),
      async dispose() {
        await removeDir();
        // https://learn.microsoft.com/rest/api/storageservices/delete-container
        await container.delete();
      },
    };
  }
  const storage = new Storage(gcsStandInStorageOptions(endpoint));
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
      await removeDir();
      // https://cloud.google.com/storage/docs/json_api/v1/objects/delete
      await storage.bucket(bucket).deleteFiles({ force: true });
      // https://cloud.google.com/storage/docs/json_api/v1/buckets/delete
      await storage.bucket(bucket).delete({ ignoreNotFound: true });
    },
  };
}

/**
 * The whole of a per-backend test file for a suite that takes {@link SqliteTwoVolumes}: runs
 * `suite` on `backend`, or — when the global setup did not start that stand-in (STRATA_STANDINS) —
 * a skipped case that says so, logged as `[<tag>-<backend>]`. `title` prefixes the skipped suite.
 */
export function testOnTwoVolumes(
  suite: (name: string, make: () => Promise<SqliteTwoVolumes>) => void,
  backend: VolumeBackend,
  { title, tag }: { title: string; tag: string },
): void {
  const endpoint = backend === "local" ? undefined : standInEndpoint(backend);
  if (backend === "local" || endpoint) {
    suite(BACKEND_TITLE[backend], () => sqliteTwoVolumes(backend, endpoint, tag));
    return;
  }
  skippedSuite(
    `${title}: ${BACKEND_TITLE[backend]}`,
    `needs the ${backend} stand-in`,
    `the ${backend} stand-in was not started (STRATA_STANDINS excludes ${backend})`,
    `${tag}-${backend}`,
  );
}
