/**
 * Fixed-size chunking of a byte stream, with memory bounded by one chunk: the stream's pieces are
 * copied into a chunk-sized buffer that is yielded when full (the last chunk may be shorter).
 * Every chunk yielded from a stream is the chunker's own memory: a producer may reuse its buffer.
 */
import type { DataBody } from "./api.ts";

/** Re-slice `body` into chunks of exactly `chunkSize` bytes (the last one shorter, never empty). */
export async function* fixedChunks(
  body: DataBody,
  chunkSize: number,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array, void, undefined> {
  if (body instanceof Uint8Array) {
    for (let at = 0; at < body.byteLength; at += chunkSize) {
      signal?.throwIfAborted();
      yield body.subarray(at, Math.min(at + chunkSize, body.byteLength));
    }
    return;
  }
  let buffer: Uint8Array | undefined;
  let filled = 0;
  for await (const piece of body) {
    signal?.throwIfAborted();
    let at = 0;
    while (at < piece.byteLength) {
      if (filled === 0 && piece.byteLength - at >= chunkSize) {
        // A whole chunk inside one piece: copied all the same, because a producer may reuse its
        // buffer once we ask for the next piece while the chunk is still uploading.
        yield copyOf(piece, at, at + chunkSize);
        at += chunkSize;
        continue;
      }
      buffer ??= new Uint8Array(chunkSize);
      const n = Math.min(chunkSize - filled, piece.byteLength - at);
      buffer.set(piece.subarray(at, at + n), filled);
      filled += n;
      at += n;
      if (filled === chunkSize) {
        yield buffer;
        buffer = undefined;
        filled = 0;
      }
    }
  }
  if (filled > 0 && buffer) yield buffer.subarray(0, filled);
}

/**
 * A copy of bytes [start, end) of `bytes`. Not `bytes.slice()`: on a Node Buffer (a Uint8Array
 * subclass) `slice` is a view of the same memory, so a retained "copy" changes when the producer
 * refills its buffer.
 */
export function copyOf(bytes: Uint8Array, start = 0, end = bytes.byteLength): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes, start, end);
}

/** `prefix` followed by the bytes of `rest`, as one stream. */
export async function* prepend(
  prefix: Uint8Array,
  rest: DataBody,
): AsyncGenerator<Uint8Array, void, undefined> {
  if (prefix.byteLength > 0) yield prefix;
  if (rest instanceof Uint8Array) {
    if (rest.byteLength > 0) yield rest;
    return;
  }
  yield* rest;
}

/** `length` zero bytes, streamed in pieces of at most `piece` bytes (for truncate beyond the end). */
export async function* zeros(
  length: number,
  piece = 1024 * 1024,
): AsyncGenerator<Uint8Array, void, undefined> {
  const block = new Uint8Array(Math.min(piece, Math.max(length, 0)));
  for (let left = length; left > 0; left -= block.byteLength) {
    yield left >= block.byteLength ? block.slice() : new Uint8Array(left);
  }
}
