/**
 * The Google Cloud Storage volume driver (`@google-cloud/storage` 7.x, JSON API).
 *
 * - put: bodies up to `resumableThreshold` are buffered and sent in one multipart upload with their
 *   CRC32C, which GCS validates before storing; larger bodies (or a declared size above the
 *   threshold) stream through a resumable upload, memory bounded by the stream's buffers (single
 *   request) or by `chunkSize` (chunked). Create-only is `ifGenerationMatch: 0`, enforced by GCS.
 * - CRC32C is GCS's native `crc32c` field: sent up front when known (a declared CRC, or a buffered
 *   body) so GCS refuses a mismatch; otherwise the stored value is compared with what we streamed
 *   and a mismatch (bytes changed in transit) deletes the new generation and fails with ECORRUPT.
 * - A body whose iterator throws (the core's size/CRC check at end of stream) destroys the upload
 *   before its final request, so GCS never finalizes the object.
 *
 * The client's own retries are off unless `storageOptions.retryOptions` says otherwise: the core
 * Volume wrapper owns the retry policy (bounded, with jitter), and a create-only write retried
 * inside the client after a lost reply would come back as a false EEXIST.
 */
import { addAbortSignal, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type File, Storage, type StorageOptions } from "@google-cloud/storage";
import { crc32cFromBase64, crc32cToBase64 } from "../../core/crc32c.ts";
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

const MiB = 1024 * 1024;

export interface GcsVolumeOptions {
  /** Volume name, used in every error message. */
  name: string;
  /** The bucket (must exist: strata never creates buckets on real GCS). */
  bucket: string;
  /** A ready client (shared between volumes); otherwise one is built from `storageOptions`. */
  storage?: Storage;
  /** Options for the client built when `storage` is absent (credentials, `apiEndpoint`, …). */
  storageOptions?: StorageOptions;
  /** Prepended to every key, e.g. `"strata/"`; listing strips it again. */
  prefix?: string;
  /** Bodies larger than this go through a resumable upload (default 8 MiB). */
  resumableThreshold?: number;
  /**
   * Resumable uploads in chunks of this many bytes (a multiple of 256 KiB), each its own request
   * and held in memory until acknowledged. Default: one streaming request per upload.
   */
  chunkSize?: number;
  /**
   * Use `ifGenerationMatch` for create-only puts and copies (default true: GCS honours it). With
   * `false` (for a server that ignores preconditions) create-only is check-then-write: NOT atomic,
   * and `capabilities.atomicCreateOnly` is false.
   */
  preconditions?: boolean;
}

/** GCS objects may be up to 5 TiB. https://cloud.google.com/storage/quotas#objects */
const MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MiB;

export class GcsVolumeDriver implements VolumeDriver {
  readonly name: string;
  readonly capabilities: VolumeCapabilities;
  private readonly storage: Storage;
  private readonly bucketName: string;
  private readonly prefix: string;
  private readonly resumableThreshold: number;
  private readonly chunkSize: number | undefined;
  private readonly preconditions: boolean;

  constructor(options: GcsVolumeOptions) {
    this.name = options.name;
    this.bucketName = options.bucket;
    this.prefix = options.prefix ?? "";
    this.resumableThreshold = options.resumableThreshold ?? 8 * MiB;
    this.chunkSize = options.chunkSize;
    // https://cloud.google.com/storage/docs/performing-resumable-uploads#chunked-upload
    if (this.chunkSize !== undefined && (this.chunkSize <= 0 || this.chunkSize % (256 * 1024) !== 0))
      throw new StrataError(
        "EINVAL",
        `volume \`${this.name}\`: chunkSize ${this.chunkSize} must be a positive multiple of 256 KiB (GCS's rule for resumable chunks)`,
        { details: { volume: this.name } },
      );
    this.preconditions = options.preconditions ?? true;
    this.storage =
      options.storage ??
      new Storage({
        ...options.storageOptions,
        retryOptions: { autoRetry: false, ...options.storageOptions?.retryOptions },
      });
    this.capabilities = {
      atomicCreateOnly: this.preconditions,
      serverSideCopy: true,
      nativeCrc32c: true,
      maxObjectSize: MAX_OBJECT_SIZE,
      listOrder: "utf8",
    };
  }

  private file(key: string, generation?: string | number): File {
    return this.storage
      .bucket(this.bucketName)
      .file(this.prefix + key, generation === undefined ? undefined : { generation: Number(generation) });
  }

