/**
 * The S3 volume driver: strata objects in one S3 bucket (or an S3-compatible server such as s3rver),
 * optionally under a key prefix.
 *
 * How each contract point maps onto S3:
 * - **CRC32C.** Every object carries its CRC32C as hex in the user metadata `x-amz-meta-strata-crc32c`
 *   whenever it is known when the object is written. With `nativeChecksums` (real S3) S3 also validates
 *   it: `x-amz-checksum-crc32c` on PutObject, and a FULL_OBJECT CRC32C on CompleteMultipartUpload, read
 *   back with `ChecksumMode: ENABLED`. Without native checksums and without a CRC declared up front, a
 *   multipart object's CRC is only known after the last part, so it is recorded by copying the object
 *   onto itself with `MetadataDirective: REPLACE` (one extra request; on real S3 a server-side rewrite
 *   limited to 5 GiB; on s3rver a metadata-only update). Between CompleteMultipartUpload and that copy
 *   the object is visible without a CRC, and `head`/`get` refuse it with EIO.
 * - **Create-only.** With `conditionalWrites` (real S3): `If-None-Match: *` on PutObject,
 *   CompleteMultipartUpload and CopyObject — atomic, one racing writer wins. Without (s3rver ignores the
 *   header): HEAD, then PUT — **not atomic**, two racing writers may both succeed;
 *   `capabilities.atomicCreateOnly` says so.
 * - **Large bodies.** Up to one part (`partSize`, default 8 MiB) the body is buffered and sent as one
 *   PutObject. Larger bodies go multipart with at most `queueSize` parts in flight, so memory stays
 *   below partSize × (queueSize + 1). Any failure, including the body throwing at its end (size/CRC
 *   mismatch), aborts the multipart upload: nothing becomes visible.
 * - **Copy.** CopyObject, server-side, with the source's metadata (CRC included). CopyObject stops at
 *   5 GiB; larger sources would need UploadPartCopy, which is not implemented: ENOTSUP.
 * - **Limits and gaps.** S3 keys are at most 1,024 UTF-8 bytes *including* the prefix, so with a
 *   `prefix` the longest keys the port accepts are refused (EINVAL). HEAD has no error body, so a
 *   `head` in a missing bucket reads as ENOENT (every other call says EUNAVAIL, naming the bucket).
 *   The SDK's own retries (3 attempts by default) run inside each of the `Volume` wrapper's attempts;
 *   pass a client with `maxAttempts: 1` to leave retrying to the wrapper alone.
 */
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { crc32c, crc32cFromBase64, crc32cFromHex, crc32cToBase64, crc32cToHex } from "../../core/crc32c.ts";
import { type ErrorCode, isStrataError, StrataError } from "../../core/errors.ts";
import type {
  DriverGetOptions,
  DriverPutOptions,
  GetResult,
  ListPage,
  ObjectInfo,
  PutBody,
  VolumeCapabilities,
  VolumeDriver,
} from "../../core/volume/port.ts";
import {
  emptyBody,
  infoOrRelease,
  type Part,
  PartReader,
  type ReplyStream,
  totalFromContentRange,
  translateErrors,
  uploadParts,
} from "./parts.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** S3's smallest part (except the last), largest part count, largest CopyObject source. */
const MIN_PART_SIZE = 5 * MiB;
const MAX_PARTS = 10_000;
const MAX_COPY_OBJECT_SIZE = 5 * GiB;
const MAX_OBJECT_SIZE = 5 * 1024 * GiB;
/** User-metadata name holding the object's CRC32C as 8 hex digits (`x-amz-meta-strata-crc32c`). */
export const S3_CRC_METADATA = "strata-crc32c";

