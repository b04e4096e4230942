/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum S3 (`x-amz-checksum-crc32c`),
 * GCS (`crc32c`) and iSCSI use. Pure TypeScript (slicing-by-16): no I/O, no native code, so `core/`
 * can checksum chunks and records anywhere it runs; entry points may plug in a hardware-accelerated
 * implementation with `useCrc32cImplementation`.
 *
 * Usage: `crc32c(bytes)` for a whole buffer, or fold a stream with
 * `let c = 0; for (const part of parts) c = crc32cUpdate(c, part);`.
 */
import { base64ToBytes, bytesToBase64 } from "./bytes.ts";

const POLY = 0x82f63b78;

/**
 * Slicing-by-16 tables, flat: entry `t * 256 + n` is the CRC of byte n followed by t zero bytes.
 * Int32 so the inner loop stays in small-integer arithmetic.
 */
const TABLE = (() => {
  const f = new Int32Array(16 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    f[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = f[n]!;
    for (let t = 1; t < 16; t++) {
      c = f[c & 0xff]! ^ (c >>> 8);
      f[t * 256 + n] = c;
    }
  }
  return f;
})();

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The portable implementation: slicing-by-16 over aligned little-endian 32-bit loads. */
export function crc32cUpdatePortable(crc: number, bytes: Uint8Array): number {
  const F = TABLE;
  let c = ~crc;
  let i = 0;
  const n = bytes.length;
  if (LITTLE_ENDIAN && n >= 32) {
    // Byte steps until 4-byte aligned, then 16 bytes (4 words) per step.
    while (i < n && ((bytes.byteOffset + i) & 3) !== 0) c = F[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
    const words = new Int32Array(bytes.buffer, bytes.byteOffset + i, (n - i) >>> 2);
    const wl = words.length & ~3;
    for (let w = 0; w < wl; w += 4) {
      const a = c ^ words[w]!;
      const b = words[w + 1]!;
      const d = words[w + 2]!;
      const e = words[w + 3]!;
      c =
        F[3840 + (a & 0xff)]! ^
        F[3584 + ((a >>> 8) & 0xff)]! ^
        F[3328 + ((a >>> 16) & 0xff)]! ^
        F[3072 + (a >>> 24)]! ^
        F[2816 + (b & 0xff)]! ^
        F[2560 + ((b >>> 8) & 0xff)]! ^
        F[2304 + ((b >>> 16) & 0xff)]! ^
        F[2048 + (b >>> 24)]! ^
        F[1792 + (d & 0xff)]! ^
        F[1536 + ((d >>> 8) & 0xff)]! ^
        F[1280 + ((d >>> 16) & 0xff)]! ^
        F[1024 + (d >>> 24)]! ^
        F[768 + (e & 0xff)]! ^
        F[512 + ((e >>> 8) & 0xff)]! ^
        F[256 + ((e >>> 16) & 0xff)]! ^
        F[e >>> 24]!;
    }
    i += wl * 4;
  }
  for (; i < n; i++) c = F[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

let implementation: (crc: number, bytes: Uint8Array) => number = crc32cUpdatePortable;

/**
 * Swap in a faster CRC32C (e.g. a hardware-accelerated one loaded by adapters/crc32c-native.ts).
 * It must agree with {@link crc32cUpdatePortable} bit for bit; the unit tests check the native one.
 */
export function useCrc32cImplementation(update: (crc: number, bytes: Uint8Array) => number): void {
  implementation = update;
}

/** Continue a CRC32C over `bytes`. Start with `crc = 0`; the result is the finished checksum. */
export function crc32cUpdate(crc: number, bytes: Uint8Array): number {
  return implementation(crc, bytes);
}

export function crc32c(bytes: Uint8Array): number {
  return crc32cUpdate(0, bytes);
}

/** The wire form S3 and GCS use: base64 of the 4 big-endian bytes. */
export function crc32cToBase64(crc: number): string {
  return bytesToBase64(new Uint8Array([crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff]));
}

/** Inverse of {@link crc32cToBase64}; `undefined` when the text is not a 4-byte base64 value. */
export function crc32cFromBase64(text: string): number | undefined {
  const raw = base64ToBytes(text);
  if (raw?.length !== 4) return undefined;
  return ((raw[0]! << 24) | (raw[1]! << 16) | (raw[2]! << 8) | raw[3]!) >>> 0;
}

/** 8 lowercase hex digits, the form strata writes into object metadata. */
export function crc32cToHex(crc: number): string {
  return crc.toString(16).padStart(8, "0");
}

export function crc32cFromHex(text: string): number | undefined {
  return /^[0-9a-f]{8}$/i.test(text) ? Number.parseInt(text, 16) >>> 0 : undefined;
}
