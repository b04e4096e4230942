/** The client's argument handling: write data to bytes, options objects, times, ranges. */
import { strataError } from "../../core/errors.ts";
import type { Encoding, ReadFileOptions, ReadStreamOptions, TimeLike, WriteData } from "../types.ts";

export function encode(data: string, encoding: Encoding = "utf8"): Uint8Array {
  const buf = Buffer.from(data, encoding);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/** Normalise write data to what the data plane takes: one buffer or an async stream of buffers. */
export function toBody(
  data: WriteData,
  encoding: Encoding | undefined,
): Uint8Array | AsyncIterable<Uint8Array> {
  if (typeof data === "string") return encode(data, encoding);
  if (data instanceof Uint8Array) return data;
  const source = data as AsyncIterable<unknown> | Iterable<unknown>;
  if (
    typeof source !== "object" ||
    source === null ||
    !(Symbol.asyncIterator in source || Symbol.iterator in source)
  ) {
    throw strataError("EINVAL", "write data must be a string, a Uint8Array, or an iterable of them");
  }
  return (async function* () {
    for await (const chunk of source) {
      if (typeof chunk === "string") yield encode(chunk, encoding);
      // Passed as is: the data plane copies every piece it keeps, so a Buffer reused by its
      // producer is safe (Buffer#slice being a view no longer matters downstream).
      else if (chunk instanceof Uint8Array) yield chunk;
      else throw strataError("EINVAL", "a write stream yielded something that is not bytes or a string");
    }
  })();
}

export function toMs(t: TimeLike, path: string): number {
  let ms: number;
  if (t instanceof Date) ms = t.getTime();
  else if (typeof t === "number") ms = t * 1000;
  else if (/^\s*-?\d+(\.\d+)?\s*$/.test(t)) ms = Number(t) * 1000;
  else ms = Date.parse(t);
  if (!Number.isFinite(ms)) throw strataError("EINVAL", `invalid time ${String(t)} for ${path}`, { path });
  return ms;
}

export function readOpts(options: ReadFileOptions | Encoding | null | undefined): ReadFileOptions {
  if (options === null || options === undefined) return {};
  if (typeof options === "string") return { encoding: options };
  return options;
}

export function writeOpts<T extends { encoding?: Encoding }>(options: T | Encoding | undefined): T {
  if (options === undefined) return {} as T;
  if (typeof options === "string") return { encoding: options } as T;
  return options;
}

/** Node's inclusive `end` → the data plane's exclusive one. */
export function range(path: string, options: ReadStreamOptions): { start?: number; end?: number } {
  const { start, end } = options;
  for (const [name, v] of [
    ["start", start],
    ["end", end],
  ] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
      throw strataError("EINVAL", `${name} must be a non-negative integer, got ${v}`, { path });
    }
  }
  if (start !== undefined && end !== undefined && end < start) {
    throw strataError("EINVAL", `end (${end}) is before start (${start})`, { path });
  }
  return { start, end: end === undefined ? undefined : end + 1 };
}

export function stringToBytes(chunk: unknown, path: string): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return encode(chunk);
  throw strataError("EINVAL", "write streams take bytes or strings", { path });
}
