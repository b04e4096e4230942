/**
 * `Volume`: wraps any `VolumeDriver` exactly once with what no adapter should repeat — key,
 * metadata and range validation before any request; CRC32C and size computed while uploading and
 * verified on every full read; bounded retries with exponential backoff and full jitter; and the
 * wrapping of anything a driver throws that is not a `StrataError` (a driver bug) as EIO.
 */
import { backoffDelay } from "../backoff.ts";
import { crc32cToHex, crc32cUpdate } from "../crc32c.ts";
import { isStrataError, StrataError } from "../errors.ts";
import { validateKey, validateMetadata, validatePrefix, validateRange } from "./keys.ts";
import type {
  BodySource,
  ByteRange,
  ListEntry,
  ListPage,
  ObjectInfo,
  PutBody,
  VolumeCapabilities,
  VolumeDriver,
} from "./port.ts";

export interface RetryOptions {
  /** Total tries per operation, first included (default 5). 1 disables retries. */
  attempts?: number;
  /** Backoff before the n-th retry is uniform in [0, min(maxDelayMs, baseDelayMs · 2^(n-1))) (default 50). */
  baseDelayMs?: number;
  /** Cap of one backoff (default 2,000). */
  maxDelayMs?: number;
}

export interface VolumeOptions {
  retry?: RetryOptions;
  /** Injectable for tests (default: a real timer). Must reject with the signal's reason if aborted. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Injectable for tests: uniform in [0, 1) (default Math.random). */
  random?: () => number;
}

export interface PutOptions {
  /** Expected size; a body of another size fails with EINVAL and nothing is stored. */
  size?: number;
  /** Expected CRC32C (e.g. of a content-addressed chunk); a mismatch fails with ECORRUPT and nothing is stored. */
  crc32c?: number;
  metadata?: Record<string, string>;
  /** Create-only: EEXIST if the key already holds an object (and it was not this very put). */
  ifNoneMatch?: boolean;
  signal?: AbortSignal;
}

export interface GetOptions {
  /** Bytes [start, end). A range read is NOT CRC-verified here: only whole objects carry a CRC. */
  range?: ByteRange;
  signal?: AbortSignal;
  /** Verify size and CRC32C of a full read while streaming (default true). */
  verify?: boolean;
}

export interface VolumeGetResult {
  info: ObjectInfo;
  /**
   * The bytes, streamed. For a verified full read, the iterator throws ECORRUPT after the last
   * byte when size or CRC32C differ from `info`: consumers must not trust the bytes until the
   * iteration has completed without error.
   */
  body: AsyncIterable<Uint8Array>;
}

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/**
 * A buffer body is handed to drivers in zero-copy slices of this size, so that checksumming one
 * slice overlaps with the driver's I/O of the previous one (and multipart drivers get part-sized pieces).
 */
const BUFFER_SLICE = 1024 * 1024;

function* slices(bytes: Uint8Array): Generator<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += BUFFER_SLICE) yield bytes.subarray(at, at + BUFFER_SLICE);
}

/** The `PutBody` handed to drivers: counts and checksums while the driver iterates. */
class CountingPutBody implements PutBody {
  readonly declaredSize?: number;
  readonly declaredCrc32c?: number;
  private crc = 0;
  private count = 0;
  /** True once the driver started iterating: a stream body can no longer be replayed. */
  started = false;
  /** True once every byte was yielded and the declared size and CRC32C (if any) matched. */
  completed = false;

  constructor(
    private readonly source: BodySource,
    private readonly volume: string,
    private readonly key: string,
    declared: { size?: number; crc32c?: number },
  ) {
    if (declared.size !== undefined) this.declaredSize = declared.size;
    else if (source instanceof Uint8Array) this.declaredSize = source.byteLength;
    if (declared.crc32c !== undefined) this.declaredCrc32c = declared.crc32c >>> 0;
  }

  crc32c(): number {
    return this.crc;
  }

