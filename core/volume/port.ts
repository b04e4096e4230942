/**
 * The Volume port: what a storage backend (local directory, S3, Azure Blob, GCS) must do to hold
 * strata's immutable, CRC32C-checked objects.
 *
 * Two layers (flydrive's lesson): adapters implement the small `VolumeDriver` below; `core/volume/volume.ts`
 * wraps any driver exactly once with key validation, CRC32C computation and verification, bounded
 * retries, and error wrapping, so no adapter repeats those.
 *
 * Every method of a driver throws only `StrataError` (core/errors.ts) with `details.volume` and,
 * where there is one, `details.key`. The codes a driver may use:
 *   ENOENT      the key does not exist (get, head, copy source)
 *   EEXIST      a create-only put (or copy) found the key already present
 *   ECONFLICT   any other precondition failed
 *   ECORRUPT    the bytes read do not match the stored CRC32C
 *   ETHROTTLED  the backend asked us to slow down (503 SlowDown, 429, ServerBusy, …)
 *   ETIMEDOUT   no answer in time
 *   EUNAVAIL    connection refused/reset, 5xx, bucket/container missing
 *   EACCES      credentials missing or refused
 *   EINVAL      the backend rejected the request as malformed
 *   EABORTED    the caller's AbortSignal fired
 */

/**
 * A body to store: any async iterable of byte chunks (Node `Readable` is one) or one buffer.
 * A chunk must not be modified after it was yielded: drivers may still hold it (a write in flight,
 * a multipart part being assembled) while they pull the next one.
 */
export type BodySource = Uint8Array | AsyncIterable<Uint8Array>;

/** Inclusive-exclusive byte range: bytes [start, end). `end` omitted = to the end of the object. */
export interface ByteRange {
  start: number;
  end?: number;
}

/** What a volume knows about one stored object. */
export interface ObjectInfo {
  key: string;
  /** Size in bytes. */
  size: number;
  /** CRC32C of the whole object (unsigned 32-bit), as stored with it at write time. */
  crc32c: number;
  /** User metadata given at put time (keys lowercase ASCII `[a-z0-9-]`, values printable ASCII). */
  metadata: Record<string, string>;
  /** Backend's last-modified time, when it reports one. */
  lastModified?: Date;
}

export interface ListEntry {
  key: string;
  size: number;
}

export interface ListPage {
  entries: ListEntry[];
  /** Opaque; pass back to get the next page. Absent on the last page. */
  cursor?: string;
}

/**
 * The body a driver's `put` receives. The core wrapper computes CRC32C and size while the driver
 * iterates it. When the caller declared a size or CRC32C up front and the bytes do not match, the
 * iterator throws (EINVAL for size, ECORRUPT for CRC) *at the end of the stream*: the driver must
 * then abandon the upload so that no object becomes visible.
 */
export interface PutBody extends AsyncIterable<Uint8Array> {
  /** Size in bytes, when known before the upload starts. */
  readonly declaredSize?: number;
  /** CRC32C of the whole body, when known before the upload starts (e.g. content-addressed chunks). */
  readonly declaredCrc32c?: number;
  /** CRC32C of the bytes yielded so far; the object's CRC once iteration has completed. */
  crc32c(): number;
  /** Bytes yielded so far; the object's size once iteration has completed. */
  size(): number;
}

export interface DriverPutOptions {
  /** User metadata to store with the object (already validated). */
  metadata: Record<string, string>;
  /**
   * Create-only: fail with EEXIST if the key exists. Where the capability `atomicCreateOnly` is
   * true, two racing create-only puts of one key end with exactly one success.
   */
  ifNoneMatch: boolean;
  signal?: AbortSignal;
}

export interface DriverGetOptions {
  range?: ByteRange;
  signal?: AbortSignal;
}

export interface GetResult {
  /** Info of the whole object (size and CRC32C of the whole object, even for a range read). */
  info: ObjectInfo;
  /**
   * The requested bytes. A range past the end is clipped; a range starting at or after the size is empty.
   * Read it to the end, or stop with `break` / the iterator's `return()`: a body never iterated
   * holds a file handle or an HTTP connection until garbage collection.
   */
  body: AsyncIterable<Uint8Array>;
}

export interface VolumeCapabilities {
  /** Create-only puts are enforced by the backend (exactly one racing writer wins). */
  atomicCreateOnly: boolean;
  /** `copy` runs server-side, without bytes passing through this process. */
  serverSideCopy: boolean;
  /** The backend itself validates CRC32C on upload (S3 / GCS native checksums). */
  nativeCrc32c: boolean;
  /** Largest object this backend accepts, in bytes (Infinity when unbounded in practice). */
  maxObjectSize: number;
  /**
   * Key order of `list`: "utf8" = UTF-8 bytes = code points (S3, GCS, local); "utf16" = UTF-16
   * code units (Azure Blob). They differ only for characters above U+FFFF against U+E000–U+FFFF,
   * and no driver can re-sort across pages, so callers that merge listings must use this order.
   */
  listOrder: "utf8" | "utf16";
}

/**
 * What an adapter implements. Keys reaching a driver are already validated by the core wrapper
 * (see core/volume/keys.ts), so a driver never checks them again.
 */
export interface VolumeDriver {
  /** The volume's name, used in every error message ("volume `s3-eu` …"). */
  readonly name: string;
  readonly capabilities: VolumeCapabilities;

  /**
   * Store `body` under `key`, with its CRC32C (from `body.crc32c()` once consumed, or
   * `body.declaredCrc32c`) recorded so that `head`/`get` return it. Uploads above the backend's
   * threshold go multipart / block / resumable with memory bounded by (part size × parallelism).
   * If the body's iterator throws, no object may become visible and the error is rethrown.
   * Missing key: n/a. Key exists and `ifNoneMatch`: EEXIST (nothing changed).
   */
  put(key: string, body: PutBody, options: DriverPutOptions): Promise<ObjectInfo>;

  /** Read the whole object or a range. Missing key: ENOENT. The body is not CRC-checked here. */
  get(key: string, options: DriverGetOptions): Promise<GetResult>;

  /** Size, CRC32C and metadata. Missing key: ENOENT. */
  head(key: string, options?: { signal?: AbortSignal }): Promise<ObjectInfo>;

  /**
   * Keys starting with `prefix` (plain string prefix, not path-aware), ascending in `capabilities.listOrder`,
   * at most `limit` per page (default and maximum 1,000). Empty prefix lists everything.
   */
  list(
    prefix: string,
    options?: { cursor?: string; limit?: number; signal?: AbortSignal },
  ): Promise<ListPage>;

  /** Remove the object. Idempotent: a missing key is success. */
  delete(key: string, options?: { signal?: AbortSignal }): Promise<void>;

  /**
   * Server-side copy within this volume, keeping size, CRC32C and metadata.
   * Source missing: ENOENT. Only present when `capabilities.serverSideCopy`.
   */
  copy?(
    sourceKey: string,
    targetKey: string,
    options: { ifNoneMatch: boolean; signal?: AbortSignal },
  ): Promise<ObjectInfo>;

  /** Release clients and sockets. */
  close?(): Promise<void>;
}
