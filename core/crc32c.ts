/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum S3 (`x-amz-checksum-crc32c`),
 * GCS (`crc32c`) and iSCSI use. Pure TypeScript, slicing-by-8 tables: no I/O, no native code,
 * so `core/` can checksum chunks and records anywhere it runs.
 *
 * Usage: `crc32c(bytes)` for a whole buffer, or fold a stream with
 * `let c = 0; for (const part of parts) c = crc32cUpdate(c, part);`.
 */
const POLY = 0x82f63b78;

const TABLES: Uint32Array[] = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const t0 = tables[0]!;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t0[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t0[n]!;
    for (let t = 1; t < 8; t++) {
      c = (t0[c & 0xff]! ^ (c >>> 8)) >>> 0;
      tables[t]![n] = c;
    }
  }
  return tables;
})();

const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES as [
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
];

/** Continue a CRC32C over `bytes`. Start with `crc = 0`; the result is the finished checksum. */
export function crc32cUpdate(crc: number, bytes: Uint8Array): number {
  let c = ~crc >>> 0;
  let i = 0;
  const n = bytes.length;
  // 8 bytes per step; the tail byte by byte.
  for (; i + 8 <= n; i += 8) {
    const a = (c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>> 0;
    c =
      T7[a & 0xff]! ^
      T6[(a >>> 8) & 0xff]! ^
      T5[(a >>> 16) & 0xff]! ^
      T4[a >>> 24]! ^
      T3[bytes[i + 4]!]! ^
      T2[bytes[i + 5]!]! ^
      T1[bytes[i + 6]!]! ^
      T0[bytes[i + 7]!]!;
  }
  for (; i < n; i++) c = T0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

export function crc32c(bytes: Uint8Array): number {
  return crc32cUpdate(0, bytes);
}

/** The wire form S3 and GCS use: base64 of the 4 big-endian bytes. */
export function crc32cToBase64(crc: number): string {
  const b = new Uint8Array([crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff]);
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

/** Inverse of {@link crc32cToBase64}; `undefined` when the text is not a 4-byte base64 value. */
export function crc32cFromBase64(text: string): number | undefined {
  let raw: string;
  try {
    raw = atob(text);
  } catch {
    return undefined;
  }
  if (raw.length !== 4) return undefined;
  return (
    ((raw.charCodeAt(0) << 24) | (raw.charCodeAt(1) << 16) | (raw.charCodeAt(2) << 8) | raw.charCodeAt(3)) >>>
    0
  );
}

/** 8 lowercase hex digits, the form strata writes into object metadata. */
export function crc32cToHex(crc: number): string {
  return crc.toString(16).padStart(8, "0");
}

export function crc32cFromHex(text: string): number | undefined {
  return /^[0-9a-f]{8}$/i.test(text) ? Number.parseInt(text, 16) >>> 0 : undefined;
}
