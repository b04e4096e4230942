/** The data plane's shared suite on the reference in-memory store and volumes, plus pure helpers. */
import { describe, expect, it } from "vitest";
import { faultyVolume } from "../../adapters/volumes/faulty.ts";
import { concatBytes } from "../../core/bytes.ts";
import { intentPk } from "../../core/data/chunk-items.ts";
import { fixedChunks } from "../../core/data/chunker.ts";
import { createDataPlane, webCryptoSha256 } from "../../core/data/plane.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import type { VolumeDriver } from "../../core/volume/port.ts";
import { Volume } from "../../core/volume/volume.ts";
import { codeOf, testDataPlane } from "../conformance/data.ts";
import { patternBytes } from "../conformance/volume.ts";

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

async function twoVolumeSetup() {
  const store = new MemoryMetadataStore();
  const a = faultyVolume(new MemoryVolumeDriver("a"), {});
  const b = faultyVolume(new MemoryVolumeDriver("b"), {});
  const ns = createNamespace({ store });
  await ns.createPfs("p");
  return { store, a, b, fs: ns.pfs("p"), volA: new Volume(a), volB: new Volume(b) };
}

describe("data plane: instance choice and intents", () => {
  it("reads from the reader's site first, then from the cheaper volume", async () => {
    const { store, a, b, fs, volA, volB } = await twoVolumeSetup();
    const volumes = { a: { volume: volA, site: "x", cost: 1 }, b: { volume: volB, site: "y", cost: 5 } };
    const writer = createDataPlane({
      store,
      volumes,
      defaultVolume: "a",
      chunkSize: 64 * 1024,
      chooseVolumes: () => ["a", "b"],
    });
    const bytes = patternBytes(3 * 64 * 1024, 1);
    await writer.writeFile(fs, "/f", bytes);

    const inY = createDataPlane({ store, volumes, defaultVolume: "a", chunkSize: 64 * 1024, site: "y" });
    expect(await inY.readFile(fs, "/f")).toEqual(bytes);
    expect([a.calls.get, b.calls.get]).toEqual([0, 3]);

    const nowhere = createDataPlane({ store, volumes, defaultVolume: "a", chunkSize: 64 * 1024 });
    expect(await nowhere.readFile(fs, "/f")).toEqual(bytes);
    expect([a.calls.get, b.calls.get]).toEqual([3, 3]);
  });

  it("moves on from an unreachable volume and prefers the healthy one while failures are recent", async () => {
    const { store, fs, volA, volB } = await twoVolumeSetup();
    const flaky = new Volume(faultyVolume(new MemoryVolumeDriver("a"), { get: { fault: "unavailable" } }), {
      retry: { attempts: 1 },
    });
    const reports: string[] = [];
    const data = createDataPlane({
      store,
      volumes: { a: volA, b: volB },
      defaultVolume: "a",
      chunkSize: 64 * 1024,
      chooseVolumes: () => ["a", "b"],
    });
    const bytes = patternBytes(2 * 64 * 1024, 2);
    await data.writeFile(fs, "/f", bytes);
    // Same records, but volume "a" now answers nothing.
    const reader = createDataPlane({
      store,
      volumes: { a: flaky, b: volB },
      defaultVolume: "a",
      chunkSize: 64 * 1024,
      onBadInstance: (r) => reports.push(`${r.volume}:${r.state}`),
    });
    expect(await reader.readFile(fs, "/f")).toEqual(bytes);
    expect(reports).toEqual(["a:unavailable", "a:unavailable"]);
    // Recent failures rank "a" last: no further attempt on it.
    expect(await reader.readFile(fs, "/f")).toEqual(bytes);
    expect(reports).toHaveLength(2);
    // Unreachable is not recorded on the instance (only corrupt / missing are).
    expect((await reader.placement(fs, "/f"))[0]!.instances.map((i) => i.state)).toEqual([
      "present",
      "present",
    ]);
  });

  it("commits a slow upload inside its intent, refuses one whose intent expired (ETIMEDOUT, no file, intent left)", async () => {
    const { store, fs } = await twoVolumeSetup();
    let now = 1_000_000;
    let putDelay = 0;
    const inner = new MemoryVolumeDriver("a");
    // An upload that takes `putDelay` ms of the plane's clock.
    const slow: VolumeDriver = {
      name: inner.name,
      capabilities: inner.capabilities,
      put: async (key, body, options) => {
        now += putDelay;
        return await inner.put(key, body, options);
      },
      get: (key, options) => inner.get(key, options),
      head: (key) => inner.head(key),
      list: (prefix, options) => inner.list(prefix, options),
      delete: (key) => inner.delete(key),
    };
    const data = createDataPlane({
      store,
      volumes: { a: new Volume(slow) },
      defaultVolume: "a",
      chunkSize: 64 * 1024,
      intentTtlMs: 1000,
      clock: () => now,
    });
    putDelay = 300;
    expect(await codeOf(data.writeFile(fs, "/renewed", patternBytes(64 * 1024 + 1, 3)))).toBe("resolved");
    expect((await store.query(intentPk("p"))).items).toEqual([]);

    putDelay = 5000;
    expect(await codeOf(data.writeFile(fs, "/late", patternBytes(64 * 1024 + 1, 4)))).toBe("ETIMEDOUT");
    expect(await codeOf(fs.stat("/late"))).toBe("ENOENT");
    expect((await store.query(intentPk("p"))).items).toHaveLength(1);
  });

  it("appendFile creates a missing file, like node:fs", async () => {
    const { store, fs, volA } = await twoVolumeSetup();
    const data = createDataPlane({ store, volumes: { a: volA }, defaultVolume: "a" });
    await data.appendFile(fs, "/new", Uint8Array.of(1, 2, 3));
    expect(await data.readFile(fs, "/new")).toEqual(Uint8Array.of(1, 2, 3));
  });
});

