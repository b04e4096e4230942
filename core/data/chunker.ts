/**
 * Fixed-size chunking of a byte stream, with memory bounded by one chunk: the stream's pieces are
 * copied into a chunk-sized buffer that is yielded when full (the last chunk may be shorter).
 * Every chunk yielded from a stream is the chunker's own memory: a producer may reuse its buffer.
 * Shared by the embedded data plane (core/data/) and the remote SDK (sdk/remote/data.ts).
 */
import { concatBytes, copyOf } from "../bytes.ts";
import { crc32c } from "../crc32c.ts";
import type { FileContent } from "../namespace/api.ts";
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

/**
 * The first `limit + 1` bytes of a body (or all of it if shorter), and the rest of it: decides
 * "inline or chunks" without reading more than that. A Uint8Array body is not split (`head` is
 * all of it; the caller chunks the array itself, without copying).
 */
export async function peek(
  body: DataBody,
  limit: number,
): Promise<{ head: Uint8Array; done: boolean; rest: AsyncIterable<Uint8Array> }> {
  if (body instanceof Uint8Array) {
    const done = body.byteLength <= limit;
    return { head: body, done, rest: (async function* () {})() };
  }
  const iterator = body[Symbol.asyncIterator]();
  const parts: Uint8Array[] = [];
  let size = 0;
  while (size <= limit) {
    const next = await iterator.next();
    if (next.done) return { head: concatBytes(parts, size), done: true, rest: (async function* () {})() };
    if (next.value.byteLength === 0) continue;
    parts.push(copyOf(next.value));
    size += next.value.byteLength;
  }
  const rest: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => iterator,
  };
  return { head: concatBytes(parts, size), done: false, rest };
}

/** One extent of a file: always one whole chunk. */
export type Extent = NonNullable<FileContent["extents"]>[number];

/** The extent of `chunk` at file offset `offset`, addressed by `sha` (its SHA-256, lowercase hex). */
export function extentOf(chunk: Uint8Array, offset: number, sha: string): Extent {
  return { offset, length: chunk.byteLength, chunk: sha, crc32c: crc32c(chunk) };
}
