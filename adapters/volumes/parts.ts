/**
 * Pieces shared by the cloud volume drivers (S3 multipart parts, Azure blocks): cutting a body
 * into fixed-size parts with pooled buffers and uploading them a few at a time, the empty body,
 * the total size in a `Content-Range` reply header, and the handling of a download reply's body.
 */

/** Bodies up to this size are gathered chunk by chunk; larger ones are copied into one preallocated buffer. */
const SMALL_BODY = 1024 * 1024;

export interface Part {
  bytes: Uint8Array;
  /** No bytes follow this part (the body's iterator has finished without throwing). */
  last: boolean;
}

/**
 * Cuts a body into parts of exactly `partSize` bytes (the last one shorter), holding one part at a
 * time. S3 uploads them as multipart parts, Azure stages them as blocks.
 */
export class PartReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private pending: Uint8Array | undefined;
  private done = false;
  /** Part buffers this reader allocated, and those handed back by {@link recycle} for reuse. */
  private readonly owned = new WeakSet<ArrayBufferLike>();
  private readonly free: Buffer[] = [];

  constructor(
    body: AsyncIterable<Uint8Array>,
    readonly partSize: number,
  ) {
    this.iterator = body[Symbol.asyncIterator]();
  }

  private allocate(): Buffer {
    const buffer = Buffer.allocUnsafeSlow(this.partSize);
    this.owned.add(buffer.buffer);
    return buffer;
  }

  /**
   * Hand back the bytes of a part whose upload has finished, so the next part reuses its buffer:
   * memory stays at (parallel parts + 1) buffers instead of growing with garbage not yet collected.
   */
  recycle(bytes: Uint8Array): void {
    if (this.owned.has(bytes.buffer)) this.free.push(Buffer.from(bytes.buffer, 0, this.partSize));
  }

  private async pull(): Promise<Uint8Array | undefined> {
    if (this.pending) {
      const chunk = this.pending;
      this.pending = undefined;
      return chunk;
    }
    while (!this.done) {
      const next = await this.iterator.next();
      if (next.done) this.done = true;
      else if (next.value.length > 0) return next.value;
    }
    return undefined;
  }

  async read(): Promise<Part> {
    // Small bodies are gathered as a list of chunks (no large allocation for a 4 KiB object); once a
    // part passes SMALL_BODY bytes, it is copied into one buffer of partSize bytes, so that a part
    // never costs about twice its size while the chunks and their concatenation coexist.
    const chunks: Uint8Array[] = [];
    let buffer: Buffer | undefined;
    let length = 0;
    while (length < this.partSize) {
      const chunk = await this.pull();
      if (!chunk) break;
      const take = Math.min(chunk.length, this.partSize - length);
      const piece = take === chunk.length ? chunk : chunk.subarray(0, take);
      if (take < chunk.length) this.pending = chunk.subarray(take);
      if (!buffer && length + take > SMALL_BODY && !(length === 0 && take === this.partSize)) {
        buffer = this.free.pop() ?? this.allocate();
        let at = 0;
        for (const c of chunks) {
          buffer.set(c, at);
          at += c.length;
        }
        chunks.length = 0;
      }
      if (buffer) buffer.set(piece, length);
      else chunks.push(piece);
      length += take;
    }
    // Peek, so that the caller knows whether this is the last part (and the body's end-of-stream
    // check has run) before it chooses between one request and a multi-part upload.
    if (!this.pending) {
      const next = await this.pull();
      if (next) this.pending = next;
    }
    const bytes = buffer
      ? buffer.subarray(0, length)
      : chunks.length === 1
        ? chunks[0]!
        : Buffer.concat(chunks, length);
    return { bytes, last: this.pending === undefined };
  }
}

/**
 * Upload a body's parts — `first`, then each part `reader` reads — with at most `concurrency`
 * uploads in flight, so at most concurrency + 1 parts are held in memory. `upload(bytes, index,
 * signal)` sends the part numbered `index` (from 0; called in order); its `signal` fires when the
 * caller's `signal` does or another part has failed. A part's buffer goes back to the reader once
 * its upload succeeds. On the first failure — an upload, the body itself (its end-of-stream check),
 * or `tooMany()` when more than `maxParts` parts would be needed — the uploads in flight are
 * cancelled and awaited, then the promise rejects with that failure.
 */
export async function uploadParts(options: {
  first: Part;
  reader: PartReader;
  concurrency: number;
  maxParts: number;
  signal: AbortSignal | undefined;
  upload(bytes: Uint8Array, index: number, signal: AbortSignal): Promise<void>;
  tooMany(): Error;
}): Promise<void> {
  const { reader } = options;
  const internal = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, internal.signal]) : internal.signal;
  const inflight = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;
  try {
    let part = options.first;
    for (let index = 0; ; index++) {
      if (index >= options.maxParts) throw options.tooMany();
      const bytes = part.bytes;
      const upload = options.upload(bytes, index, signal).then(
        () => reader.recycle(bytes),
        (err: unknown) => {
          failure ??= { err };
          internal.abort();
        },
      );
      inflight.add(upload);
      void upload.finally(() => inflight.delete(upload));
      if (part.last) break;
      while (inflight.size >= options.concurrency && !failure) await Promise.race(inflight);
      if (failure) throw failure.err;
      part = await reader.read();
    }
    await Promise.all(inflight);
    if (failure) throw failure.err;
  } catch (err) {
    internal.abort();
    await Promise.allSettled(inflight);
    throw err;
  }
}

/** The total object size in a `Content-Range: bytes a-b/total` header; `undefined` when absent or `*`. */
export function totalFromContentRange(contentRange: string | undefined): number | undefined {
  const m = /\/(\d+)\s*$/.exec(contentRange ?? "");
  return m ? Number(m[1]) : undefined;
}

export async function* emptyBody(): AsyncIterable<Uint8Array> {}

/** `stream`'s chunks, with anything it throws (a reset connection mid-download) passed through `translate`. */
export async function* translateErrors(
  stream: AsyncIterable<Uint8Array>,
  translate: (err: unknown) => Error,
): AsyncIterable<Uint8Array> {
  try {
    for await (const chunk of stream) yield chunk;
  } catch (err) {
    throw translate(err);
  }
}

/** A download reply's body: a stream to be read to its end or destroyed. */
export type ReplyStream = AsyncIterable<Uint8Array> & { destroy?: () => void };

/**
 * `build()` the object info of a download reply; should that throw (no size, no CRC), destroy the
 * reply's `stream` first, so that its socket is not left half-read.
 */
export async function infoOrRelease<T>(
  stream: ReplyStream | undefined,
  build: () => Promise<T> | T,
): Promise<T> {
  try {
    return await build();
  } catch (err) {
    stream?.destroy?.();
    throw err;
  }
}