/**
 * A memory volume whose puts block until `release()` (ignoring the signal, like an upload request
 * already on the wire), counting puts started and settled.
 */
class GatedDriver extends MemoryVolumeDriver {
  started = 0;
  settled = 0;
  private open!: () => void;
  private readonly gate = new Promise<void>((resolve) => {
    this.open = resolve;
  });
  private readonly waiters: Array<{ count: number; resolve: () => void }> = [];
  get inFlight(): number {
    return this.started - this.settled;
  }
  release(): void {
    this.open();
  }
  /** Resolves once `count` puts have started. */
  startedAtLeast(count: number): Promise<void> {
    if (this.started >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }
  override async put(...args: Parameters<MemoryVolumeDriver["put"]>): ReturnType<MemoryVolumeDriver["put"]> {
    this.started++;
    for (const w of this.waiters.splice(0)) {
      if (this.started >= w.count) w.resolve();
      else this.waiters.push(w);
    }
    try {
      await this.gate;
      return await super.put(...args);
    } finally {
      this.settled++;
    }
  }
}

describe("data plane: a failed or aborted write leaves no upload running", () => {
  const CHUNK = 64 * 1024;

  async function setup() {
    const store = new MemoryMetadataStore();
    const driver = new GatedDriver("a");
    const ns = createNamespace({ store });
    await ns.createPfs("p");
    const data = createDataPlane({
      store,
      volumes: { a: new Volume(driver, { retry: { attempts: 1 } }) },
      defaultVolume: "a",
      chunkSize: CHUNK,
      parallelism: 4,
    });
    return { driver, data, fs: ns.pfs("p") };
  }

  /** Watch `write`: the puts in flight when it settled. Gives a pre-fix early settle a chance to show. */
  async function settleAfterRelease(driver: GatedDriver, write: Promise<unknown>) {
    let inFlightAtSettle: number | undefined;
    const watched = write.then(
      () => "resolved",
      (err: unknown) => {
        inFlightAtSettle = driver.inFlight;
        return (err as { code?: string }).code ?? String(err);
      },
    );
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
    driver.release();
    const code = await watched;
    return { code, inFlightAtSettle };
  }

  it("a body that throws mid-write: writeFile rejects only after every upload it started has settled", async () => {
    const { driver, data, fs } = await setup();
    async function* body(): AsyncGenerator<Uint8Array> {
      yield patternBytes(CHUNK, 1);
      yield patternBytes(CHUNK, 2);
      await driver.startedAtLeast(2);
      throw new Error("the source failed");
    }
    const { code, inFlightAtSettle } = await settleAfterRelease(driver, data.writeFile(fs, "/f", body()));
    expect(code).toBe("EIO");
    expect(inFlightAtSettle).toBe(0);
    expect(await codeOf(fs.stat("/f"))).toBe("ENOENT");
  });

  it("an abort mid-write: writeFile rejects EABORTED only after every upload it started has settled", async () => {
    const { driver, data, fs } = await setup();
    const controller = new AbortController();
    async function* body(): AsyncGenerator<Uint8Array> {
      yield patternBytes(CHUNK, 1);
      yield patternBytes(CHUNK, 2);
      await driver.startedAtLeast(2);
      controller.abort();
      yield patternBytes(CHUNK, 3);
      yield patternBytes(CHUNK, 4);
    }
    const write = data.writeFile(fs, "/g", body(), { signal: controller.signal });
    const { code, inFlightAtSettle } = await settleAfterRelease(driver, write);
    expect(code).toBe("EABORTED");
    expect(inFlightAtSettle).toBe(0);
    expect(await codeOf(fs.stat("/g"))).toBe("ENOENT");
  });
});

describe("data plane: truncate racing an append", () => {
  it("neither loses the other: the appended bytes survive a concurrent extending truncate", async () => {
    const { store, fs, volA } = await twoVolumeSetup();
    const data = createDataPlane({ store, volumes: { a: volA }, defaultVolume: "a", chunkSize: 64 * 1024 });
    for (let round = 0; round < 5; round++) {
      const path = `/t${round}`;
      const head = patternBytes(70 * 1024, round + 1);
      const tail = new Uint8Array(5000).fill(7);
      await data.writeFile(fs, path, head);
      const target = 200 * 1024;
      await Promise.all([data.appendFile(fs, path, tail), data.truncate(fs, path, target)]);
      const got = await data.readFile(fs, path);
      // Append first: [head, tail, zeros] (size = target); truncate first: [head, zeros, tail].
      const at = got.byteLength === target ? head.byteLength : target;
      expect([target, target + tail.byteLength]).toContain(got.byteLength);
      expect(got.subarray(0, head.byteLength)).toEqual(head);
      expect(got.subarray(at, at + tail.byteLength)).toEqual(tail);
    }
  });
});
