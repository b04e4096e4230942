/**
 * upload.commit verifies staged chunks in turn: its memory does not grow with the file. A 64 MiB
 * upload (16 chunks of 4 MiB) is staged by presigned PUTs, then committed while a sampler measures
 * the process's live memory (heap + array buffers, after a forced GC) — the peak growth over the
 * commit is printed and must stay under half the file. Counter-check: with every chunk verified at
 * once (the code before, via the test-only tuning) the growth is at least the file's size.
 */
import { createHash } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32c } from "../../core/crc32c.ts";
import { UPLOAD_COMMIT_TUNING } from "../../functions/api/ops/data.ts";
import type { Strata } from "../../sdk/index.ts";
import { type ApiFixture, startApiFixture } from "../support/api-server.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const MiB = 1024 * 1024;
const CHUNK = 4 * MiB;
const CHUNKS = 16;

/** Chunk i: cheap to make (one fill) and distinct from every other (so none deduplicates). */
function chunkBytes(i: number, seed: number): Uint8Array {
  const b = new Uint8Array(CHUNK).fill(i);
  b[0] = seed;
  return b;
}

const live = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

describe("upload.commit memory", () => {
  let fx: ApiFixture;
  let admin: Strata;
  beforeAll(async () => {
    fx = await startApiFixture("local", undefined, { chunkSize: CHUNK });
    admin = await fx.client();
  });
  afterAll(async () => {
    await admin.close();
    await fx.dispose();
  });

  /** Stage a 64 MiB file at `path` chunk by chunk, commit it, return the commit's peak memory growth. */
  async function commitGrowth(path: string, seed: number): Promise<number> {
    const call = <T>(op: string, input: Record<string, unknown>) =>
      admin.admin.call<T>(op, { pfs: "default", ...input });
    const { uploadId } = await call<{ uploadId: string }>("upload.begin", { path });
    const extents = [];
    for (let i = 0; i < CHUNKS; i++) {
      const bytes = chunkBytes(i, seed);
      const e = {
        offset: i * CHUNK,
        length: CHUNK,
        chunk: createHash("sha256").update(bytes).digest("hex"),
        crc32c: crc32c(bytes),
      };
      extents.push(e);
      const { chunks } = await call<{
        chunks: Array<{ present: boolean; upload?: { url: string; headers: Record<string, string> } }>;
      }>("upload.chunks", { uploadId, chunks: [{ sha256: e.chunk, size: e.length, crc32c: e.crc32c }] });
      const put = await fetch(chunks[0]!.upload!.url, {
        method: "PUT",
        headers: chunks[0]!.upload!.headers,
        body: bytes,
      });
      expect(put.ok).toBe(true);
    }
    gc();
    const base = live();
    let peak = base;
    const sampler = setInterval(() => {
      gc();
      peak = Math.max(peak, live());
    }, 200);
    try {
      await call("upload.commit", { path, uploadId, content: { size: CHUNKS * CHUNK, extents } });
    } finally {
      clearInterval(sampler);
    }
    gc();
    peak = Math.max(peak, live());
    expect((await admin.stat(path)).size).toBe(CHUNKS * CHUNK);
    return peak - base;
  }

  it("commits a 64 MiB upload with its memory growth bounded by a few chunks, not the file", async () => {
    const growth = await commitGrowth("/big.bin", 1);
    console.log(
      `upload.commit of ${(CHUNKS * CHUNK) / MiB} MiB: peak live memory growth ${(growth / MiB).toFixed(1)} MiB`,
    );
    expect(growth).toBeLessThan(10 * CHUNK); // measured 18–29 MiB: two chunks in flight, each read twice
  });

  it("counter-check: verifying every chunk at once grows with the file", async () => {
    const before = UPLOAD_COMMIT_TUNING.parallelism;
    UPLOAD_COMMIT_TUNING.parallelism = 1000;
    try {
      const growth = await commitGrowth("/big2.bin", 2);
      console.log(`counter-check (all chunks at once): peak growth ${(growth / MiB).toFixed(1)} MiB`);
      expect(growth).toBeGreaterThanOrEqual(CHUNKS * CHUNK);
    } finally {
      UPLOAD_COMMIT_TUNING.parallelism = before;
    }
  });
});
