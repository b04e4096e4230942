/**
 * The data plane's shared suite: `testDataPlane(name, fixture)` runs every case against one
 * MetadataStore + two volumes ("a", "b"), so the memory, SQLite + local and SQLite + stand-in runs
 * prove the same things. The fixture's drivers are wrapped in `faultyVolume` (no faults) to count
 * object PUTs and GETs.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FaultyVolumeDriver, faultyVolume } from "../../adapters/volumes/faulty.ts";
import { collectBytes, concatBytes } from "../../core/bytes.ts";
import type { BadInstanceReport } from "../../core/data/api.ts";
import { chunkObjectKey, decodeIntent, intentPk } from "../../core/data/chunk-items.ts";
import { createDataPlane, type DataPlaneOptions } from "../../core/data/plane.ts";
import { isStrataError, StrataError } from "../../core/errors.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import type { FileSystem } from "../../core/namespace/api.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import type { VolumeDriver } from "../../core/volume/port.ts";
import { Volume } from "../../core/volume/volume.ts";
import { lazyStream, patternBytes } from "./volume.ts";

export interface DataFixture {
  store: MetadataStore;
  /** Two empty volumes, named "a" and "b". */
  drivers: { a: VolumeDriver; b: VolumeDriver };
  /** Flip one stored byte of `key` on volume `volume`, keeping its recorded CRC32C. */
  corruptAtRest(volume: "a" | "b", key: string): Promise<void>;
  dispose(): Promise<void>;
}

const KiB = 1024;
const CHUNK = 64 * KiB;
const FAST = { retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } };

export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "resolved";
  } catch (err) {
    return isStrataError(err) ? err.code : `non-strata: ${String(err)}`;
  }
}

export async function errorOf(p: Promise<unknown>): Promise<StrataError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof StrataError) return err;
    throw err;
  }
  throw new Error("expected a StrataError, the call resolved");
}

/** Every key on the volume under `prefix`. */
export async function keysOn(volume: Volume, prefix = "chunks/"): Promise<string[]> {
  const out: string[] = [];
  for await (const page of volume.listAll(prefix)) out.push(...page.map((e) => e.key));
  return out;
}

/** The bytes of a stream, concatenated. */

/** `bytes` as a stream of `piece`-sized parts (so chunk boundaries never line up with pieces). */
async function* pieces(bytes: Uint8Array, piece = 7 * KiB + 3): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += piece) yield bytes.slice(at, at + piece);
}

/** Bytes equal, reported compactly (vitest's diff of megabyte arrays is unreadable and slow). */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.byteLength).toBe(expected.byteLength);
  const first = actual.findIndex((b, i) => b !== expected[i]);
  expect(first, "first differing byte").toBe(-1);
}