  async put(key: string, body: PutBody, options: DriverPutOptions): Promise<ObjectInfo> {
    const { signal } = options;
    try {
      signal?.throwIfAborted();
      if (options.ifNoneMatch && !this.preconditions && (await this.exists(key, signal)))
        throw this.exists_(key);
      const iterator = body[Symbol.asyncIterator]();
      const buffered: Uint8Array[] = [];
      let bufferedBytes = 0;
      let ended = false;
      const goResumable = body.declaredSize !== undefined && body.declaredSize > this.resumableThreshold;
      while (!goResumable && bufferedBytes <= this.resumableThreshold) {
        const next = await iterator.next();
        if (next.done) {
          ended = true;
          break;
        }
        buffered.push(next.value);
        bufferedBytes += next.value.length;
      }
      // The caller's declared CRC first: GCS then checks the bytes against what the caller expects.
      const crc = body.declaredCrc32c ?? (ended ? body.crc32c() : undefined);
      const resource: Record<string, unknown> = {
        contentType: "application/octet-stream",
        metadata: { ...options.metadata },
      };
      if (crc !== undefined) resource.crc32c = crc32cToBase64(crc);
      const file = this.file(key);
      // https://cloud.google.com/storage/docs/uploading-objects (multipart)
      // https://cloud.google.com/storage/docs/performing-resumable-uploads (resumable)
      const stream = file.createWriteStream({
        resumable: !ended,
        chunkSize: ended ? undefined : this.chunkSize,
        validation: false,
        metadata: resource,
        preconditionOpts: options.ifNoneMatch && this.preconditions ? { ifGenerationMatch: 0 } : undefined,
      });
      const source = ended ? [Buffer.concat(buffered)] : rest(buffered, iterator);
      await pipeline(Readable.from(source, { objectMode: false }), stream, { signal });
      const stored = file.metadata as Record<string, unknown>;
      const info = this.info(key, stored);
      if (crc === undefined && info.crc32c !== body.crc32c()) {
        // GCS stored other bytes than we streamed: remove exactly that generation, report it.
        // https://cloud.google.com/storage/docs/json_api/v1/objects/delete
        await file.delete({ ifGenerationMatch: Number(stored.generation) }).catch(() => undefined);
        throw new StrataError(
          "ECORRUPT",
          `volume \`${this.name}\`: GCS stored \`${key}\` with CRC32C ${info.crc32c} but ${body.crc32c()} was sent; the upload was removed, try again`,
          { details: { volume: this.name, key, bucket: this.bucketName } },
        );
      }
      return info;
    } catch (err) {
      throw this.translate(err, "put", key, { createOnly: options.ifNoneMatch, signal });
    }
  }

  async get(key: string, options: DriverGetOptions): Promise<GetResult> {
    const { signal } = options;
    const info = await this.stat(key, signal);
    const generation = info.generation;
    const start = Math.min(options.range?.start ?? 0, info.size);
    const end = Math.min(options.range?.end ?? info.size, info.size);
    const whole = start === 0 && end === info.size;
    const driver = this;
    async function* body(): AsyncIterable<Uint8Array> {
      if (start >= end) return;
      try {
        // https://cloud.google.com/storage/docs/json_api/v1/objects/get (alt=media, Range: inclusive end)
        // Pinned to the generation `head` saw, so the bytes belong to `info` even if the key is rewritten.
        const stream = driver
          .file(key, generation)
          .createReadStream(whole ? { validation: false } : { validation: false, start, end: end - 1 });
        if (signal) addAbortSignal(signal, stream);
        for await (const chunk of stream) yield chunk as Uint8Array;
      } catch (err) {
        throw driver.translate(err, "read", key, { signal });
      }
    }
    return { info: stripGeneration(info), body: body() };
  }