export interface S3VolumeOptions {
  /** Volume name, used in every error message. */
  name: string;
  bucket: string;
  /** Prepended to every key (plain concatenation: include the trailing `/` if you want one); it counts against S3's 1,024-byte key limit. */
  prefix?: string;
  /** A ready client (not closed by `close()`); otherwise one is built from `clientConfig`. */
  client?: S3Client;
  clientConfig?: S3ClientConfig;
  /**
   * The server honours `If-None-Match: *` (real S3 does since 2024; s3rver ignores it). Default true.
   * When false, create-only is HEAD-then-PUT and not atomic.
   */
  conditionalWrites?: boolean;
  /** The server validates and returns `x-amz-checksum-crc32c` (real S3). Default true. */
  nativeChecksums?: boolean;
  /** Multipart part size in bytes, at least 5 MiB (default 8 MiB); bodies up to this size go in one PUT. */
  partSize?: number;
  /** Parts uploaded in parallel (default 4). */
  queueSize?: number;
}

interface Context {
  op: string;
  key?: string;
  createOnly?: boolean;
  signal?: AbortSignal;
}

export class S3VolumeDriver implements VolumeDriver {
  readonly name: string;
  readonly capabilities: VolumeCapabilities;
  readonly bucket: string;
  private readonly prefix: string;
  private readonly client: S3Client;
  private readonly ownsClient: boolean;
  private readonly conditionalWrites: boolean;
  private readonly nativeChecksums: boolean;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(options: S3VolumeOptions) {
    this.name = options.name;
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? "";
    this.conditionalWrites = options.conditionalWrites ?? true;
    this.nativeChecksums = options.nativeChecksums ?? true;
    this.partSize = options.partSize ?? 8 * MiB;
    this.queueSize = options.queueSize ?? 4;
    if (!Number.isInteger(this.partSize) || this.partSize < MIN_PART_SIZE)
      throw new StrataError(
        "EINVAL",
        `volume \`${this.name}\`: partSize must be an integer ≥ 5 MiB (S3's minimum)`,
        {
          details: { volume: this.name },
        },
      );
    if (!Number.isInteger(this.queueSize) || this.queueSize < 1)
      throw new StrataError("EINVAL", `volume \`${this.name}\`: queueSize must be a positive integer`, {
        details: { volume: this.name },
      });
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? new S3Client(options.clientConfig ?? {});
    this.capabilities = {
      atomicCreateOnly: this.conditionalWrites,
      serverSideCopy: true,
      nativeCrc32c: this.nativeChecksums,
      // Without native checksums an undeclared CRC is recorded by a self-copy, which stops at 5 GiB.
      maxObjectSize: this.nativeChecksums ? MAX_OBJECT_SIZE : MAX_COPY_OBJECT_SIZE,
      listOrder: "utf8",
    };
  }

  async put(key: string, body: PutBody, options: DriverPutOptions): Promise<ObjectInfo> {
    const ctx: Context = { op: "put", key, createOnly: options.ifNoneMatch, signal: options.signal };
    try {
      if (options.ifNoneMatch && !this.conditionalWrites) await this.assertAbsent(key, ctx);
      const partSize = Math.max(this.partSize, Math.ceil((body.declaredSize ?? 0) / MAX_PARTS));
      const reader = new PartReader(body, partSize);
      const first = await reader.read();
      if (first.last) await this.putSingle(key, first.bytes, body.crc32c(), options, ctx);
      else {
        // Fail fast before sending every part; the condition on CompleteMultipartUpload stays the guard.
        if (options.ifNoneMatch && this.conditionalWrites) await this.assertAbsent(key, ctx);
        await this.putMultipart(key, first, reader, body, options, ctx);
      }
      return { key, size: body.size(), crc32c: body.crc32c(), metadata: { ...options.metadata } };
    } catch (err) {
      throw this.error(err, ctx);
    }
  }

