import { describe, expect, it } from "vitest";
import { installNativeCrc32c } from "../../adapters/crc32c-native.ts";
import {
  crc32c,
  crc32cFromBase64,
  crc32cFromHex,
  crc32cToBase64,
  crc32cToHex,
  crc32cUpdate,
  crc32cUpdatePortable,
} from "../../core/crc32c.ts";

describe("crc32c", () => {
  it("matches the published check values (RFC 3720 B.4)", () => {
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it("gives the same value fed whole or in uneven pieces", () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7919) & 0xff);
    let folded = 0;
    for (let at = 0, step = 1; at < bytes.length; at += step, step = (step * 3 + 1) % 23) {
      folded = crc32cUpdate(folded, bytes.subarray(at, at + step));
    }
    expect(folded).toBe(crc32c(bytes));
  });

  it("agrees with a bit-by-bit reference on random inputs at every alignment and length", () => {
    const reference = (bytes: Uint8Array) => {
      let c = 0xffffffff;
      for (const b of bytes) {
        c ^= b;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      }
      return ~c >>> 0;
    };
    let seed = 12345;
    const next = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 16;
    };
    const buffer = Uint8Array.from({ length: 4096 }, () => next() & 0xff);
    for (let trial = 0; trial < 300; trial++) {
      const offset = next() % 64;
      const length = next() % 700;
      const view = buffer.subarray(offset, offset + length);
      expect(crc32c(view)).toBe(reference(view));
    }
  });

  it("the native accelerator, when installed, agrees with the portable code on random inputs", () => {
    expect(installNativeCrc32c()).toBe(true); // @node-rs/crc32 ships linux-x64 prebuilt; fail loudly if lost
    let seed = 99;
    for (let trial = 0; trial < 200; trial++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const bytes = Uint8Array.from({ length: seed % 5000 }, (_, i) => (i * seed) >>> 7);
      const view = bytes.subarray(seed % 7);
      expect(crc32cUpdate(seed, view)).toBe(crc32cUpdatePortable(seed, view));
    }
  });

  it("round-trips the S3/GCS base64 form and the hex form", () => {
    expect(crc32cToBase64(0xe3069283)).toBe("4waSgw==");
    expect(crc32cFromBase64("4waSgw==")).toBe(0xe3069283);
    expect(crc32cFromBase64("not base64!")).toBeUndefined();
    expect(crc32cToHex(0x0000beef)).toBe("0000beef");
    expect(crc32cFromHex("e3069283")).toBe(0xe3069283);
    expect(crc32cFromHex("xyz")).toBeUndefined();
  });
});