  async head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    return stripGeneration(await this.stat(key, options.signal));
  }

  /** `head` plus the generation, so a following read can pin exactly that version. */
  private async stat(
    key: string,
    signal: AbortSignal | undefined,
  ): Promise<ObjectInfo & { generation: string }> {
    try {
      signal?.throwIfAborted();
      // https://cloud.google.com/storage/docs/json_api/v1/objects/get
      const [metadata] = await abortable(this.file(key).getMetadata(), signal);
      return {
        ...this.info(key, metadata as Record<string, unknown>),
        generation: String(metadata.generation),
      };
    } catch (err) {
      throw this.translate(err, "head", key, { signal });
    }
  }

  async list(
    prefix: string,
    options: { cursor?: string; limit?: number; signal?: AbortSignal } = {},
  ): Promise<ListPage> {
    try {
      options.signal?.throwIfAborted();
      const limit = Math.max(1, Math.min(options.limit ?? 1000, 1000));
      // https://cloud.google.com/storage/docs/json_api/v1/objects/list
      const [files, next] = await abortable(
        this.storage.bucket(this.bucketName).getFiles({
          prefix: this.prefix + prefix,
          maxResults: limit,
          pageToken: options.cursor,
          autoPaginate: false,
        }),
        options.signal,
      );
      const cursor = (next as { pageToken?: string } | null | undefined)?.pageToken;
      const page: ListPage = {
        entries: files.map((f) => ({
          key: f.name.slice(this.prefix.length),
          size: Number(f.metadata.size ?? 0),
        })),
      };
      if (cursor) page.cursor = cursor;
      return page;
    } catch (err) {
      throw this.translate(err, "list", prefix, { signal: options.signal });
    }
  }

  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      options.signal?.throwIfAborted();
      // https://cloud.google.com/storage/docs/json_api/v1/objects/delete
      await abortable(this.file(key).delete({ ignoreNotFound: true }), options.signal);
    } catch (err) {
      throw this.translate(err, "delete", key, { signal: options.signal });
    }
  }

  async copy(
    sourceKey: string,
    targetKey: string,
    options: { ifNoneMatch: boolean; signal?: AbortSignal },
  ): Promise<ObjectInfo> {
    const { signal } = options;
    try {
      signal?.throwIfAborted();
      if (options.ifNoneMatch && !this.preconditions && (await this.exists(targetKey, signal)))
        throw this.exists_(targetKey);
      // https://cloud.google.com/storage/docs/json_api/v1/objects/rewrite (the client loops on rewriteToken)
      const [, response] = await abortable(
        this.file(sourceKey).copy(this.file(targetKey), {
          preconditionOpts: options.ifNoneMatch && this.preconditions ? { ifGenerationMatch: 0 } : undefined,
        }),
        signal,
      );
      const resource = (response as { resource?: Record<string, unknown> } | undefined)?.resource;
      if (resource) return this.info(targetKey, resource);
      return await this.head(targetKey, { signal });
    } catch (err) {
      // A 404 here may be the source (ENOENT) or the bucket (EUNAVAIL); a 412 is the target existing.
      throw this.translate(err, "copy", sourceKey, { createOnly: options.ifNoneMatch, signal, targetKey });
    }
  }

  async close(): Promise<void> {
    // The client keeps no resources that need releasing (its HTTP agent's sockets are unref'd).
  }

  private async exists(key: string, signal?: AbortSignal): Promise<boolean> {
    try {
      // https://cloud.google.com/storage/docs/json_api/v1/objects/get
      const [found] = await abortable(this.file(key).exists(), signal);
      return found;
    } catch (err) {
      throw this.translate(err, "head", key, { signal });
    }
  }

  private exists_(key: string): StrataError {
    return new StrataError("EEXIST", `volume \`${this.name}\`: \`${key}\` already exists (create-only)`, {
      details: { volume: this.name, key, bucket: this.bucketName },
    });
  }

  private info(key: string, resource: Record<string, unknown>): ObjectInfo {
    const crc = typeof resource.crc32c === "string" ? crc32cFromBase64(resource.crc32c) : undefined;
    if (crc === undefined)
      throw new StrataError(
        "EIO",
        `volume \`${this.name}\`: GCS returned no usable crc32c for \`${key}\` (got ${JSON.stringify(resource.crc32c)})`,
        { details: { volume: this.name, key, bucket: this.bucketName } },
      );
    const metadata: Record<string, string> = {};
    const raw = resource.metadata;
    if (raw && typeof raw === "object")
      for (const [k, v] of Object.entries(raw)) if (v !== null && v !== undefined) metadata[k] = String(v);
    const info: ObjectInfo = { key, size: Number(resource.size ?? 0), crc32c: crc, metadata };
    if (typeof resource.updated === "string") info.lastModified = new Date(resource.updated);
    return info;
  }

  /** Turn anything the client throws into a StrataError naming the volume, the key and what to do. */
  private translate(
    err: unknown,
    op: string,
    key: string,
    context: { createOnly?: boolean; signal?: AbortSignal; targetKey?: string } = {},
  ): StrataError {
    if (isStrataError(err)) return err;
    const details = { volume: this.name, key, bucket: this.bucketName, op };
    const make = (code: ErrorCode, message: string) =>
      new StrataError(code, `volume \`${this.name}\`: ${op} \`${key}\`: ${message}`, { cause: err, details });
    if (context.signal?.aborted || isAbortError(err)) return make("EABORTED", "aborted by the caller");
    const status = httpStatus(err);
    const text = errorText(err);
    if (status === 404) {
      if (/bucket does not exist|bucket.*not found/i.test(text))
        return make(
          "EUNAVAIL",
          `bucket \`${this.bucketName}\` does not exist: create it or fix volumes.${this.name}.bucket`,
        );
      if (op === "copy") return make("ENOENT", "the source object does not exist");
      if (op === "read")
        return make("ENOENT", "the object was replaced or deleted while being read; read it again");
      return make("ENOENT", "no such object");
    }
    if (status === 412)
      return context.createOnly
        ? make("EEXIST", `\`${context.targetKey ?? key}\` already exists (create-only)`)
        : make("ECONFLICT", "a precondition failed: the object changed meanwhile");
    if (status === 409) return make("ECONFLICT", text || "conflict");
    if (status === 429 || status === 503)
      return make("ETHROTTLED", `GCS is throttling requests (${status}); retry later`);
    if (status === 408 || status === 504) return make("ETIMEDOUT", `GCS did not answer in time (${status})`);
    if (
      status === 401 ||
      status === 403 ||
      /could not load the default credentials|invalid_grant/i.test(text)
    )
      return make(
        "EACCES",
        `GCS refused access (${status ?? "no credentials"}): check the credentials of volume ${this.name}`,
      );
    if (status === 400 && /crc32c|md5/i.test(text) && /match/i.test(text))
      return make("ECORRUPT", `GCS refused the bytes: their checksum does not match (${text})`);
    if (status === 400 || status === 411 || status === 413 || status === 416) return make("EINVAL", text);
    if (status !== undefined && status >= 500) return make("EUNAVAIL", `GCS failed with ${status}: ${text}`);
    const netCode = networkCode(err);
    if (netCode === "ETIMEDOUT" || netCode === "ESOCKETTIMEDOUT" || /timed? ?out/i.test(netCode ?? ""))
      return make("ETIMEDOUT", `no answer from GCS (${netCode})`);
    if (netCode !== undefined || /socket hang up|ECONNREFUSED|ECONNRESET|network|fetch failed/i.test(text))
      return make("EUNAVAIL", `cannot reach GCS (${netCode ?? text}): check the endpoint and the network`);
    return make("EIO", text || String(err));
  }
}

