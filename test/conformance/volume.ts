/**
 * The one Volume conformance suite, run against every backend. A backend's test file is a few lines:
 *
 * ```ts
 * import { testVolume } from "../conformance/volume.ts";
 * testVolume("s3", async () => ({ driver: new S3VolumeDriver(…), dispose: async () => {…} }), {
 *   skip: { "racing-create-only": "s3rver ignores If-None-Match" },
 * });
 * ```
 *
 * Every case runs through `new Volume(driver)` (the way strata uses a volume) and, where the
 * driver's own contract matters, through the raw driver. Skips come from `driver.capabilities`
 * (e.g. atomicCreateOnly) or `options.skip`, and the reason is printed in the test's name.
 *
 * Cloud-safe: every case writes under a unique prefix of one run and removes what it wrote;
 * the fixture's `dispose` removes the rest.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { faultyVolume } from "../../adapters/volumes/faulty.ts";
import { collectBytes } from "../../core/bytes.ts";
import { crc32c, crc32cUpdate } from "../../core/crc32c.ts";
import { type ErrorCode, isStrataError } from "../../core/errors.ts";
import type { PutBody, VolumeDriver } from "../../core/volume/port.ts";
import { Volume, type VolumeOptions } from "../../core/volume/volume.ts";
import { failureOf } from "../support/errors.ts";

export interface VolumeFixture {
  /** A driver on an empty, isolated namespace (fresh dir / bucket / container). */
  driver: VolumeDriver;
  /** Flip one stored byte of `key` out-of-band, keeping its recorded CRC32C; absent when the backend cannot. */
  corruptAtRest?: (key: string) => Promise<void>;
  dispose(): Promise<void>;
}

export type VolumeCaseName =
  | "racing-create-only"
  | "corrupt-at-rest"
  | "server-side-copy"
  | "large-64MiB"
  | "memory-bounded"
  | "list-over-1000"
  | string;

export interface VolumeSuiteOptions {
  /** Cases to skip, with the reason (printed in the test's name). */
  skip?: Partial<Record<VolumeCaseName, string>>;
}

const MiB = 1024 * 1024;
/** Fast retries so fault cases do not wait; the backoff itself is unit-tested. */
const FAST: VolumeOptions = { retry: { attempts: 5, baseDelayMs: 1, maxDelayMs: 5 } };
const NO_SLEEP: VolumeOptions = { retry: { attempts: 3 }, sleep: async () => {} };

/** Deterministic pseudo-random bytes (xorshift32 per 4-byte word): cheap for 64 MiB, not compressible. */
export function patternBytes(size: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, size);
}

/** A lazily generated stream of unknown length: `total` bytes in chunks of `chunk` bytes (seeded per chunk). */
export async function* lazyStream(total: number, chunk: number, seed: number): AsyncGenerator<Uint8Array> {
  for (let at = 0, i = 0; at < total; at += chunk, i++) {
    yield patternBytes(Math.min(chunk, total - at), seed + i);
  }
}

/** Size and CRC32C of what `lazyStream(total, chunk, seed)` yields, without holding it. */
async function lazyStreamDigest(total: number, chunk: number, seed: number) {
  return await digest(lazyStream(total, chunk, seed));
}

async function digest(body: AsyncIterable<Uint8Array>): Promise<{ size: number; crc32c: number }> {
  let crc = 0;
  let size = 0;
  for await (const part of body) {
    crc = crc32cUpdate(crc, part);
    size += part.byteLength;
  }
  return { size, crc32c: crc };
}

/** Uneven chunks of `bytes`, as a network stream would deliver them, with no declared length. */
async function* unevenChunks(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let at = 0, step = 1; at < bytes.length; at += step, step = (step * 7 + 13) % 70_001) {
    yield bytes.slice(at, at + step);
  }
}

/** A PutBody for calling a raw driver directly (the Volume wrapper builds these normally). */
function rawBody(bytes: Uint8Array): PutBody {
  let sent = 0;
  let crc = 0;
  return {
    declaredSize: bytes.byteLength,
    crc32c: () => crc,
    size: () => sent,
    async *[Symbol.asyncIterator]() {
      crc = crc32c(bytes);
      sent = bytes.byteLength;
      yield bytes;
    },
  };
}