export function testDataPlane(name: string, makeFixture: () => Promise<DataFixture>): void {
  describe(`data plane: ${name}`, () => {
    let fx: DataFixture;
    let a: FaultyVolumeDriver;
    let b: FaultyVolumeDriver;
    let volA: Volume;
    let volB: Volume;
    let fs: FileSystem;
    let seq = 0;
    const plane = (extra: Partial<DataPlaneOptions> = {}) =>
      createDataPlane({
        store: fx.store,
        volumes: { a: { volume: volA, site: "site-a" }, b: { volume: volB, site: "site-b" } },
        defaultVolume: "a",
        chunkSize: CHUNK,
        ...extra,
      });

    beforeEach(async () => {
      fx = await makeFixture();
      a = faultyVolume(fx.drivers.a, {});
      b = faultyVolume(fx.drivers.b, {});
      volA = new Volume(a, FAST);
      volB = new Volume(b, FAST);
      const ns = createNamespace({ store: fx.store });
      const pfs = `data${seq++}`;
      await ns.createPfs(pfs);
      fs = ns.pfs(pfs);
    });
    afterEach(async () => {
      await fx?.dispose();
    });

    it("round-trips byte-exact at every size edge (0, 1, 4 KiB ± 1, chunk ± 1, several chunks), buffered and streamed", async () => {
      const data = plane();
      const sizes = [0, 1, 4 * KiB - 1, 4 * KiB, 4 * KiB + 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5];
      for (const [i, size] of sizes.entries()) {
        const bytes = patternBytes(size, 100 + i);
        await data.writeFile(fs, `/buf-${size}`, bytes);
        await data.writeFile(fs, `/str-${size}`, pieces(bytes));
        expectSameBytes(await data.readFile(fs, `/buf-${size}`), bytes);
        expectSameBytes(await data.readFile(fs, `/str-${size}`), bytes);
        const st = await fs.stat(`/str-${size}`);
        expect(st.size).toBe(size);
        if (size <= 4 * KiB) expect(st.content?.inline?.byteLength).toBe(size);
        else expect(st.content?.extents?.length).toBe(Math.ceil(size / CHUNK));
      }
    });

    it("round-trips at the default chunk size (8 MiB ± 1 byte)", async () => {
      const data = createDataPlane({ store: fx.store, volumes: { a: volA, b: volB }, defaultVolume: "a" });
      for (const size of [8 * 1024 * KiB - 1, 8 * 1024 * KiB + 1]) {
        const bytes = patternBytes(size, size);
        const st = await data.writeFile(fs, `/big-${size}`, pieces(bytes, 1024 * KiB + 1));
        expect(st.content?.extents?.length).toBe(Math.ceil(size / (8 * 1024 * KiB)));
        expectSameBytes(await data.readFile(fs, `/big-${size}`), bytes);
      }
    });

    it("files at or below 4 KiB cost zero object PUTs (inline)", async () => {
      const data = plane();
      for (const size of [0, 1, 100, 4 * KiB])
        await data.writeFile(fs, `/small-${size}`, patternBytes(size, size));
      await data.appendFile(fs, "/small-100", patternBytes(50, 1));
      await data.truncate(fs, "/small-1", 10);
      expect(a.calls.put + b.calls.put).toBe(0);
      expect(await keysOn(volA)).toEqual([]);
      await data.writeFile(fs, "/not-small", patternBytes(4 * KiB + 1, 3));
      expect(a.calls.put).toBe(1);
    });

    it("reads ranges across chunk boundaries, clipped at the end", async () => {
      const data = plane();
      const size = 3 * CHUNK + 100;
      const bytes = patternBytes(size, 7);
      await data.writeFile(fs, "/r", bytes);
      const ranges: Array<[number, number | undefined]> = [
        [0, 1],
        [CHUNK - 10, CHUNK + 10],
        [CHUNK, 2 * CHUNK],
        [2 * CHUNK - 1, 3 * CHUNK + 50],
        [5, size],
        [size - 5, undefined],
        [size - 5, size + 1000],
        [size, undefined],
        [10, 10],
      ];
      for (const [start, end] of ranges) {
        const { body } = await data.read(fs, "/r", { start, end });
        expectSameBytes(await collectBytes(body), bytes.slice(start, end));
      }
      expect(await codeOf(data.read(fs, "/r", { start: 10, end: 5 }))).toBe("EINVAL");
      expect(await codeOf(data.read(fs, "/r", { start: -1 }))).toBe("EINVAL");
    });

    it("as-of reads return the bytes each version had across overwrites, appends and truncates", async () => {
      const data = plane();
      const v1 = patternBytes(2 * CHUNK + 500, 1);
      const t1 = (await data.writeFile(fs, "/f", v1)).tid;
      const v2 = patternBytes(2 * CHUNK + 300, 2);
      const s2 = await data.writeFile(fs, "/f", v2);
      const extra = patternBytes(CHUNK + 77, 3);
      const s3 = await data.appendFile(fs, "/f", extra);
      const v3 = concatBytes([v2, extra]);
      const s4 = await data.truncate(fs, "/f", CHUNK + 7);
      const v4 = v3.slice(0, CHUNK + 7);
      const s5 = await data.truncate(fs, "/f", 100);
      const v5 = v3.slice(0, 100);
      const s6 = await data.truncate(fs, "/f", 2 * CHUNK);
      const v6 = concatBytes([v5, new Uint8Array(2 * CHUNK - 100)]);
      const s7 = await data.appendFile(fs, "/f", patternBytes(10, 4));
      const v7 = concatBytes([v6, patternBytes(10, 4)]);

      // Full chunks are reused, not re-uploaded: append keeps v2's two full chunks; truncate keeps the first.
      const e2 = s2.content!.extents!;
      const e3 = s3.content!.extents!;
      expect(e3.slice(0, 2).map((e) => e.chunk)).toEqual(e2.slice(0, 2).map((e) => e.chunk));
      expect(s4.content!.extents![0]!.chunk).toBe(e2[0]!.chunk);
      expect(s5.content!.inline).toBeDefined();
      expect(s7.content!.extents!.slice(0, 2).map((e) => e.chunk)).toEqual(
        s6.content!.extents!.map((e) => e.chunk),
      );

      const expected: Array<[string, Uint8Array]> = [
        [t1, v1],
        [s2.tid, v2],
        [s3.tid, v3],
        [s4.tid, v4],
        [s5.tid, v5],
        [s6.tid, v6],
        [s7.tid, v7],
      ];
      for (const [tid, bytes] of expected) expectSameBytes(await data.readFile(fs.asOf(tid), "/f"), bytes);
      expectSameBytes(await data.readFile(fs, "/f"), v7);
      const { body } = await data.read(fs.asOf(s3.tid), "/f", { start: 2 * CHUNK, end: 2 * CHUNK + 400 });
      expectSameBytes(await collectBytes(body), v3.slice(2 * CHUNK, 2 * CHUNK + 400));
    });

    it("stores identical chunks once: fewer objects on the volume than chunks written", async () => {
      const data = plane();
      const bytes = patternBytes(4 * CHUNK, 11);
      await data.writeFile(fs, "/one", bytes);
      const putsAfterFirst = a.calls.put;
      await data.writeFile(fs, "/two", pieces(bytes));
      expect(a.calls.put).toBe(putsAfterFirst);
      const zeros = new Uint8Array(5 * CHUNK);
      await data.writeFile(fs, "/zeros", zeros);
      // 4 distinct chunks + 1 chunk of zeros, for 13 chunks written.
      expect(await keysOn(volA)).toHaveLength(5);
      expect((await fs.stat("/zeros")).content?.extents).toHaveLength(5);
      expectSameBytes(await data.readFile(fs, "/two"), bytes);
      expectSameBytes(await data.readFile(fs, "/zeros"), zeros);
    });

    it("concurrent writers of the same bytes both succeed and store each chunk once", async () => {
      const one = plane();
      const two = plane();
      const bytes = patternBytes(3 * CHUNK + 1, 13);
      const [s1, s2] = await Promise.all([
        one.writeFile(fs, "/c1", bytes),
        two.writeFile(fs, "/c2", pieces(bytes)),
      ]);
      expect(s1.content?.extents).toEqual(s2.content?.extents);
      expect(await keysOn(volA)).toHaveLength(4);
      expectSameBytes(await one.readFile(fs, "/c2"), bytes);
      expectSameBytes(await two.readFile(fs, "/c1"), bytes);
    });

    it("serves a read from a second instance when the preferred one is corrupt, and reports it", async () => {
      const reports: BadInstanceReport[] = [];
      const data = plane({
        chooseVolumes: () => ["a", "b"],
        site: "site-a",
        onBadInstance: (r) => reports.push(r),
      });
      const bytes = patternBytes(2 * CHUNK + 10, 21);
      const st = await data.writeFile(fs, "/dup", bytes);
      const first = st.content!.extents![0]!.chunk;
      expect(await keysOn(volA)).toHaveLength(3);
      expect(await keysOn(volB)).toHaveLength(3);
      await fx.corruptAtRest("a", chunkObjectKey(first));

      expectSameBytes(await data.readFile(fs, "/dup"), bytes);
      expect(reports).toHaveLength(1);
      expect(reports[0]).toMatchObject({ chunk: first, volume: "a", state: "corrupt", path: "/dup" });
      const placement = await data.placement(fs, "/dup");
      expect(placement[0]!.instances).toEqual(
        expect.arrayContaining([
          { volume: "a", state: "corrupt", site: "site-a" },
          { volume: "b", state: "present", site: "site-b" },
        ]),
      );
      expect(placement[1]!.instances.every((i) => i.state === "present")).toBe(true);

      // Now recorded corrupt: the next read goes to b first and reports nothing new.
      const getsOnA = a.calls.get;
      expectSameBytes(await data.readFile(fs, "/dup"), bytes);
      expect(reports).toHaveLength(1);
      expect(a.calls.get - getsOnA).toBe(2);

      // A missing instance is reported as missing; with no good instance left the read fails ECORRUPT.
      await volB.delete(chunkObjectKey(first));
      const err = await errorOf(data.readFile(fs, "/dup"));
      expect(err.code).toBe("ECORRUPT");
      expect(err.details).toMatchObject({ path: "/dup", pfs: fs.pfs, chunk: first });
      expect(reports.slice(1)).toEqual([
        expect.objectContaining({ volume: "b", state: "missing" }),
        expect.objectContaining({ volume: "a", state: "corrupt" }),
      ]);
    });

    it("a crash between upload and commit leaves no file, the intent, and stored but unreferenced chunks", async () => {
      const data = plane();
      const crashing = new Proxy(fs, {
        get(target, prop, receiver) {
          if (prop === "create" || prop === "writeContent") {
            return async () => {
              throw new StrataError("EUNAVAIL", "injected: the process died before the commit");
            };
          }
          const value = Reflect.get(target, prop, receiver);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const bytes = patternBytes(2 * CHUNK + 1, 31);
      const err = await errorOf(data.writeFile(crashing, "/lost", bytes));
      expect(err.code).toBe("EUNAVAIL");
      expect(err.details.path).toBe("/lost");

      expect(await codeOf(fs.stat("/lost"))).toBe("ENOENT");
      expect((await fs.readdir("/")).entries).toEqual([]);
      const intents = (await fx.store.query(intentPk(fs.pfs))).items.map(decodeIntent);
      expect(intents).toHaveLength(1);
      expect(intents[0]).toMatchObject({ path: "/lost", volumes: ["a"] });
      expect(intents[0]!.chunks).toHaveLength(3);
      expect(intents[0]!.expiresAt).toBeGreaterThan(intents[0]!.created);
      const stored = await keysOn(volA);
      expect(stored.sort()).toEqual(intents[0]!.chunks.map(chunkObjectKey).sort());
    });

    it("a committed write leaves no intent behind", async () => {
      const data = plane();
      await data.writeFile(fs, "/ok", patternBytes(CHUNK * 2, 41));
      await data.appendFile(fs, "/ok", patternBytes(CHUNK, 42));
      expect((await fx.store.query(intentPk(fs.pfs))).items).toEqual([]);
    });

    it("places chunks on the PFS's default volume and reports placement", async () => {
      const data = plane();
      await data.setDefaultVolume(fs.pfs, "b");
      const st = await data.writeFile(fs, "/on-b", patternBytes(CHUNK + 1, 51));
      expect(await keysOn(volA)).toEqual([]);
      expect(await keysOn(volB)).toHaveLength(2);
      const placement = await data.placement(fs, "/on-b");
      expect(placement.map((p) => p.chunk)).toEqual(st.content!.extents!.map((e) => e.chunk));
      expect(placement.map((p) => p.instances)).toEqual([
        [{ volume: "b", state: "present", site: "site-b" }],
        [{ volume: "b", state: "present", site: "site-b" }],
      ]);
      expect(await data.placement(fs, "/on-b-missing").catch((e: StrataError) => e.code)).toBe("ENOENT");
    });

    it("errors carry codes and the path: EISDIR, ENOENT, EEXIST (exclusive), EINVAL, EABORTED", async () => {
      const data = plane();
      await fs.mkdir("/d");
      const isDir = await errorOf(data.readFile(fs, "/d"));
      expect(isDir.code).toBe("EISDIR");
      expect(isDir.details.path).toBe("/d");
      expect(await codeOf(data.writeFile(fs, "/d", new Uint8Array(1)))).toBe("EISDIR");
      const missing = await errorOf(data.readFile(fs, "/nope"));
      expect(missing.code).toBe("ENOENT");
      expect(missing.details.path).toBe("/nope");
      expect(await codeOf(data.writeFile(fs, "/no/parent", patternBytes(CHUNK, 1)))).toBe("ENOENT");
      await data.writeFile(fs, "/x", new Uint8Array(3));
      expect(await codeOf(data.writeFile(fs, "/x", new Uint8Array(3), { exclusive: true }))).toBe("EEXIST");
      expect(await codeOf(data.truncate(fs, "/x", -1))).toBe("EINVAL");
      const controller = new AbortController();
      controller.abort();
      const aborted = await errorOf(
        data.writeFile(fs, "/y", patternBytes(CHUNK, 2), { signal: controller.signal }),
      );
      expect(aborted.code).toBe("EABORTED");
      expect(aborted.details.path).toBe("/y");
      expect(await codeOf(fs.stat("/y"))).toBe("ENOENT");
      // An abort mid-stream stops the write before its commit.
      const mid = new AbortController();
      async function* abortingBody(): AsyncGenerator<Uint8Array> {
        yield* lazyStream(2 * CHUNK, 16 * KiB, 5);
        mid.abort();
        yield* lazyStream(2 * CHUNK, 16 * KiB, 6);
      }
      expect(await codeOf(data.writeFile(fs, "/z", abortingBody(), { signal: mid.signal }))).toBe("EABORTED");
      expect(await codeOf(fs.stat("/z"))).toBe("ENOENT");
    });

    it("a body that reuses one Buffer for every piece round-trips byte-exact (write, append)", async () => {
      const data = plane();
      // Like a Node stream reading into a pooled buffer: each yield overwrites the previous piece.
      // Whole-chunk pieces, small pieces (the inline peek) and odd-sized ones are all retained
      // across iterations by the data plane, so each must be copied, not viewed.
      const reusing = (bytes: Uint8Array, piece: number) =>
        (async function* () {
          const buffer = Buffer.alloc(piece);
          for (let at = 0; at < bytes.byteLength; at += piece) {
            const n = Math.min(piece, bytes.byteLength - at);
            buffer.set(bytes.subarray(at, at + n));
            yield buffer.subarray(0, n);
          }
        })();
      for (const [i, piece] of [CHUNK, KiB, 7 * KiB + 3, 2 * CHUNK].entries()) {
        const bytes = patternBytes(3 * CHUNK + 17, 40 + i);
        await data.writeFile(fs, `/reused-${piece}`, reusing(bytes, piece));
        expectSameBytes(await data.readFile(fs, `/reused-${piece}`), bytes);
        const more = patternBytes(2 * CHUNK + 5, 50 + i);
        await data.appendFile(fs, `/reused-${piece}`, reusing(more, piece));
        expectSameBytes(await data.readFile(fs, `/reused-${piece}`), concatBytes([bytes, more]));
      }
    });

    it("concurrent appends of distinct bytes all land, each exactly once", async () => {
      const data = plane();
      await data.writeFile(fs, "/log", new Uint8Array(0));
      // Sizes straddle the inline threshold and chunk boundaries; every byte of piece i is 1 + i.
      const sizes = [100, 3 * KiB, 5 * KiB, CHUNK - 1, CHUNK + 1, 2 * KiB, 10, CHUNK];
      const results = await Promise.allSettled(
        sizes.map((size, i) => {
          const piece = new Uint8Array(size).fill(1 + i);
          // Half of them streamed: a retry cannot re-read a stream, it reads back its own upload.
          return data.appendFile(fs, "/log", i % 2 === 0 ? piece : pieces(piece, 3 * KiB + 1));
        }),
      );
      expect(results.filter((r) => r.status === "rejected")).toEqual([]);
      const got = await data.readFile(fs, "/log");
      expect(got.byteLength).toBe(sizes.reduce((n, s) => n + s, 0));
      // Each piece is one contiguous run of its own byte value, and appears exactly once.
      const runs: Array<[number, number]> = [];
      for (const byte of got) {
        const last = runs.at(-1);
        if (last && last[0] === byte) last[1]++;
        else runs.push([byte, 1]);
      }
      expect(runs.map(([v]) => v).sort((x, y) => x - y)).toEqual(sizes.map((_, i) => 1 + i));
      for (const [v, n] of runs) expect(n).toBe(sizes[v - 1]);
    });

    it("writeFile keeps the mode of a new file and replaces an existing one as a new version", async () => {
      const data = plane();
      const s1 = await data.writeFile(fs, "/m", patternBytes(10, 1), { mode: 0o600 });
      expect(s1.mode).toBe(0o600);
      const s2 = await data.writeFile(fs, "/m", patternBytes(CHUNK + 3, 2));
      expect(s2.ino).toBe(s1.ino);
      expect(s2.tid > s1.tid).toBe(true);
      expect((await fs.history("/m")).length).toBeGreaterThanOrEqual(2);
    });
  });
}
