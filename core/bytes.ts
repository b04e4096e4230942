/** Byte-array helpers shared by every layer (pure): concatenation, collection, base64. */

/** Concatenate byte arrays into one new array (`total` = their summed length, when known). */
export function concatBytes(parts: Uint8Array[], total?: number): Uint8Array {
  const size = total ?? parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * A copy of bytes [start, end) of `bytes`. Not `bytes.slice()`: on a Node Buffer (a Uint8Array
 * subclass) `slice` is a view of the same memory, so a retained "copy" changes when the producer
 * refills its buffer.
 */
export function copyOf(bytes: Uint8Array, start = 0, end = bytes.byteLength): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes, start, end);
}

/**
 * Read a whole stream into one array. Each piece is copied as it arrives, because a producer may
 * reuse its buffer (Node streams do); `signal` is checked between pieces.
 */
export async function collectBytes(
  body: AsyncIterable<Uint8Array>,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const piece of body) {
    signal?.throwIfAborted();
    parts.push(copyOf(piece));
    size += piece.byteLength;
  }
  return concatBytes(parts, size);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lowercase hex of bytes: the one encoder (SHA-256 addresses, random ids, canonical record text). */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += HEX[b];
  return out;
}

/** `bytes` random bytes (WebCrypto) as lowercase hex: ids that must not collide (intents, leases). */
export function randomHex(bytes: number): string {
  const random = new Uint8Array(bytes);
  crypto.getRandomValues(random);
  return toHex(random);
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

/** Standard base64 (RFC 4648 §4, with padding) of bytes: the one encoder (wire form, mirror bundles, CRC32C headers). */
export function bytesToBase64(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += `${B64[n >> 18]!}${B64[(n >> 12) & 63]!}==`;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += `${B64[n >> 18]!}${B64[(n >> 12) & 63]!}${B64[(n >> 6) & 63]!}=`;
  }
  return out;
}

/**
 * Bytes of standard base64; `undefined` when the text is not base64. Padding is optional; white
 * space, URL-safe letters and `=` inside the text are refused (`atob` would skip white space).
 */
export function base64ToBytes(text: string): Uint8Array | undefined {
  const clean = text.replace(/=+$/, "");
  if (clean.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const c of clean) {
    const v = B64_INDEX.get(c);
    if (v === undefined) return undefined;
    value = (value << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >> bits) & 0xff;
    }
  }
  return out;
}
