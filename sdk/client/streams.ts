/**
 * The client's streams: Node and web readable streams over the data plane's body, and streamed
 * writes (a bounded hand-off from the writer to the data plane's body, committed on finish).
 */
import { Readable, Writable } from "node:stream";
import { StrataError } from "../../core/errors.ts";
import { stringToBytes } from "./args.ts";
import { aborted, normalize } from "./errors.ts";

/** Bytes a streamed write buffers between the writer and the data plane before pushing back. */
const STREAM_BUFFER = 1024 * 1024;

/**
 * A bounded hand-off from a writer (Node Writable / web WritableStream) to the data plane's
 * async-iterable body. `push` resolves at once while fewer than {@link STREAM_BUFFER} bytes wait,
 * else when the body has taken enough: the stream's backpressure. `fail` wakes a waiting body
 * (and waiting writers) so an aborted write stops promptly.
 */
class Channel {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private readonly writers: Array<() => void> = [];
  private ended = false;
  private failure: unknown;
  private wake: (() => void) | undefined;

  push(chunk: Uint8Array): Promise<void> {
    // Copied: the writer may reuse its buffer as soon as this resolves (as node:fs allows).
    this.queue.push(new Uint8Array(chunk)); // not chunk.slice(): Buffer#slice is a view
    this.queued += chunk.byteLength;
    this.wake?.();
    if (this.queued <= STREAM_BUFFER || this.failure !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.writers.push(resolve));
  }
  end(): void {
    this.ended = true;
    this.wake?.();
  }
  fail(err: unknown): void {
    this.failure ??= err;
    this.release();
    this.wake?.();
  }
  private release(): void {
    while (this.writers.length > 0 && (this.queued <= STREAM_BUFFER || this.failure !== undefined)) {
      this.writers.shift()!();
    }
  }
  async *body(): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const chunk = this.queue.shift();
      if (chunk) {
        this.queued -= chunk.byteLength;
        this.release();
        yield chunk;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}

export interface StreamedWrite {
  push(chunk: Uint8Array): Promise<void>;
  finish(): Promise<void>;
  abort(reason: unknown): Promise<void>;
}

/** Destroy a Node stream with EABORTED when `signal` fires (or already has); unhooked on close. */
export function destroyOnAbort<S extends Readable | Writable>(
  stream: S,
  path: string,
  signal: AbortSignal | undefined,
): S {
  if (!signal) return stream;
  const onAbort = () => stream.destroy(aborted(path, signal));
  if (signal.aborted) queueMicrotask(onAbort);
  else signal.addEventListener("abort", onAbort, { once: true });
  stream.once("close", () => signal.removeEventListener("abort", onAbort));
  return stream;
}

/**
 * A streamed write: the chunks pushed go to `commit`'s body as they come; `commit` (the data
 * plane's writeFile, under the client's checks) returns once the body ended and the file is
 * committed. The user's signal, or `abort`, cancels it through the signal `commit` is given.
 */
export function startWrite(
  path: string,
  userSignal: AbortSignal | undefined,
  commit: (body: AsyncIterable<Uint8Array>, signal: AbortSignal) => Promise<unknown>,
): StreamedWrite {
  const channel = new Channel();
  const controller = new AbortController();
  const onAbort = () => {
    const err = aborted(path, userSignal);
    controller.abort(err);
    channel.fail(err);
  };
  if (userSignal?.aborted) onAbort();
  else userSignal?.addEventListener("abort", onAbort, { once: true });
  const done = commit(channel.body(), controller.signal).finally(() =>
    userSignal?.removeEventListener("abort", onAbort),
  );
  done.catch(() => {});
  // If the data plane fails before taking a chunk, the writer must not wait for it forever.
  const failed = done.then(
    () => new Promise<never>(() => {}),
    (err: unknown) => {
      throw err;
    },
  );
  failed.catch(() => {});
  return {
    push: (chunk) => Promise.race([channel.push(chunk), failed]),
    finish: async () => {
      channel.end();
      await done;
    },
    abort: async (reason) => {
      const err =
        reason instanceof StrataError && reason.code === "EABORTED"
          ? reason
          : aborted(path, undefined, reason);
      controller.abort(err);
      channel.fail(err);
      await done.catch(() => {});
    },
  };
}

/** A Node Readable over the client's byte iterator; the signal destroys it with EABORTED. */
export function nodeReadable(
  path: string,
  it: AsyncIterable<Uint8Array>,
  signal: AbortSignal | undefined,
): Readable {
  return destroyOnAbort(Readable.from(it, { objectMode: false }), path, signal);
}

/** A web ReadableStream over the client's byte iterator; the signal errors it with EABORTED. */
export function webReadable(
  path: string,
  it: AsyncGenerator<Uint8Array>,
  signal: AbortSignal | undefined,
): ReadableStream<Uint8Array> {
  let onAbort: (() => void) | undefined;
  const cleanup = () => {
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (!signal) return;
      onAbort = () => {
        controller.error(aborted(path, signal));
        void it.return(undefined).catch(() => {});
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    },
    async pull(controller) {
      try {
        const next = await it.next();
        if (next.done) {
          cleanup();
          controller.close();
        } else controller.enqueue(next.value);
      } catch (err) {
        cleanup();
        controller.error(err);
      }
    },
    async cancel() {
      cleanup();
      await it.return(undefined);
    },
  });
}

/** A Node Writable over a streamed write (`start` may throw: the stream is then destroyed with it). */
export function nodeWritable(
  path: string,
  signal: AbortSignal | undefined,
  start: () => StreamedWrite,
): Writable {
  let writing: StreamedWrite;
  let finished = false;
  try {
    writing = start();
  } catch (err) {
    const w = new Writable();
    w.destroy(normalize(err, path));
    return w;
  }
  const stream = new Writable({
    write(chunk: unknown, _encoding, callback) {
      let bytes: Uint8Array;
      try {
        bytes = stringToBytes(chunk, path);
      } catch (err) {
        callback(err as Error);
        return;
      }
      writing.push(bytes).then(() => callback(), callback);
    },
    final(callback) {
      writing.finish().then(() => {
        finished = true;
        callback();
      }, callback);
    },
    destroy(err, callback) {
      if (finished) {
        callback(err);
        return;
      }
      writing.abort(err ?? "the stream was destroyed").then(() => callback(err));
    },
  });
  return destroyOnAbort(stream, path, signal);
}

/** A web WritableStream over a streamed write. */
export function webWritable(path: string, writing: StreamedWrite): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    write: (chunk) => writing.push(stringToBytes(chunk, path)),
    close: () => writing.finish(),
    abort: (reason) => writing.abort(reason),
  });
}