  size(): number {
    return this.count;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.started) {
      throw new StrataError(
        "EIO",
        `driver of volume \`${this.volume}\` iterated a put body twice (a driver bug)`,
        {
          details: { volume: this.volume, key: this.key },
        },
      );
    }
    this.started = true;
    const chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array> =
      this.source instanceof Uint8Array ? slices(this.source) : this.source;
    for await (const chunk of chunks) {
      if (chunk.byteLength === 0) continue;
      this.crc = crc32cUpdate(this.crc, chunk);
      this.count += chunk.byteLength;
      if (this.declaredSize !== undefined && this.count > this.declaredSize) this.sizeMismatch();
      yield chunk;
    }
    if (this.declaredSize !== undefined && this.count !== this.declaredSize) this.sizeMismatch();
    if (this.declaredCrc32c !== undefined && this.crc !== this.declaredCrc32c) {
      throw new StrataError(
        "ECORRUPT",
        `volume \`${this.volume}\`, key ${JSON.stringify(this.key)}: the body's CRC32C is ${crc32cToHex(this.crc)}, ` +
          `the caller declared ${crc32cToHex(this.declaredCrc32c)}; nothing was stored. Re-read the source and retry`,
        {
          details: {
            volume: this.volume,
            key: this.key,
            expected: crc32cToHex(this.declaredCrc32c),
            actual: crc32cToHex(this.crc),
          },
        },
      );
    }
    this.completed = true;
  }

  private sizeMismatch(): never {
    throw new StrataError(
      "EINVAL",
      `volume \`${this.volume}\`, key ${JSON.stringify(this.key)}: the body has ${this.count === this.declaredSize ? "" : "at least "}` +
        `${this.count} bytes, the caller declared ${this.declaredSize}; nothing was stored. Fix the declared size`,
      { details: { volume: this.volume, key: this.key, expected: this.declaredSize, actual: this.count } },
    );
  }
}

export class Volume {
  readonly name: string;
  readonly capabilities: VolumeCapabilities;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;

  constructor(
    readonly driver: VolumeDriver,
    options: VolumeOptions = {},
  ) {
    this.name = driver.name;
    this.capabilities = driver.capabilities;
    this.attempts = Math.max(1, Math.floor(options.retry?.attempts ?? 5));
    this.baseDelayMs = options.retry?.baseDelayMs ?? 50;
    this.maxDelayMs = options.retry?.maxDelayMs ?? 2000;
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
  }

  /**
   * Store `body` under `key`. A `Uint8Array` body is replayable and retried on retryable errors;
   * a stream (async iterable) is retried only if the driver failed before reading any of it —
   * once consumed it cannot be replayed, so the error is returned to the caller (unless the stream
   * was sent whole and `head` shows exactly its size and CRC32C under the key: a lost reply).
   *
   * Create-only (`ifNoneMatch`) and a lost reply: if a try failed with a retryable error and the
   * next one finds the key present (EEXIST), the object is read back with `head`; if its size and
   * CRC32C equal what this put sent, it is this put's own write whose reply was lost, and the
   * put succeeds. Otherwise EEXIST.
   *
   * Errors: EINVAL/ENAMETOOLONG/E2BIG (bad key, metadata or declared size — before any request),
   * ECORRUPT (declared CRC32C mismatch; nothing stored), EEXIST, and the driver's codes.
   */
  async put(key: string, body: BodySource, options: PutOptions = {}): Promise<ObjectInfo> {
    validateKey(this.name, key);
    const metadata = validateMetadata(this.name, key, options.metadata);
    if (options.size !== undefined && (!Number.isSafeInteger(options.size) || options.size < 0)) {
      throw new StrataError(
        "EINVAL",
        `volume \`${this.name}\`: declared size ${options.size} is not an integer ≥ 0`,
        {
          details: { volume: this.name, key },
        },
      );
    }
    const ifNoneMatch = options.ifNoneMatch === true;
    let hadRetryableFailure = false;
    return await this.withRetries("put", key, options.signal, async (attempt) => {
      const putBody = new CountingPutBody(body, this.name, key, {
        size: options.size,
        crc32c: options.crc32c,
      });
      try {
        return await this.call(key, () =>
          this.driver.put(key, putBody, { metadata, ifNoneMatch, signal: options.signal }),
        );
      } catch (err) {
        // Only a buffer is ever retried after being sent, so only a buffer can meet its own write.
        if (ifNoneMatch && isStrataError(err, "EEXIST") && attempt > 1 && hadRetryableFailure) {
          if (body instanceof Uint8Array) {
            const sent = { size: body.byteLength, crc32c: crc32cUpdate(0, body) };
            const mine = await this.ownWrite(key, sent, options.signal);
            if (mine) return mine;
          }
        }
        if (isStrataError(err) && err.retryable) {
          hadRetryableFailure = true;
          if (putBody.started && !(body instanceof Uint8Array)) {
            // A stream cannot be sent again; but if it was sent whole, the write may have been
            // applied with only the reply lost: the object being exactly ours settles it.
            if (putBody.completed) {
              const mine = await this.ownWrite(
                key,
                { size: putBody.size(), crc32c: putBody.crc32c() },
                options.signal,
              );
              if (mine) return mine;
            }
            throw new NotReplayable(err);
          }
        }
        throw err;
      }
    });
  }

