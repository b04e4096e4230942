import { describe, expect, it } from "vitest";
import { faultyVolume } from "../../adapters/volumes/faulty.ts";
import { crc32c } from "../../core/crc32c.ts";
import { isStrataError, type StrataError } from "../../core/errors.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import type { VolumeDriver } from "../../core/volume/port.ts";
import { Volume } from "../../core/volume/volume.ts";
import { failureOf } from "../support/errors.ts";

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

async function drain(body: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of body) n += c.byteLength;
  return n;
}

/** A Volume that records its backoff sleeps instead of waiting. */
function recorded(driver: VolumeDriver, random = () => 0.5, retry = {}) {
  const sleeps: number[] = [];
  const volume = new Volume(driver, {
    retry,
    random,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { volume, sleeps };
}

describe("Volume retries", () => {
  it("retries retryable errors with full-jitter exponential backoff, capped and bounded", async () => {
    const flaky = faultyVolume(new MemoryVolumeDriver(), { head: { fault: "throttle" } });
    await new Volume(flaky.inner).put("k", bytes(3));
    const top = recorded(flaky, () => 0.999999, { attempts: 7, baseDelayMs: 100, maxDelayMs: 1000 });
    const err = await failureOf(top.volume.head("k"));
    expect(err.code).toBe("ETHROTTLED");
    expect(flaky.calls.head).toBe(7);
    // Ceilings 100, 200, 400, 800, 1000, 1000: each delay just below its ceiling.
    expect(top.sleeps).toEqual([99, 199, 399, 799, 999, 999]);
    const bottom = recorded(flaky, () => 0, { attempts: 3 });
    await failureOf(bottom.volume.head("k"));
    expect(bottom.sleeps).toEqual([0, 0]);
  });

  it("defaults to 5 attempts and keeps the code, the details and the attempt count in the final error", async () => {
    const flaky = faultyVolume(new MemoryVolumeDriver("vol-a"), { get: { fault: "unavailable" } });
    const { volume, sleeps } = recorded(flaky);
    const err = await failureOf(volume.get("some/key"));
    expect(err.code).toBe("EUNAVAIL");
    expect(err.message).toContain("5 attempts");
    expect(err.details).toMatchObject({ volume: "vol-a", key: "some/key", attempts: 5 });
    expect(isStrataError(err.cause, "EUNAVAIL")).toBe(true);
    expect(sleeps).toHaveLength(4);
    for (const [i, ms] of sleeps.entries()) expect(ms).toBeLessThan(Math.min(2000, 50 * 2 ** i));
  });

  it("does not retry errors that are not retryable", async () => {
    const driver = faultyVolume(new MemoryVolumeDriver(), {});
    const { volume, sleeps } = recorded(driver);
    expect((await failureOf(volume.head("missing"))).code).toBe("ENOENT");
    expect(driver.calls.head).toBe(1);
    expect(sleeps).toEqual([]);
  });

  it("wraps a non-StrataError from a driver as EIO naming it a driver bug, with the cause", async () => {
    const broken = new MemoryVolumeDriver("broken");
    broken.head = async () => {
      throw new TypeError("boom");
    };
    const err = await failureOf(new Volume(broken).head("k"));
    expect(err.code).toBe("EIO");
    expect(err.message).toContain("driver bug");
    expect(err.message).toContain("boom");
    expect(err.cause).toBeInstanceOf(TypeError);
  });

  it("retries a buffer put, and a stream put only while the driver has read none of it", async () => {
    const drop = faultyVolume(new MemoryVolumeDriver(), { put: { fault: "drop", times: 1, afterBytes: 10 } });
    const v = recorded(drop).volume;
    expect((await v.put("buf", bytes(100))).size).toBe(100);
    expect(drop.calls.put).toBe(2);
    async function* stream() {
      yield bytes(50);
      yield bytes(50, 2);
    }
    const drop2 = faultyVolume(new MemoryVolumeDriver(), {
      put: { fault: "drop", times: 1, afterBytes: 10 },
    });
    const err = await failureOf(recorded(drop2).volume.put("s", stream()));
    expect(err.code).toBe("EUNAVAIL");
    expect(err.message).toContain("cannot be replayed");
    expect(drop2.calls.put).toBe(1);
    expect((await failureOf(new Volume(drop2.inner).head("s"))).code).toBe("ENOENT");
    // Throttled before reading: the stream is untouched, so the retry is safe.
    const throttle = faultyVolume(new MemoryVolumeDriver(), { put: { fault: "throttle", times: 1 } });
    expect((await recorded(throttle).volume.put("s", stream())).size).toBe(100);
    expect(throttle.calls.put).toBe(2);
  });

  it("stops retrying when the caller aborts", async () => {
    const flaky = faultyVolume(new MemoryVolumeDriver(), { head: { fault: "throttle" } });
    const controller = new AbortController();
    const volume = new Volume(flaky, {
      sleep: async () => {
        controller.abort();
      },
    });
    expect((await failureOf(volume.head("k", { signal: controller.signal }))).code).toBe("EABORTED");
    expect(flaky.calls.head).toBe(1);
    expect((await failureOf(volume.head("k", { signal: controller.signal }))).code).toBe("EABORTED");
    expect(flaky.calls.head).toBe(1);
  });
});

describe("Volume create-only with a lost reply", () => {
  it("treats EEXIST after a lost reply as success when size and CRC32C are its own", async () => {
    const lost = faultyVolume(new MemoryVolumeDriver(), {
      put: { fault: "lostReply", times: 1, error: "ETIMEDOUT" },
    });
    const info = await recorded(lost).volume.put("k", bytes(10), { ifNoneMatch: true });
    expect(info).toMatchObject({ size: 10, crc32c: crc32c(bytes(10)) });
    expect(lost.calls).toMatchObject({ put: 2, head: 1 });
  });

  it("still fails EEXIST when the object found is someone else's", async () => {
    const memory = new MemoryVolumeDriver();
    const lost = faultyVolume(memory, { put: { fault: "lostReply", times: 1 } });
    // The first try is applied with different bytes than ours: simulate a racing writer by
    // swapping the stored object before the retry.
    const volume = new Volume(lost, {
      sleep: async () => {
        memory.objects.set("k", {
          bytes: bytes(10, 9),
          crc32c: crc32c(bytes(10, 9)),
          metadata: {},
          lastModified: new Date(),
        });
      },
    });
    expect((await failureOf(volume.put("k", bytes(10), { ifNoneMatch: true }))).code).toBe("EEXIST");
  });

  it("recognises a whole stream whose reply was lost, without sending it again", async () => {
    async function* stream() {
      yield bytes(30);
      yield bytes(20, 5);
    }
    const expected = crc32c(Uint8Array.from([...bytes(30), ...bytes(20, 5)]));
    for (const ifNoneMatch of [false, true]) {
      const lost = faultyVolume(new MemoryVolumeDriver(), { put: { fault: "lostReply", times: 1 } });
      const info = await recorded(lost).volume.put("k", stream(), { ifNoneMatch });
      expect(info).toMatchObject({ size: 50, crc32c: expected });
      expect(lost.calls).toMatchObject({ put: 1, head: 1 });
    }
  });

  it("does not call it success without a retryable failure first", async () => {
    const memory = new MemoryVolumeDriver();
    const volume = new Volume(memory);
    await volume.put("k", bytes(10));
    expect((await failureOf(volume.put("k", bytes(10), { ifNoneMatch: true }))).code).toBe("EEXIST");
  });
});

describe("Volume integrity", () => {
  it("rejects a body whose declared size or CRC32C is wrong, storing nothing", async () => {
    const memory = new MemoryVolumeDriver();
    const volume = new Volume(memory);
    const err = await failureOf(volume.put("k", bytes(10), { crc32c: 12345 }));
    expect(err.code).toBe("ECORRUPT");
    expect(err.details).toMatchObject({ volume: "memory", key: "k", expected: "00003039" });
    expect((await failureOf(volume.put("k", bytes(10), { size: 11 }))).code).toBe("EINVAL");
    expect((await failureOf(volume.put("k", bytes(10), { size: -1 }))).code).toBe("EINVAL");
    expect(memory.objects.size).toBe(0);
  });

  it("verifies a full read's size and CRC32C and throws ECORRUPT at the end of the body", async () => {
    const memory = new MemoryVolumeDriver();
    const volume = new Volume(memory);
    await volume.put("k", bytes(1000));
    memory.objects.get("k")!.bytes[500]! ^= 1;
    const { body } = await volume.get("k");
    const err = await failureOf(drain(body));
    expect(err.code).toBe("ECORRUPT");
    expect(err.details).toMatchObject({
      volume: "memory",
      key: "k",
      expected: { size: 1000, crc32c: expect.any(String) },
      actual: { size: 1000, crc32c: expect.any(String) },
    });
    expect((await failureOf(volume.getBytes("k"))).code).toBe("ECORRUPT");
    // Truncation is caught too.
    memory.objects.get("k")!.bytes = bytes(999);
    expect((await failureOf(volume.getBytes("k"))).code).toBe("ECORRUPT");
  });

  it("does not verify range reads (the object's CRC covers the whole object), nor when verify is false", async () => {
    const memory = new MemoryVolumeDriver();
    const volume = new Volume(memory);
    await volume.put("k", bytes(1000));
    memory.objects.get("k")!.bytes[500]! ^= 1;
    expect(await drain((await volume.get("k", { range: { start: 0, end: 1000 } })).body)).toBe(1000);
    expect(await drain((await volume.get("k", { verify: false })).body)).toBe(1000);
  });

  it("copies through the process when the driver has no server-side copy, keeping CRC and metadata", async () => {
    const memory = new MemoryVolumeDriver();
    const noCopy: VolumeDriver = {
      name: "no-copy",
      capabilities: { ...memory.capabilities, serverSideCopy: false },
      put: (k, b, o) => memory.put(k, b, o),
      get: (k, o) => memory.get(k, o),
      head: (k) => memory.head(k),
      list: (p, o) => memory.list(p, o),
      delete: (k) => memory.delete(k),
    };
    const volume = new Volume(noCopy);
    await volume.put("a", bytes(5000), { metadata: { kind: "x" } });
    const info = await volume.copy("a", "b");
    expect(info).toMatchObject({
      key: "b",
      size: 5000,
      crc32c: crc32c(bytes(5000)),
      metadata: { kind: "x" },
    });
    expect((await failureOf(volume.copy("a", "b", { ifNoneMatch: true }))).code).toBe("EEXIST");
    memory.objects.get("a")!.bytes[1]! ^= 1;
    expect((await failureOf(volume.copy("a", "c"))).code).toBe("ECORRUPT");
    expect(memory.objects.has("c")).toBe(false);
  });
});

describe("faultyVolume", () => {
  it("injects faults deterministically: by count, by key, and by seeded probability", async () => {
    const make = (seed: number) =>
      faultyVolume(new MemoryVolumeDriver(), {
        seed,
        head: [
          { fault: "unavailable", when: (key) => key.startsWith("bad/") },
          { fault: "throttle", probability: 0.5 },
        ],
      });
    const outcomes = async (seed: number) => {
      const f = make(seed);
      const out: string[] = [];
      for (let i = 0; i < 40; i++) {
        out.push(
          await f.head(i % 4 === 0 ? "bad/x" : "good").then(
            () => "ok",
            (e: StrataError) => e.code,
          ),
        );
      }
      return { out, f };
    };
    const a = await outcomes(42);
    const b = await outcomes(42);
    expect(a.out).toEqual(b.out);
    expect(a.out.filter((_, i) => i % 4 === 0).every((c) => c === "EUNAVAIL")).toBe(true);
    const throttled = a.out.filter((c) => c === "ETHROTTLED").length;
    expect(throttled).toBeGreaterThan(5);
    expect(throttled).toBeLessThan(35);
    expect(a.f.injected.byKind.unavailable).toBe(10);
    expect(a.f.injected.byKind.throttle).toBe(throttled);
    expect((await outcomes(7)).out).not.toEqual(a.out);
  });

  it("applies a lost-reply op on the inner driver before failing", async () => {
    const memory = new MemoryVolumeDriver();
    const f = faultyVolume(memory, { delete: { fault: "lostReply", times: 1 } });
    await new Volume(memory).put("k", bytes(1));
    expect((await failureOf(f.delete("k"))).code).toBe("EUNAVAIL");
    expect(memory.objects.has("k")).toBe(false);
  });

  it("rejects corrupt on ops other than get", () => {
    expect(() => faultyVolume(new MemoryVolumeDriver(), { put: { fault: "corrupt" } })).toThrow(/get only/);
  });
});
