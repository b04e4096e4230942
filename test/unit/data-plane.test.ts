/** The data plane's shared suite on the reference in-memory store and volumes, plus pure helpers. */
import { describe, expect, it } from "vitest";
import { concatBytes, fixedChunks } from "../../core/data/chunker.ts";
import { createDataPlane, webCryptoSha256 } from "../../core/data/plane.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { Volume } from "../../core/volume/volume.ts";
import { testDataPlane } from "../conformance/data.ts";

testDataPlane("memory store + memory volumes", async () => {
  const a = new MemoryVolumeDriver("a");
  const b = new MemoryVolumeDriver("b");
  return {
    store: new MemoryMetadataStore(),
    drivers: { a, b },
    async corruptAtRest(volume, key) {
      const stored = (volume === "a" ? a : b).objects.get(key)!;
      stored.bytes[0] = stored.bytes[0]! ^ 0xff;
    },
    async dispose() {},
  };
});

async function chunksOf(body: Uint8Array | AsyncIterable<Uint8Array>, size: number): Promise<number[]> {
  const out: number[] = [];
  for await (const c of fixedChunks(body, size)) out.push(c.byteLength);
  return out;
}

describe("data plane helpers", () => {
  it("fixedChunks cuts any stream into equal chunks with a shorter last one, never an empty one", async () => {
    const bytes = new Uint8Array(25).map((_, i) => i);
    async function* pieces(sizes: number[]) {
      let at = 0;
      for (const s of sizes) {
        yield bytes.slice(at, at + s);
        at += s;
      }
    }
    expect(await chunksOf(bytes, 10)).toEqual([10, 10, 5]);
    expect(await chunksOf(pieces([3, 0, 17, 5]), 10)).toEqual([10, 10, 5]);
    expect(await chunksOf(pieces([20, 5]), 10)).toEqual([10, 10, 5]);
    expect(await chunksOf(pieces([]), 10)).toEqual([]);
    expect(await chunksOf(new Uint8Array(0), 10)).toEqual([]);
    const joined: Uint8Array[] = [];
    for await (const c of fixedChunks(pieces([1, 2, 3, 4, 5, 6, 4]), 7)) joined.push(c.slice());
    expect([...concatBytes(joined)]).toEqual([...bytes]);
  });

  it("webCryptoSha256 gives the standard digest", async () => {
    expect(await webCryptoSha256(new TextEncoder().encode("abc"))).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });

  it("refuses bad options before doing anything", () => {
    const store = new MemoryMetadataStore();
    const volumes = { a: new Volume(new MemoryVolumeDriver("a")) };
    expect(() => createDataPlane({ store, volumes, defaultVolume: "zz" })).toThrow(/defaultVolume/);
    expect(() => createDataPlane({ store, volumes, defaultVolume: "a", chunkSize: 10 })).toThrow(/chunkSize/);
    expect(() => createDataPlane({ store, volumes, defaultVolume: "a", inlineThreshold: 1e6 })).toThrow(
      /inlineThreshold/,
    );
  });
});