  /** After a lost reply: is the object at `key` the one we sent? Returns its info if so. */
  private async ownWrite(
    key: string,
    sent: { size: number; crc32c: number },
    signal?: AbortSignal,
  ): Promise<ObjectInfo | undefined> {
    try {
      const info = await this.call(key, () => this.driver.head(key, { signal }));
      return info.size === sent.size && info.crc32c === sent.crc32c ? info : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Read the whole object (verified: the body's iterator throws ECORRUPT at the end when size or
   * CRC32C differ from `info`, with details volume, key, expected, actual) or a byte range.
   *
   * A range read is not CRC-verifiable at this layer: the object's CRC covers the whole object.
   * Callers that read ranges keep their own per-chunk CRCs (the data path does).
   *
   * Only the request is retried; an error while streaming the body reaches the consumer (use
   * `getBytes` for a buffered read that retries from the start). Missing key: ENOENT.
   */
  async get(key: string, options: GetOptions = {}): Promise<VolumeGetResult> {
    validateKey(this.name, key);
    if (options.range) validateRange(this.name, key, options.range);
    return await this.withRetries("get", key, options.signal, () => this.openRead(key, options));
  }

  /** The whole object in memory, verified; a retryable failure mid-body retries from the start. */
  async getBytes(key: string, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    validateKey(this.name, key);
    return await this.withRetries("get", key, options.signal, async () => {
      const { info, body } = await this.openRead(key, { signal: options.signal });
      const out = new Uint8Array(info.size);
      let at = 0;
      for await (const chunk of body) {
        // Longer than recorded: keep counting; the verifier throws ECORRUPT at the end.
        if (at + chunk.byteLength <= out.byteLength) out.set(chunk, at);
        at += chunk.byteLength;
      }
      return out;
    });
  }

  /** One driver `get`, no retries; the body verified for full reads unless `verify: false`. */
  private async openRead(key: string, options: GetOptions): Promise<VolumeGetResult> {
    const result = await this.call(key, () =>
      this.driver.get(key, { range: options.range, signal: options.signal }),
    );
    const verify = options.verify !== false && options.range === undefined;
    return {
      info: result.info,
      body: verify ? this.verified(key, result.info, result.body) : this.wrapped(key, result.body),
    };
  }

  /** Size, CRC32C and metadata. Missing key: ENOENT. */
  async head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    validateKey(this.name, key);
    return await this.withRetries("head", key, options.signal, () =>
      this.call(key, () => this.driver.head(key, { signal: options.signal })),
    );
  }

  /** One page of keys starting with `prefix`, in UTF-8 byte order; `limit` 1..1,000 (default 1,000). */
  async list(
    prefix: string,
    options: { cursor?: string; limit?: number; signal?: AbortSignal } = {},
  ): Promise<ListPage> {
    validatePrefix(this.name, prefix);
    const limit = options.limit ?? 1000;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) {
      throw new StrataError(
        "EINVAL",
        `volume \`${this.name}\`: list limit ${limit} is not an integer in 1..1000`,
        {
          details: { volume: this.name, prefix },
        },
      );
    }
    return await this.withRetries("list", prefix, options.signal, () =>
      this.call(prefix, () =>
        this.driver.list(prefix, { cursor: options.cursor, limit, signal: options.signal }),
      ),
    );
  }