  private async putSingle(
    key: string,
    bytes: Uint8Array,
    crc: number,
    options: DriverPutOptions,
    ctx: Context,
  ): Promise<void> {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.prefix + key,
        Body: bytes,
        ContentLength: bytes.length,
        Metadata: { ...options.metadata, [S3_CRC_METADATA]: crc32cToHex(crc) },
        ChecksumCRC32C: this.nativeChecksums ? crc32cToBase64(crc) : undefined,
        IfNoneMatch: options.ifNoneMatch && this.conditionalWrites ? "*" : undefined,
      }),
      this.http(ctx),
    );
  }

  private async putMultipart(
    key: string,
    first: Part,
    reader: PartReader,
    body: PutBody,
    options: DriverPutOptions,
    ctx: Context,
  ): Promise<void> {
    const fullKey = this.prefix + key;
    const declared = body.declaredCrc32c;
    const metadata: Record<string, string> = { ...options.metadata };
    if (declared !== undefined) metadata[S3_CRC_METADATA] = crc32cToHex(declared);
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html
    const created = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: fullKey,
        Metadata: metadata,
        ...(this.nativeChecksums ? { ChecksumAlgorithm: "CRC32C", ChecksumType: "FULL_OBJECT" } : {}),
      }),
      this.http(ctx),
    );
    const uploadId = created.UploadId!;
    const completed: CompletedPart[] = [];
    let completedUpload = false;
    try {
      // Parts in flight are cancelled when any part fails or the caller aborts.
      await uploadParts({
        first,
        reader,
        concurrency: this.queueSize,
        maxParts: MAX_PARTS,
        signal: ctx.signal,
        tooMany: () =>
          new StrataError(
            "E2BIG",
            `volume \`${this.name}\`: body of \`${key}\` needs more than ${MAX_PARTS} parts of ${reader.partSize} bytes; declare its size or raise partSize`,
            { details: { volume: this.name, key } },
          ),
        upload: async (bytes, index, signal) => {
          const n = index + 1;
          // https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html
          const out = await this.client.send(
            new UploadPartCommand({
              Bucket: this.bucket,
              Key: fullKey,
              UploadId: uploadId,
              PartNumber: n,
              Body: bytes,
              ContentLength: bytes.length,
              ChecksumCRC32C: this.nativeChecksums ? crc32cToBase64(crc32c(bytes)) : undefined,
            }),
            { abortSignal: signal },
          );
          completed[index] = { PartNumber: n, ETag: out.ETag, ChecksumCRC32C: out.ChecksumCRC32C };
        },
      });
      const crc = body.crc32c();
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: fullKey,
          UploadId: uploadId,
          MultipartUpload: { Parts: completed },
          IfNoneMatch: options.ifNoneMatch && this.conditionalWrites ? "*" : undefined,
          ...(this.nativeChecksums
            ? { ChecksumCRC32C: crc32cToBase64(crc), ChecksumType: "FULL_OBJECT" }
            : {}),
        }),
        this.http(ctx),
      );
      completedUpload = true;
      if (declared === undefined && !this.nativeChecksums) {
        metadata[S3_CRC_METADATA] = crc32cToHex(crc);
        await this.recordMetadata(key, metadata, ctx);
      }
    } catch (err) {
      if (completedUpload) {
        // The object became visible but its CRC could not be recorded: take it back.
        await this.client
          .send(new DeleteObjectCommand({ Bucket: this.bucket, Key: fullKey }))
          .catch(() => {});
      } else {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_AbortMultipartUpload.html
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: fullKey, UploadId: uploadId }))
          .catch(() => {});
      }
      throw err;
    }
  }

  /** Replace the user metadata of an existing object by copying it onto itself. */
  private async recordMetadata(key: string, metadata: Record<string, string>, ctx: Context): Promise<void> {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
    await this.client.send(
      new CopyObjectCommand({
        Bucket: this.bucket,
        Key: this.prefix + key,
        CopySource: this.copySource(key),
        MetadataDirective: "REPLACE",
        Metadata: metadata,
      }),
      this.http(ctx),
    );
  }

  async get(key: string, options: DriverGetOptions): Promise<GetResult> {
    const ctx: Context = { op: "get", key, signal: options.signal };
    const range = options.range;
    try {
      if (range && range.end !== undefined && range.end <= range.start)
        return { info: await this.head(key, { signal: options.signal }), body: emptyBody() };
      const ranged = range !== undefined && (range.start > 0 || range.end !== undefined);
      let out: GetObjectCommandOutput;
      try {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
        out = await this.client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: this.prefix + key,
            Range: ranged
              ? `bytes=${range.start}-${range.end === undefined ? "" : range.end - 1}`
              : undefined,
            ChecksumMode: this.nativeChecksums && !ranged ? "ENABLED" : undefined,
          }),
          this.http(ctx),
        );
      } catch (err) {
        // 416: the range starts at or after the end (S3 has no empty range). Answer with an empty body.
        if (ranged && errorName(err) === "InvalidRange") {
          const info = await this.head(key, { signal: options.signal });
          if (range.start >= info.size) return { info, body: emptyBody() };
        }
        throw err;
      }
      const stream = out.Body as ReplyStream | undefined;
      const info = await infoOrRelease(stream, async (): Promise<ObjectInfo> => {
        const size = ranged ? totalFromContentRange(out.ContentRange) : out.ContentLength;
        if (size === undefined)
          throw new StrataError("EIO", `volume \`${this.name}\`: S3 sent no object size for \`${key}\``, {
            details: { volume: this.name, key },
          });
        const crc = this.crcOf(out.Metadata, out.ChecksumCRC32C);
        return crc === undefined
          ? // A ranged read of an object whose CRC is only the native one: S3 returns it on HEAD.
            { ...(await this.head(key, { signal: options.signal })), size }
          : {
              key,
              size,
              crc32c: crc,
              metadata: userMetadata(out.Metadata),
              lastModified: out.LastModified,
            };
      });
      return { info, body: stream ? translateErrors(stream, (err) => this.error(err, ctx)) : emptyBody() };
    } catch (err) {
      throw this.error(err, ctx);
    }
  }

  async head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    const ctx: Context = { op: "head", key, signal: options.signal };
    try {
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
      const out = await this.client.send(
        new HeadObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          ChecksumMode: this.nativeChecksums ? "ENABLED" : undefined,
        }),
        this.http(ctx),
      );
      const crc = this.crcOf(out.Metadata, out.ChecksumCRC32C);
      if (crc === undefined) throw this.missingCrc(key);
      return {
        key,
        size: out.ContentLength ?? 0,
        crc32c: crc,
        metadata: userMetadata(out.Metadata),
        lastModified: out.LastModified,
      };
    } catch (err) {
      throw this.error(err, ctx);
    }
  }

  async list(
    prefix: string,
    options: { cursor?: string; limit?: number; signal?: AbortSignal } = {},
  ): Promise<ListPage> {
    const ctx: Context = { op: "list", signal: options.signal };
    const limit = Math.min(Math.max(Math.floor(options.limit ?? 1000), 1), 1000);
    try {
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
      const out = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix + prefix,
          MaxKeys: limit,
          ContinuationToken: options.cursor,
        }),
        this.http(ctx),
      );
      const entries = (out.Contents ?? []).map((o) => ({
        key: (o.Key ?? "").slice(this.prefix.length),
        size: o.Size ?? 0,
      }));
      return out.IsTruncated && out.NextContinuationToken
        ? { entries, cursor: out.NextContinuationToken }
        : { entries };
    } catch (err) {
      throw this.error(err, ctx);
    }
  }

  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const ctx: Context = { op: "delete", key, signal: options.signal };
    try {
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html (204 for a missing key too)
      await this.client.send(
        new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
        this.http(ctx),
      );
    } catch (err) {
      const mapped = this.error(err, ctx);
      if (mapped.code !== "ENOENT") throw mapped;
    }
  }

  async copy(
    sourceKey: string,
    targetKey: string,
    options: { ifNoneMatch: boolean; signal?: AbortSignal },
  ): Promise<ObjectInfo> {
    const source = await this.head(sourceKey, { signal: options.signal });
    const ctx: Context = {
      op: "copy",
      key: targetKey,
      createOnly: options.ifNoneMatch,
      signal: options.signal,
    };
    try {
      if (source.size > MAX_COPY_OBJECT_SIZE)
        throw new StrataError(
          "ENOTSUP",
          `volume \`${this.name}\`: \`${sourceKey}\` is ${source.size} bytes; S3 CopyObject stops at 5 GiB and this driver does not implement UploadPartCopy. Copy it through get + put instead`,
          { details: { volume: this.name, key: sourceKey } },
        );
      if (options.ifNoneMatch && !this.conditionalWrites) await this.assertAbsent(targetKey, ctx);
      // REPLACE with the source's metadata plus its CRC, so the copy carries its CRC in metadata even
      // when the source had only the native one.
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + targetKey,
          CopySource: this.copySource(sourceKey),
          MetadataDirective: "REPLACE",
          Metadata: { ...source.metadata, [S3_CRC_METADATA]: crc32cToHex(source.crc32c) },
          IfNoneMatch: options.ifNoneMatch && this.conditionalWrites ? "*" : undefined,
          ChecksumAlgorithm: this.nativeChecksums ? "CRC32C" : undefined,
        }),
        this.http(ctx),
      );
      return { key: targetKey, size: source.size, crc32c: source.crc32c, metadata: source.metadata };
    } catch (err) {
      // NoSuchKey from CopyObject is about the source (a missing target is the normal case).
      throw this.error(
        err,
        errorName(err) === "NoSuchKey" ? { ...ctx, op: "copy from", key: sourceKey } : ctx,
      );
    }
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }

  /**
   * EEXIST if the key exists. On its own (servers without conditional writes) this is HEAD-then-PUT
   * and not atomic; with conditional writes it only saves uploading the parts of a doomed upload.
   */
  private async assertAbsent(key: string, ctx: Context): Promise<void> {
    try {
      await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
        this.http(ctx),
      );
    } catch (err) {
      if (this.error(err, ctx).code === "ENOENT") return;
      throw err;
    }
    throw new StrataError("EEXIST", `volume \`${this.name}\`: \`${key}\` already exists`, {
      details: { volume: this.name, key },
    });
  }

  /**
   * `x-amz-copy-source`: bucket/key, URL-encoded per segment (slashes kept), as S3 requires: S3 decodes
   * a raw `+` as a space. s3rver decodes the header with `decodeURI`, which leaves `%2B`, `%3F`, `%23`,
   * `%26`, `%3D`, `%24`, `%2C`, `%3B`, `%3A`, `%40` encoded: on s3rver, keys with `+?#&=$,;:@` cannot be
   * copied (ENOENT).
   */
  private copySource(key: string): string {
    const encoded = (this.prefix + key).split("/").map(encodeURIComponent).join("/");
    return `${this.bucket}/${encoded}`;
  }

  private crcOf(
    metadata: Record<string, string> | undefined,
    native: string | undefined,
  ): number | undefined {
    const fromMetadata = metadata?.[S3_CRC_METADATA];
    if (fromMetadata !== undefined) return crc32cFromHex(fromMetadata);
    // A COMPOSITE multipart checksum ("…-N") is not a whole-object CRC: crc32cFromBase64 rejects it.
    return native === undefined ? undefined : crc32cFromBase64(native);
  }

  private missingCrc(key: string): StrataError {
    return new StrataError(
      "EIO",
      `volume \`${this.name}\`: \`${key}\` in bucket \`${this.bucket}\` has no recorded CRC32C: it was not written by strata, or its upload was interrupted before the CRC was recorded. Rewrite it`,
      { details: { volume: this.name, key } },
    );
  }

  /** Per-request options: the caller's abort signal. */
  private http(ctx: Context): { abortSignal?: AbortSignal } {
    return ctx.signal ? { abortSignal: ctx.signal } : {};
  }

  private error(err: unknown, ctx: Context): StrataError {
    return mapS3Error(err, { volume: this.name, bucket: this.bucket, ...ctx });
  }
}

