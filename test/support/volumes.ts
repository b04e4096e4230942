/** Fixture helpers shared by the volume driver tests (test/adapters/volume-*.test.ts). */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { crc32c, crc32cUpdate } from "../../core/crc32c.ts";
import type { PutBody } from "../../core/volume/port.ts";
import type { Volume } from "../../core/volume/volume.ts";
import { patternBytes } from "../conformance/volume.ts";

const MiB = 1024 * 1024;
let seq = 0;

/** A bucket or container name no other fixture or test process uses: `strata-<kind>-<pid>-<time>-<n>`. */
export function uniqueName(kind: string): string {
  return `strata-${kind}-${process.pid}-${Date.now().toString(36)}-${seq++}`;
}

/** A key prefix of its own for one run against a real cloud bucket, so runs never see each other's keys. */
export function realRunPrefix(): string {
  return `strata-test-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}/`;
}

/**
 * A suite `title` whose one case `name` is skipped for `reason`. With `log` the reason is also
 * printed as `[log] skipped: reason`, so a run that skipped a backend says so in its output.
 */
export function skippedSuite(title: string, name: string, reason: string, log?: string): void {
  describe(title, () => {
    it(name, (ctx) => {
      if (log) console.info(`[${log}] skipped: ${reason}`);
      ctx.skip(reason);
    });
  });
}

/**
 * A PutBody like the core wrapper's, for calling a driver directly: counts and checksums the chunks
 * of `source` as they are iterated; optionally declares a size or CRC, or throws at the end (as the
 * wrapper does when the body does not match what was declared).
 */
export function countingBody(
  source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  options: { declaredSize?: number; declaredCrc32c?: number; failAtEnd?: Error } = {},
): PutBody & { yielded(): number } {
  let crc = 0;
  let size = 0;
  return {
    declaredSize: options.declaredSize,
    declaredCrc32c: options.declaredCrc32c,
    crc32c: () => crc,
    size: () => size,
    yielded: () => size,
    async *[Symbol.asyncIterator]() {
      for await (const chunk of source) {
        crc = crc32cUpdate(crc, chunk);
        size += chunk.length;
        yield chunk;
      }
      if (options.failAtEnd) throw options.failAtEnd;
    },
  };
}

/** `bytes` as views of `chunk` bytes each (the last one shorter), nothing copied. */
export function* chunksOf(bytes: Uint8Array, chunk: number): Iterable<Uint8Array> {
  for (let at = 0; at < bytes.length; at += chunk) yield bytes.subarray(at, at + chunk);
}

/**
 * Put at `key` a body whose chunks straddle part (block) boundaries — one 20 MiB chunk, then odd
 * ones — and check that the stored object and its bytes are exactly the body's.
 */
export async function expectStraddlingBodyStoredExact(volume: Volume, key: string): Promise<void> {
  const big = patternBytes(20 * MiB + 1, 44);
  const tail = [patternBytes(3, 45), patternBytes(1, 46), patternBytes(9 * MiB, 47)];
  const all = Buffer.concat([big, ...tail]);
  const info = await volume.put(
    key,
    (async function* () {
      yield big;
      yield* tail;
    })(),
  );
  expect(info).toMatchObject({ size: all.length, crc32c: crc32c(all) });
  expect(Buffer.from(await volume.getBytes(key)).equals(all)).toBe(true);
}