async function codeOf(promise: Promise<unknown>): Promise<ErrorCode | "ok" | string> {
  try {
    await promise;
    return "ok";
  } catch (err) {
    return isStrataError(err) ? err.code : `non-StrataError: ${String(err)}`;
  }
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function utf16Compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The comparator of the order the driver declares for `list`. */
function listOrderOf(driver: VolumeDriver): (a: string, b: string) => number {
  return driver.capabilities.listOrder === "utf16" ? utf16Compare : utf8Compare;
}

/** A driver that counts every call, to prove that bad input never reaches the backend. */
function counting(driver: VolumeDriver): { driver: VolumeDriver; calls: () => number } {
  let calls = 0;
  const counted = new Proxy(driver, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || prop === "close") return value;
      return (...args: unknown[]) => {
        calls++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { driver: counted, calls: () => calls };
}

export function testVolume(
  backend: string,
  makeFixture: () => Promise<VolumeFixture>,
  options: VolumeSuiteOptions = {},
): void {
  describe(`volume conformance: ${backend}`, () => {
    let fixture: VolumeFixture;
    let volume: Volume;
    const run = `strata-conformance-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    let caseNo = 0;
    /** A fresh key prefix per case. */
    const prefix = () => `${run}/c${++caseNo}`;
    /** Keys a case wrote and did not delete itself; removed after the suite (cloud-safety). */
    const written = new Set<string>();
    const put = async (key: string, body: Uint8Array | AsyncIterable<Uint8Array>, opts = {}) => {
      written.add(key);
      return await volume.put(key, body, opts);
    };

    beforeAll(async () => {
      fixture = await makeFixture();
      volume = new Volume(fixture.driver, FAST);
    });

    afterAll(async () => {
      if (!fixture) return;
      try {
        await pool([...written], 16, async (key) => {
          await volume.delete(key).catch(() => {});
        });
      } finally {
        await fixture.dispose();
      }
    });

    /** A case that may be skipped; the reason is part of the test name so the output shows it. */
    function kase(name: string, fn: () => Promise<void>): void;
    function kase(
      name: string,
      id: VolumeCaseName,
      fn: () => Promise<void>,
      skipReason?: () => string | undefined,
    ): void;
    function kase(
      name: string,
      idOrFn: VolumeCaseName | (() => Promise<void>),
      maybeFn?: () => Promise<void>,
      skipReason?: () => string | undefined,
    ): void {
      const id = typeof idOrFn === "string" ? idOrFn : undefined;
      const fn = typeof idOrFn === "function" ? idOrFn : maybeFn!;
      // Decided at collection time from options; capability skips are decided at run time (the
      // fixture exists only then) and reported through ctx.skip(reason).
      const optionReason = id === undefined ? undefined : options.skip?.[id];
      const title = optionReason === undefined ? name : `${name} [skipped: ${optionReason}]`;
      it.skipIf(optionReason !== undefined)(title, async (ctx) => {
        const reason = skipReason?.();
        if (reason !== undefined) {
          console.info(`[volume conformance: ${backend}] skipped "${name}": ${reason}`);
          ctx.skip(reason);
          return;
        }
        await fn();
      });
    }

    // Put / get / head basics

    kase("put of a Uint8Array round-trips bytes, size, CRC32C and head", async () => {
      const key = `${prefix()}/object.bin`;
      const bytes = patternBytes(300_001, 1);
      const info = await put(key, bytes);
      expect(info).toMatchObject({ key, size: bytes.length, crc32c: crc32c(bytes) });
      expect(await volume.head(key)).toMatchObject({ key, size: bytes.length, crc32c: crc32c(bytes) });
      expect(await fixture.driver.head(key)).toMatchObject({ size: bytes.length, crc32c: crc32c(bytes) });
      expect(Buffer.from(await volume.getBytes(key)).equals(Buffer.from(bytes))).toBe(true);
      const { info: got, body } = await volume.get(key);
      expect(got).toMatchObject({ size: bytes.length, crc32c: crc32c(bytes) });
      expect(Buffer.from(await collectBytes(body)).equals(Buffer.from(bytes))).toBe(true);
    });

    kase("put of an async-iterable stream of unknown length stores it byte-exact", async () => {
      const key = `${prefix()}/streamed.bin`;
      const bytes = patternBytes(3 * MiB + 17, 2);
      const info = await put(key, unevenChunks(bytes));
      expect(info).toMatchObject({ size: bytes.length, crc32c: crc32c(bytes) });
      const back = await volume.getBytes(key);
      expect(back.length).toBe(bytes.length);
      expect(crc32c(back)).toBe(crc32c(bytes));
    });

    kase("put overwrites an existing key when not create-only", async () => {
      const key = `${prefix()}/over`;
      await put(key, patternBytes(1000, 3));
      const second = patternBytes(10, 4);
      await put(key, second);
      expect(await volume.head(key)).toMatchObject({ size: 10, crc32c: crc32c(second) });
      expect(Buffer.from(await volume.getBytes(key)).equals(Buffer.from(second))).toBe(true);
    });

    kase("0-byte and 1-byte objects round-trip, through the wrapper and the raw driver", async () => {
      const p = prefix();
      const empty = await put(`${p}/empty`, new Uint8Array(0));
      expect(empty).toMatchObject({ size: 0, crc32c: 0 });
      expect((await volume.getBytes(`${p}/empty`)).length).toBe(0);
      const emptyRange = await volume.get(`${p}/empty`, { range: { start: 0 } });
      expect(emptyRange.info.size).toBe(0);
      expect((await collectBytes(emptyRange.body)).length).toBe(0);
      const emptyStream = await put(`${p}/empty-stream`, (async function* () {})());
      expect(emptyStream).toMatchObject({ size: 0, crc32c: 0 });
      const one = await put(`${p}/one`, Uint8Array.of(0xa5));
      expect(one).toMatchObject({ size: 1, crc32c: crc32c(Uint8Array.of(0xa5)) });
      expect([...(await volume.getBytes(`${p}/one`))]).toEqual([0xa5]);
      written.add(`${p}/raw-one`);
      const raw = await fixture.driver.put(`${p}/raw-one`, rawBody(Uint8Array.of(7)), {
        metadata: {},
        ifNoneMatch: false,
      });
      expect(raw).toMatchObject({ size: 1, crc32c: crc32c(Uint8Array.of(7)) });
      expect([...(await collectBytes((await fixture.driver.get(`${p}/raw-one`, {})).body))]).toEqual([7]);
    });

    kase("metadata round-trips through put, head and get", async () => {
      const key = `${prefix()}/meta`;
      const metadata = { origin: "conformance suite", "x-1": "a=b; c/d?e", n: "0" };
      const info = await put(key, patternBytes(10, 5), { metadata });
      expect(info.metadata).toEqual(metadata);
      expect((await volume.head(key)).metadata).toEqual(metadata);
      const got = await volume.get(key);
      expect(got.info.metadata).toEqual(metadata);
      await collectBytes(got.body);
      const plain = `${prefix()}/no-meta`;
      await put(plain, patternBytes(10, 5));
      expect((await volume.head(plain)).metadata).toEqual({});
    });

    // Create-only

    kase("create-only put of an existing key fails EEXIST and leaves the content unchanged", async () => {
      const key = `${prefix()}/once`;
      const first = patternBytes(1000, 6);
      await put(key, first, { ifNoneMatch: true });
      expect(await codeOf(volume.put(key, patternBytes(500, 7), { ifNoneMatch: true }))).toBe("EEXIST");
      expect(await codeOf(volume.put(key, lazyStream(500, 100, 7), { ifNoneMatch: true }))).toBe("EEXIST");
      expect(
        await codeOf(
          fixture.driver.put(key, rawBody(patternBytes(5, 8)), { metadata: {}, ifNoneMatch: true }),
        ),
      ).toBe("EEXIST");
      expect(await volume.head(key)).toMatchObject({ size: 1000, crc32c: crc32c(first) });
      expect(crc32c(await volume.getBytes(key))).toBe(crc32c(first));
    });

    kase(
      "racing create-only puts of one key: exactly one wins and its bytes are stored",
      "racing-create-only",
      async () => {
        for (let round = 0; round < 3; round++) {
          const key = `${prefix()}/race`;
          written.add(key);
          const bodies = Array.from({ length: 8 }, (_, i) => patternBytes(64 * 1024 + i, 100 * round + i));
          const results = await Promise.allSettled(
            bodies.map((b) => volume.put(key, b, { ifNoneMatch: true })),
          );
          const winners = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
          expect(winners).toHaveLength(1);
          for (const r of results) {
            if (r.status === "rejected") expect(isStrataError(r.reason, "EEXIST")).toBe(true);
          }
          const winner = bodies[winners[0]!]!;
          expect(await volume.head(key)).toMatchObject({ size: winner.length, crc32c: crc32c(winner) });
          expect(crc32c(await volume.getBytes(key))).toBe(crc32c(winner));
        }
      },
      () =>
        fixture.driver.capabilities.atomicCreateOnly
          ? undefined
          : `volume \`${fixture.driver.name}\` does not enforce create-only atomically (capabilities.atomicCreateOnly = false)`,
    );

    kase("a create-only put whose reply was lost is recognised as its own write and succeeds", async () => {
      const key = `${prefix()}/lost-reply`;
      written.add(key);
      const flaky = faultyVolume(fixture.driver, { put: { fault: "lostReply", times: 1 } });
      const bytes = patternBytes(2000, 9);
      const info = await new Volume(flaky, FAST).put(key, bytes, { ifNoneMatch: true });
      expect(info).toMatchObject({ size: 2000, crc32c: crc32c(bytes) });
      expect(flaky.injected.byKind.lostReply).toBe(1);
      expect(flaky.calls.put).toBe(2);
      // Someone else's object under the key is still EEXIST, even after a lost reply.
      const other = faultyVolume(fixture.driver, { put: { fault: "lostReply", times: 1 } });
      const otherKey = `${prefix()}/lost-reply-other`;
      await put(otherKey, patternBytes(10, 10));
      expect(
        await codeOf(new Volume(other, FAST).put(otherKey, patternBytes(11, 11), { ifNoneMatch: true })),
      ).toBe("EEXIST");
    });

    // Get / ranges

    kase(
      "ranges at the boundaries: first byte, last byte, past the end, start == size, start > end",
      async () => {
        const key = `${prefix()}/ranged`;
        const bytes = patternBytes(1000, 12);
        await put(key, bytes);
        const read = async (start: number, end?: number) => {
          const { info, body } = await volume.get(key, { range: { start, end } });
          expect(info).toMatchObject({ size: 1000, crc32c: crc32c(bytes) });
          return [...(await collectBytes(body))];
        };
        expect(await read(0, 1)).toEqual([bytes[0]]);
        expect(await read(999, 1000)).toEqual([bytes[999]]);
        expect(await read(990, 5000)).toEqual([...bytes.subarray(990)]);
        expect(await read(100, 300)).toEqual([...bytes.subarray(100, 300)]);
        expect(await read(400)).toEqual([...bytes.subarray(400)]);
        expect(await read(0)).toEqual([...bytes]);
        expect(await read(1000)).toEqual([]);
        expect(await read(1000, 1000)).toEqual([]);
        expect(await read(5000)).toEqual([]);
        expect(await read(5, 5)).toEqual([]);
        const raw = await fixture.driver.get(key, { range: { start: 998, end: 2000 } });
        expect([...(await collectBytes(raw.body))]).toEqual([...bytes.subarray(998)]);
        const counted = counting(fixture.driver);
        const v = new Volume(counted.driver);
        expect(await codeOf(v.get(key, { range: { start: 5, end: 3 } }))).toBe("EINVAL");
        expect(await codeOf(v.get(key, { range: { start: -1 } }))).toBe("EINVAL");
        expect(await codeOf(v.get(key, { range: { start: 1.5 } }))).toBe("EINVAL");
        expect(counted.calls()).toBe(0);
      },
    );

    kase(
      "a 64 MiB object streamed in and out is byte-exact (by CRC32C), ranges inside it included",
      "large-64MiB",
      async () => {
        const key = `${prefix()}/large`;
        const size = 64 * MiB;
        const expected = await lazyStreamDigest(size, MiB, 13);
        const info = await put(key, lazyStream(size, MiB, 13));
        expect(info).toMatchObject({ size, crc32c: expected.crc32c });
        expect(await volume.head(key)).toMatchObject({ size, crc32c: expected.crc32c });
        expect(await digest((await volume.get(key)).body)).toEqual(expected);
        // Bytes [5 MiB - 3, 5 MiB + 5) straddle chunks 4 and 5 of the generator.
        const chunk4 = patternBytes(MiB, 13 + 4);
        const chunk5 = patternBytes(MiB, 13 + 5);
        const want = [...chunk4.subarray(MiB - 3), ...chunk5.subarray(0, 5)];
        const { body } = await volume.get(key, { range: { start: 5 * MiB - 3, end: 5 * MiB + 5 } });
        expect([...(await collectBytes(body))]).toEqual(want);
        const tail = await volume.get(key, { range: { start: size - 2 } });
        expect([...(await collectBytes(tail.body))]).toEqual([
          ...patternBytes(MiB, 13 + 63).subarray(MiB - 2),
        ]);
        await volume.delete(key);
      },
    );

    // Keys

    kase("unicode keys are stored as given: NFC and NFD forms are distinct keys", async () => {
      const p = prefix();
      const nfc = `${p}/caf\u00e9`;
      const nfd = `${p}/cafe\u0301`;
      const others = [`${p}/📁/ファイル.txt`, `${p}/ß Ωμέγα ✓`, `${p}/\u{1F600}`, `${p}/\uFFFD`];
      await put(nfc, Uint8Array.of(1));
      await put(nfd, Uint8Array.of(2, 2));
      for (const [i, key] of others.entries()) await put(key, patternBytes(i + 3, i));
      expect((await volume.head(nfc)).size).toBe(1);
      expect((await volume.head(nfd)).size).toBe(2);
      expect([...(await volume.getBytes(nfd))]).toEqual([2, 2]);
      const listed = (await volume.list(`${p}/`)).entries.map((e) => e.key);
      const order = listOrderOf(fixture.driver);
      expect(listed).toEqual([nfc, nfd, ...others].sort(order));
      expect((await volume.list(`${p}/caf`)).entries.map((e) => e.key)).toEqual([nfc, nfd].sort(order));
    });

    kase("bad keys, metadata and ranges are rejected before any request reaches the driver", async () => {
      const counted = counting(fixture.driver);
      const v = new Volume(counted.driver);
      const bad: [string, ErrorCode][] = [
        ["", "EINVAL"],
        ["/leading", "EINVAL"],
        ["trailing/", "EINVAL"],
        ["a//b", "EINVAL"],
        ["a/./b", "EINVAL"],
        ["../up", "EINVAL"],
        ["a/..", "EINVAL"],
        [".", "EINVAL"],
        ["back\\slash", "EINVAL"],
        ["nul\u0000byte", "EINVAL"],
        ["tab\tkey", "EINVAL"],
        ["del\u007f", "EINVAL"],
        ["c1\u0085", "EINVAL"],
        ["lone\ud800surrogate", "EINVAL"],
        ["lone\udc00low", "EINVAL"],
        ["x".repeat(1025), "ENAMETOOLONG"],
        ["é".repeat(513), "ENAMETOOLONG"],
      ];
      for (const [key, code] of bad) {
        expect(await codeOf(v.put(key, Uint8Array.of(1))), JSON.stringify(key)).toBe(code);
        expect(await codeOf(v.put(key, lazyStream(10, 5, 1))), JSON.stringify(key)).toBe(code);
        expect(await codeOf(v.get(key)), JSON.stringify(key)).toBe(code);
        expect(await codeOf(v.getBytes(key)), JSON.stringify(key)).toBe(code);
        expect(await codeOf(v.head(key)), JSON.stringify(key)).toBe(code);
        expect(await codeOf(v.delete(key)), JSON.stringify(key)).toBe(code);
        expect(await codeOf(v.copy(key, "fine")), JSON.stringify(key)).toBe(code);
        expect(await codeOf(v.copy("fine", key)), JSON.stringify(key)).toBe(code);
      }
      const err = await failureOf(v.head("a//b"));
      expect(err.details).toMatchObject({ volume: fixture.driver.name, key: "a//b" });
      expect(err.message).toContain(fixture.driver.name);
      // The limit itself is fine (5 segments, since a file system caps one name at 255 bytes).
      const longest = `${"x".repeat(200)}/`.repeat(5) + "x".repeat(19);
      expect(new TextEncoder().encode(longest).length).toBe(1024);
      expect(await codeOf(v.head(longest))).toBe("ENOENT");
      const calls = counted.calls();
      expect(calls).toBe(1);
      const badMetadata: Record<string, string>[] = [
        { Upper: "x" },
        { "strata-crc32c": "x" },
        { ok: "caf\u00e9" },
        { ok: "x".repeat(1025) },
      ];
      for (const metadata of badMetadata) {
        expect(await codeOf(v.put("fine", Uint8Array.of(1), { metadata }))).toMatch(/^(EINVAL|E2BIG)$/);
      }
      expect(await codeOf(v.list("/abs"))).toBe("EINVAL");
      expect(await codeOf(v.list("a/../"))).toBe("EINVAL");
      expect(await codeOf(v.list("ok/", { limit: 0 }))).toBe("EINVAL");
      expect(await codeOf(v.list("ok/", { limit: 1001 }))).toBe("EINVAL");
      expect(counted.calls()).toBe(calls);
    });

    // Missing keys, delete

    kase(
      "head, get and copy of a missing key fail ENOENT, through the wrapper and the raw driver",
      async () => {
        const key = `${prefix()}/missing`;
        expect(await codeOf(volume.head(key))).toBe("ENOENT");
        expect(await codeOf(volume.get(key))).toBe("ENOENT");
        expect(await codeOf(volume.get(key, { range: { start: 0, end: 1 } }))).toBe("ENOENT");
        expect(await codeOf(volume.getBytes(key))).toBe("ENOENT");
        expect(await codeOf(volume.copy(key, `${key}-copy`))).toBe("ENOENT");
        expect(await codeOf(fixture.driver.head(key))).toBe("ENOENT");
        expect(await codeOf(fixture.driver.get(key, {}))).toBe("ENOENT");
        const err = await failureOf(volume.head(key));
        expect(err.details).toMatchObject({ volume: fixture.driver.name, key });
      },
    );

    kase("delete removes the object and is idempotent", async () => {
      const p = prefix();
      const key = `${p}/doomed`;
      await put(key, patternBytes(100, 14));
      await put(`${p}/doomed-sibling`, patternBytes(1, 14));
      await volume.delete(key);
      expect(await codeOf(volume.head(key))).toBe("ENOENT");
      await volume.delete(key);
      await fixture.driver.delete(key);
      await volume.delete(`${p}/never/existed`);
      expect((await volume.list(`${p}/`)).entries.map((e) => e.key)).toEqual([`${p}/doomed-sibling`]);
      // A key can be created again after deletion.
      await put(key, Uint8Array.of(9), { ifNoneMatch: true });
      expect([...(await volume.getBytes(key))]).toEqual([9]);
    });

    // Listing

    kase(
      "list returns keys under a plain prefix in UTF-8 byte order, with sizes and pagination",
      async () => {
        const p = prefix();
        const keys = [
          `${p}/a`,
          `${p}/a-1`,
          `${p}/a/1`,
          `${p}/a/b/c`,
          `${p}/a0`,
          `${p}/b`,
          `${p}/é`,
          `${p}/\uFFFD`,
          `${p}/\u{1F600}`,
          `${p}x/outside`,
        ];
        await pool(keys, 8, async (key) => {
          await put(key, patternBytes(key.length, 15));
        });
        const order = listOrderOf(fixture.driver);
        const inside = keys.filter((k) => k.startsWith(`${p}/`)).sort(order);
        const page = await volume.list(`${p}/`);
        expect(page.entries.map((e) => e.key)).toEqual(inside);
        expect(page.cursor).toBeUndefined();
        for (const e of page.entries) expect(e.size).toBe(e.key.length);
        expect((await volume.list(`${p}/a`)).entries.map((e) => e.key)).toEqual(
          inside.filter((k) => k.startsWith(`${p}/a`)),
        );
        expect((await volume.list(`${p}/a/`)).entries.map((e) => e.key)).toEqual([`${p}/a/1`, `${p}/a/b/c`]);
        expect((await volume.list(`${p}/zzz`)).entries).toEqual([]);
        expect((await volume.list(p)).entries.map((e) => e.key)).toEqual([...keys].sort(order));
        // Pages of 3 through the wrapper and the raw driver.
        for (const lister of [volume, fixture.driver]) {
          const seen: string[] = [];
          let cursor: string | undefined;
          let pages = 0;
          do {
            const next = await lister.list(`${p}/`, { cursor, limit: 3 });
            expect(next.entries.length).toBeLessThanOrEqual(3);
            seen.push(...next.entries.map((e) => e.key));
            cursor = next.cursor;
            pages++;
          } while (cursor !== undefined && pages < 20);
          expect(seen).toEqual(inside);
        }
      },
    );

    kase(
      "listing more than 1,000 keys pages at 1,000 and listAll sees every key once",
      "list-over-1000",
      async () => {
        const p = prefix();
        const keys = Array.from({ length: 1050 }, (_, i) => `${p}/d${i % 3}/k${String(i).padStart(4, "0")}`);
        await pool(keys, 16, async (key) => {
          await put(key, Uint8Array.of(1, 2, 3, 4));
        });
        const first = await volume.list(`${p}/`);
        expect(first.entries).toHaveLength(1000);
        expect(first.cursor).toBeDefined();
        const second = await volume.list(`${p}/`, { cursor: first.cursor });
        expect(second.entries).toHaveLength(50);
        expect(second.cursor).toBeUndefined();
        const sorted = [...keys].sort(listOrderOf(fixture.driver));
        expect([...first.entries, ...second.entries].map((e) => e.key)).toEqual(sorted);
        const all: string[] = [];
        for await (const entries of volume.listAll(`${p}/`)) all.push(...entries.map((e) => e.key));
        expect(all).toEqual(sorted);
        const d1: string[] = [];
        for await (const entries of volume.listAll(`${p}/d1/`, { limit: 100 })) {
          d1.push(...entries.map((e) => e.key));
        }
        expect(d1).toEqual(sorted.filter((k) => k.startsWith(`${p}/d1/`)));
        await pool(keys, 16, async (key) => {
          await volume.delete(key);
          written.delete(key);
        });
        expect((await volume.list(`${p}/`)).entries).toEqual([]);
      },
    );

    // Copy

    kase(
      "copy keeps bytes, CRC32C and metadata; create-only copy onto an existing key fails EEXIST",
      "server-side-copy",
      async () => {
        const p = prefix();
        const bytes = patternBytes(200_000, 16);
        const metadata = { origin: "copy-source" };
        await put(`${p}/src`, bytes, { metadata });
        written.add(`${p}/dst`);
        const info = await volume.copy(`${p}/src`, `${p}/dst`);
        expect(info).toMatchObject({ key: `${p}/dst`, size: bytes.length, crc32c: crc32c(bytes) });
        expect(await volume.head(`${p}/dst`)).toMatchObject({
          size: bytes.length,
          crc32c: crc32c(bytes),
          metadata,
        });
        expect(crc32c(await volume.getBytes(`${p}/dst`))).toBe(crc32c(bytes));
        await put(`${p}/taken`, Uint8Array.of(1));
        expect(await codeOf(volume.copy(`${p}/src`, `${p}/taken`, { ifNoneMatch: true }))).toBe("EEXIST");
        expect([...(await volume.getBytes(`${p}/taken`))]).toEqual([1]);
        written.add(`${p}/dst2`);
        await volume.copy(`${p}/src`, `${p}/dst2`, { ifNoneMatch: true });
        expect((await volume.head(`${p}/dst2`)).crc32c).toBe(crc32c(bytes));
        if (fixture.driver.copy && fixture.driver.capabilities.serverSideCopy) {
          written.add(`${p}/raw-dst`);
          const raw = await fixture.driver.copy(`${p}/src`, `${p}/raw-dst`, { ifNoneMatch: false });
          expect(raw).toMatchObject({ size: bytes.length, crc32c: crc32c(bytes), metadata });
          expect(await codeOf(fixture.driver.copy(`${p}/nope`, `${p}/raw-x`, { ifNoneMatch: false }))).toBe(
            "ENOENT",
          );
        } else {
          console.info(
            `[volume conformance: ${backend}] copy has no server-side form (capabilities.serverSideCopy = false): the streamed fallback was tested`,
          );
        }
      },
    );

    kase("a copy whose source reads corrupt stores nothing (fallback path verifies the source)", async () => {
      const p = prefix();
      await put(`${p}/src`, patternBytes(5000, 17));
      // The same driver without server-side copy, so the bytes pass through the wrapper.
      const d = fixture.driver;
      const bound: VolumeDriver = {
        name: d.name,
        capabilities: { ...d.capabilities, serverSideCopy: false },
        put: (k, b, o) => d.put(k, b, o),
        get: (k, o) => d.get(k, o),
        head: (k, o) => d.head(k, o),
        list: (pr, o) => d.list(pr, o),
        delete: (k, o) => d.delete(k, o),
      };
      const corruptReads = faultyVolume(bound, { get: { fault: "corrupt", at: 1234 } });
      expect(await codeOf(new Volume(corruptReads, FAST).copy(`${p}/src`, `${p}/dst`))).toBe("ECORRUPT");
      expect(await codeOf(volume.head(`${p}/dst`))).toBe("ENOENT");
    });

    // Integrity

    kase("a declared CRC32C or size that does not match the body fails and stores nothing", async () => {
      const p = prefix();
      const bytes = patternBytes(100_000, 18);
      const wrong = (crc32c(bytes) ^ 1) >>> 0;
      expect(await codeOf(volume.put(`${p}/buf`, bytes, { crc32c: wrong }))).toBe("ECORRUPT");
      expect(await codeOf(volume.put(`${p}/stream`, unevenChunks(bytes), { crc32c: wrong }))).toBe(
        "ECORRUPT",
      );
      expect(await codeOf(volume.put(`${p}/size`, unevenChunks(bytes), { size: bytes.length + 1 }))).toBe(
        "EINVAL",
      );
      expect(await codeOf(volume.put(`${p}/size2`, unevenChunks(bytes), { size: bytes.length - 1 }))).toBe(
        "EINVAL",
      );
      await put(`${p}/existing`, Uint8Array.of(1));
      expect(await codeOf(volume.put(`${p}/existing`, bytes, { crc32c: wrong }))).toBe("ECORRUPT");
      for (const key of [`${p}/buf`, `${p}/stream`, `${p}/size`, `${p}/size2`]) {
        expect(await codeOf(volume.head(key)), key).toBe("ENOENT");
      }
      expect([...(await volume.getBytes(`${p}/existing`))]).toEqual([1]);
      expect((await volume.list(`${p}/`)).entries.map((e) => e.key)).toEqual([`${p}/existing`]);
      const err = await failureOf(volume.put(`${p}/buf`, bytes, { crc32c: wrong }));
      expect(err.details).toMatchObject({ volume: fixture.driver.name, key: `${p}/buf` });
      // The right declared CRC is accepted.
      expect((await put(`${p}/ok`, bytes, { crc32c: crc32c(bytes), size: bytes.length })).crc32c).toBe(
        crc32c(bytes),
      );
    });

    kase(
      "a byte corrupted at rest is detected by a full read (ECORRUPT), never returned silently",
      "corrupt-at-rest",
      async () => {
        const key = `${prefix()}/rotten`;
        const bytes = patternBytes(70_000, 19);
        await put(key, bytes);
        await fixture.corruptAtRest!(key);
        const err = await failureOf(volume.getBytes(key));
        expect(err.code).toBe("ECORRUPT");
        expect(err.details).toMatchObject({ volume: fixture.driver.name, key });
        expect(err.details.expected).toBeDefined();
        expect(err.details.actual).toBeDefined();
        const { body } = await volume.get(key);
        expect(await codeOf(digest(body))).toBe("ECORRUPT");
      },
      () => (fixture.corruptAtRest ? undefined : "the fixture cannot corrupt stored bytes out-of-band"),
    );

    kase(
      "a byte corrupted in transit is detected (ECORRUPT); a dropped read is retried by getBytes",
      async () => {
        const key = `${prefix()}/transit`;
        const bytes = patternBytes(50_000, 20);
        await put(key, bytes);
        const corrupt = faultyVolume(fixture.driver, { get: { fault: "corrupt", at: 49_999 } });
        expect(await codeOf(new Volume(corrupt, FAST).getBytes(key))).toBe("ECORRUPT");
        expect(corrupt.injected.byKind.corrupt).toBe(1);
        const dropped = faultyVolume(fixture.driver, {
          get: { fault: "drop", times: 2, afterBytes: 10_000 },
        });
        const dv = new Volume(dropped, FAST);
        expect(crc32c(await dv.getBytes(key))).toBe(crc32c(bytes));
        expect(dropped.calls.get).toBe(3);
        const droppedStream = faultyVolume(fixture.driver, { get: { fault: "drop", afterBytes: 10_000 } });
        const { body } = await new Volume(droppedStream, FAST).get(key);
        expect(await codeOf(digest(body))).toBe("EUNAVAIL");
      },
    );

    kase("an upload whose connection drops mid-body stores nothing; a buffer is retried", async () => {
      const p = prefix();
      const bytes = patternBytes(300_000, 21);
      const stream = faultyVolume(fixture.driver, { put: { fault: "drop", afterBytes: 100_000 } });
      expect(await codeOf(new Volume(stream, FAST).put(`${p}/streamed`, unevenChunks(bytes)))).toBe(
        "EUNAVAIL",
      );
      expect(stream.calls.put).toBe(1); // a half-sent stream cannot be replayed
      expect(await codeOf(volume.head(`${p}/streamed`))).toBe("ENOENT");
      const buffer = faultyVolume(fixture.driver, { put: { fault: "drop", times: 1, afterBytes: 100_000 } });
      written.add(`${p}/buffer`);
      expect((await new Volume(buffer, FAST).put(`${p}/buffer`, bytes)).crc32c).toBe(crc32c(bytes));
      expect(buffer.calls.put).toBe(2);
      expect(crc32c(await volume.getBytes(`${p}/buffer`))).toBe(crc32c(bytes));
    });

    // Retries

    kase(
      "throttling is retried: two throttles then success; endless throttling fails ETHROTTLED after bounded attempts",
      async () => {
        const key = `${prefix()}/throttled`;
        written.add(key);
        const bytes = patternBytes(1000, 22);
        const twice = faultyVolume(fixture.driver, {
          put: { fault: "throttle", times: 2 },
          get: { fault: "throttle", times: 2 },
          head: { fault: "unavailable", times: 2 },
        });
        const v = new Volume(twice, FAST);
        await v.put(key, bytes);
        expect(crc32c(await v.getBytes(key))).toBe(crc32c(bytes));
        expect((await v.head(key)).size).toBe(1000);
        expect(twice.injected.byOp).toMatchObject({ put: 2, get: 2, head: 2 });
        expect(twice.calls).toMatchObject({ put: 3, get: 3, head: 3 });
        const always = faultyVolume(fixture.driver, {
          put: { fault: "throttle" },
          head: { fault: "throttle" },
        });
        const err = await failureOf(new Volume(always, NO_SLEEP).put(`${key}-never`, bytes));
        expect(err.code).toBe("ETHROTTLED");
        expect(err.message).toContain("3 attempts");
        expect(always.calls.put).toBe(3);
        expect(await codeOf(new Volume(always, NO_SLEEP).head(key))).toBe("ETHROTTLED");
        expect(always.calls.head).toBe(3);
        expect(await codeOf(volume.head(`${key}-never`))).toBe("ENOENT");
      },
    );

    // Memory

    kase(
      "a 256 MiB streamed upload of unknown length and its full read keep memory far below the body size",
      "memory-bounded",
      async () => {
        const key = `${prefix()}/big-stream`;
        written.add(key);
        const size = 256 * MiB;
        const base = process.memoryUsage();
        let peakRss = base.rss;
        let peakBuffers = base.arrayBuffers;
        const sample = () => {
          const m = process.memoryUsage();
          peakRss = Math.max(peakRss, m.rss);
          peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
        };
        const timer = setInterval(sample, 25);
        let crcWritten = 0;
        try {
          async function* counted() {
            for await (const chunk of lazyStream(size, MiB, 23)) {
              crcWritten = crc32cUpdate(crcWritten, chunk);
              sample();
              yield chunk;
            }
          }
          const info = await volume.put(key, counted());
          expect(info).toMatchObject({ size, crc32c: crcWritten });
          const { body } = await volume.get(key);
          let read = 0;
          for await (const chunk of body) {
            read += chunk.byteLength;
            if ((read & (16 * MiB - 1)) < chunk.byteLength) sample();
          }
          expect(read).toBe(size);
        } finally {
          clearInterval(timer);
          sample();
        }
        const growth = {
          rss: (peakRss - base.rss) / MiB,
          arrayBuffers: (peakBuffers - base.arrayBuffers) / MiB,
        };
        console.info(
          `[volume conformance: ${backend}] 256 MiB stream: peak growth rss ${growth.rss.toFixed(1)} MiB, arrayBuffers ${growth.arrayBuffers.toFixed(1)} MiB`,
        );
        expect(growth.rss).toBeLessThan(96);
        expect(growth.arrayBuffers).toBeLessThan(96);
        await volume.delete(key);
        written.delete(key);
      },
    );
  });
}