function errorName(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { name?: unknown; Code?: unknown };
  return typeof e.Code === "string" ? e.Code : typeof e.name === "string" ? e.name : undefined;
}

/**
 * Translate an S3 SDK or network exception into a StrataError naming the volume, key and remedy.
 * Exported for unit tests.
 */
export function mapS3Error(
  err: unknown,
  where: {
    volume: string;
    bucket: string;
    op: string;
    key?: string;
    createOnly?: boolean;
    signal?: AbortSignal;
  },
): StrataError {
  if (isStrataError(err)) return err;
  const { volume, bucket, op, key } = where;
  const details = { volume, key, bucket };
  const e = (typeof err === "object" && err !== null ? err : {}) as {
    name?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  // The SDK names a body-less error reply (e.g. a 403 to HEAD) "Unknown": rely on the status then.
  const rawName = errorName(err) ?? "";
  const name = rawName === "Unknown" ? "" : rawName;
  const status = e.$metadata?.httpStatusCode;
  const netCode = typeof e.code === "string" ? e.code : "";
  const what = `volume \`${volume}\`: ${op}${key === undefined ? "" : ` of \`${key}\``} in S3 bucket \`${bucket}\``;
  const make = (code: ErrorCode, message: string) => new StrataError(code, message, { cause: err, details });

  if (where.signal?.aborted || name === "AbortError")
    return make("EABORTED", `${what} aborted by the caller`);
  if (name === "NoSuchBucket")
    return make(
      "EUNAVAIL",
      `${what} failed: bucket ${bucket} does not exist: create it or fix volumes.${volume}.bucket`,
    );
  if (name === "NoSuchKey" || name === "NotFound" || status === 404)
    return make("ENOENT", `${what}: no such object`);
  if (
    name === "PreconditionFailed" ||
    name === "ConditionalRequestConflict" ||
    status === 412 ||
    status === 409
  )
    return where.createOnly
      ? make("EEXIST", `${what}: the key already exists (create-only)`)
      : make("ECONFLICT", `${what}: a precondition failed (${name || status})`);
  if (
    ["SlowDown", "ThrottlingException", "Throttling", "RequestLimitExceeded", "TooManyRequests"].includes(
      name,
    ) ||
    status === 429 ||
    status === 503
  )
    return make("ETHROTTLED", `${what}: S3 asked us to slow down (${name || status}); retry later`);
  if (
    [
      "AccessDenied",
      "InvalidAccessKeyId",
      "SignatureDoesNotMatch",
      "ExpiredToken",
      "InvalidToken",
      "CredentialsProviderError",
    ].includes(name) ||
    status === 403
  )
    return make("EACCES", `${what} refused (${name || status}): check credentials for volume ${volume}`);
  if (
    ["BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch"].includes(name) ||
    /checksum mismatch/i.test(e.message ?? "")
  )
    return make("ECORRUPT", `${what}: checksum mismatch (${name || e.message})`);
  if (
    name === "TimeoutError" ||
    name === "RequestTimeout" ||
    netCode === "ETIMEDOUT" ||
    netCode === "ESOCKETTIMEDOUT"
  )
    return make("ETIMEDOUT", `${what}: no answer in time; retry later`);
  if (
    [
      "ECONNREFUSED",
      "ECONNRESET",
      "EPIPE",
      "ENOTFOUND",
      "EAI_AGAIN",
      "EHOSTUNREACH",
      "ECONNABORTED",
    ].includes(netCode) ||
    /socket hang up/i.test(e.message ?? "") ||
    (status !== undefined && status >= 500)
  )
    return make(
      "EUNAVAIL",
      `${what} failed: S3 endpoint unreachable or failing (${netCode || name || status})`,
    );
  if (
    status === 400 ||
    status === 416 ||
    ["InvalidArgument", "InvalidRequest", "InvalidRange", "EntityTooLarge"].includes(name)
  )
    return make("EINVAL", `${what} rejected as malformed (${name || status}): ${e.message ?? ""}`);
  return make("EIO", `${what} failed: ${name || "error"}: ${e.message ?? String(err)}`);
}

/** User metadata without strata's own entries. */
function userMetadata(metadata: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata ?? {})) if (k !== S3_CRC_METADATA) out[k] = v;
  return out;
}