  /** Every key under `prefix`, one page (array of entries) at a time. */
  async *listAll(
    prefix: string,
    options: { limit?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<ListEntry[], void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.list(prefix, { cursor, limit: options.limit, signal: options.signal });
      if (page.entries.length > 0) yield page.entries;
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  /** Remove the object. Idempotent: a missing key is success (so retries are always safe). */
  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    validateKey(this.name, key);
    await this.withRetries("delete", key, options.signal, () =>
      this.call(key, () => this.driver.delete(key, { signal: options.signal })),
    );
  }

  /**
   * Copy `source` to `target` in this volume, keeping size, CRC32C and metadata. Server-side when
   * the driver can; otherwise the bytes stream through this process (get → put, the put declaring
   * the source's size and CRC32C so a corrupt read stores nothing). Source missing: ENOENT;
   * `ifNoneMatch` and target present: EEXIST (unless it is this copy's own lost-reply write).
   */
  async copy(
    source: string,
    target: string,
    options: { ifNoneMatch?: boolean; signal?: AbortSignal } = {},
  ): Promise<ObjectInfo> {
    validateKey(this.name, source);
    validateKey(this.name, target);
    const ifNoneMatch = options.ifNoneMatch === true;
    const serverSide = this.driver.copy !== undefined && this.capabilities.serverSideCopy;
    let hadRetryableFailure = false;
    return await this.withRetries("copy", source, options.signal, async (attempt) => {
      try {
        if (serverSide) {
          return await this.call(source, () =>
            this.driver.copy!(source, target, { ifNoneMatch, signal: options.signal }),
          );
        }
        const from = await this.call(source, () => this.driver.get(source, { signal: options.signal }));
        const body = new CountingPutBody(this.verified(source, from.info, from.body), this.name, target, {
          size: from.info.size,
          crc32c: from.info.crc32c,
        });
        return await this.call(target, () =>
          this.driver.put(target, body, {
            metadata: from.info.metadata,
            ifNoneMatch,
            signal: options.signal,
          }),
        );
      } catch (err) {
        if (ifNoneMatch && isStrataError(err, "EEXIST") && attempt > 1 && hadRetryableFailure) {
          const src = await this.call(source, () => this.driver.head(source, { signal: options.signal }));
          const mine = await this.ownWrite(target, src, options.signal);
          if (mine) return mine;
        }
        if (isStrataError(err) && err.retryable) hadRetryableFailure = true;
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    await this.driver.close?.();
  }

  /** Run one driver call; anything that is not a StrataError is a driver bug, reported as EIO. */
  private async call<T>(key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.asStrataError(key, err);
    }
  }

  private asStrataError(key: string, err: unknown): StrataError {
    if (err instanceof StrataError) return err;
    if (err instanceof NotReplayable) return err.error;
    return new StrataError(
      "EIO",
      `volume \`${this.name}\`, key ${JSON.stringify(key)}: the driver threw a non-StrataError ` +
        `(${err instanceof Error ? err.message : String(err)}). This is a driver bug: adapters must map every error to a code`,
      { details: { volume: this.name, key }, cause: err },
    );
  }

  private async *wrapped(key: string, body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    try {
      yield* body;
    } catch (err) {
      throw this.asStrataError(key, err);
    }
  }

  private async *verified(
    key: string,
    info: ObjectInfo,
    body: AsyncIterable<Uint8Array>,
  ): AsyncGenerator<Uint8Array> {
    let crc = 0;
    let size = 0;
    for await (const chunk of this.wrapped(key, body)) {
      crc = crc32cUpdate(crc, chunk);
      size += chunk.byteLength;
      yield chunk;
    }
    if (size !== info.size || crc !== info.crc32c) {
      const what =
        size !== info.size
          ? `read ${size} bytes, the volume recorded ${info.size}`
          : `read CRC32C ${crc32cToHex(crc)}, the volume recorded ${crc32cToHex(info.crc32c)}`;
      throw new StrataError(
        "ECORRUPT",
        `volume \`${this.name}\`, key ${JSON.stringify(key)}: ${what}. The stored object or the transfer is ` +
          `corrupt; read another copy and repair this one`,
        {
          details: {
            volume: this.name,
            key,
            expected: { size: info.size, crc32c: crc32cToHex(info.crc32c) },
            actual: { size, crc32c: crc32cToHex(crc) },
          },
        },
      );
    }
  }

  /**
   * Run `attempt` up to `this.attempts` times while it fails with a retryable StrataError, sleeping
   * a full-jitter exponential backoff in between. The final error keeps its code and says how many
   * attempts were made.
   */
  private async withRetries<T>(
    op: string,
    key: string,
    signal: AbortSignal | undefined,
    attempt: (n: number) => Promise<T>,
  ): Promise<T> {
    for (let n = 1; ; n++) {
      this.checkAborted(op, key, signal);
      try {
        return await attempt(n);
      } catch (raw) {
        const notReplayable = raw instanceof NotReplayable;
        const err = this.asStrataError(key, raw);
        if (signal?.aborted) this.checkAborted(op, key, signal);
        if (!err.retryable) throw err;
        if (notReplayable || n >= this.attempts) {
          const why = notReplayable
            ? "not retried: the streamed body was already sent in part and cannot be replayed (retry with a buffer or a fresh stream)"
            : `gave up on ${op} after ${n} attempt${n === 1 ? "" : "s"}`;
          throw new StrataError(err.code, `${err.message.replace(/^[A-Z0-9]+: /, "")} — ${why}`, {
            details: { ...err.details, attempts: n },
            cause: err,
          });
        }
        const pause = backoffDelay(n - 1, { baseMs: this.baseDelayMs, capMs: this.maxDelayMs }, this.random);
        try {
          await this.sleep(Math.floor(pause), signal);
        } catch {
          this.checkAborted(op, key, signal);
        }
      }
    }
  }

  private checkAborted(op: string, key: string, signal: AbortSignal | undefined): void {
    if (signal?.aborted) {
      throw new StrataError(
        "EABORTED",
        `volume \`${this.name}\`: ${op} of ${JSON.stringify(key)} was aborted`,
        {
          details: { volume: this.name, key },
          cause: signal.reason,
        },
      );
    }
  }
}

/** Marks a retryable failure of a put whose streamed body was already (partly) consumed. */
class NotReplayable extends Error {
  constructor(readonly error: StrataError) {
    super(error.message);
  }
}