/** Yield the already-buffered chunks, then the rest of the body. */
async function* rest(buffered: Uint8Array[], iterator: AsyncIterator<Uint8Array>): AsyncIterable<Uint8Array> {
  yield* buffered;
  buffered.length = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) return;
    yield next.value;
  }
}

function stripGeneration(info: ObjectInfo & { generation?: string }): ObjectInfo {
  const { generation: _generation, ...rest } = info;
  return rest;
}

/** Reject as soon as `signal` fires (the request itself may still finish in the background). */
async function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return await promise;
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  promise.catch(() => undefined);
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}

function isAbortError(err: unknown): boolean {
  return (
    err instanceof Error && (err.name === "AbortError" || (err as { code?: unknown }).code === "ABORT_ERR")
  );
}

/** The HTTP status of a client error: ApiError `.code`, gaxios `.status`/`.response.status`, or an error body. */
function httpStatus(err: unknown): number | undefined {
  if (!err || typeof err !== "object") return undefined;
  const e = err as {
    code?: unknown;
    status?: unknown;
    response?: { status?: unknown; statusCode?: unknown };
  };
  for (const v of [e.code, e.status, e.response?.status, e.response?.statusCode])
    if (typeof v === "number" && v >= 100 && v < 600) return v;
  if (typeof e.code === "string" && /^\d{3}$/.test(e.code)) return Number(e.code);
  return undefined;
}

function errorText(err: unknown): string {
  if (!err || typeof err !== "object") return String(err ?? "");
  const e = err as { message?: unknown; errors?: unknown; response?: { data?: unknown } };
  const parts: string[] = [];
  if (typeof e.message === "string") parts.push(e.message);
  if (Array.isArray(e.errors))
    for (const x of e.errors) if (x && typeof x === "object" && "message" in x) parts.push(String(x.message));
  const data = e.response?.data;
  if (data && typeof data === "object") parts.push(JSON.stringify(data));
  else if (typeof data === "string") parts.push(data);
  return [...new Set(parts)].join("; ");
}

/** A Node/system network error code anywhere in the error's cause chain. */
function networkCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e && typeof e === "object"; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^E[A-Z_]+$/.test(code) && code !== "ERR_STREAM_PREMATURE_CLOSE")
      return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
