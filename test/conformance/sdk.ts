/**
 * The SDK suite: a user's session through a {@link Strata} client, whatever deployment is behind
 * it. Each SDK flavour calls `testSdk` in a few lines (test/adapters/sdk-local.test.ts for the
 * embedded client, test/adapters/sdk-remote-*.test.ts for the HTTP client on each volume kind).
 */
import { createHash } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ErrorCode, isStrataError, type Strata } from "../../sdk/index.ts";

export interface SdkFixture {
  client: Strata;
  dispose(): Promise<void>;
}

/** Deterministic pseudo-random bytes (xorshift32), different per seed. */
export function pattern(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function sha(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Split bytes into pieces of uneven sizes, as a network would deliver them. */
function* pieces(bytes: Uint8Array, sizes = [1, 7, 4096, 65_537, 300_001]): Generator<Uint8Array> {
  let at = 0;
  let i = 0;
  while (at < bytes.length) {
    const n = sizes[i++ % sizes.length]!;
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

async function collect(stream: AsyncIterable<unknown>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk as Uint8Array);
  return new Uint8Array(Buffer.concat(parts));
}

/** Expect a StrataError with this code and `details.path`. */
async function expectError(promise: Promise<unknown>, code: ErrorCode, path?: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeDefined();
  if (!isStrataError(err)) throw new Error(`expected a StrataError ${code}, got ${String(err)}`);
  expect(err.code).toBe(code);
  if (path !== undefined) expect(err.details.path).toBe(path);
}

/**
 * Register the SDK suite for one kind of client. `makeClient` gives a fresh, empty deployment per
 * test (and how to dispose of it).
 *
 * @example
 * testSdk("connect({ local })", async () => {
 *   const dir = await mkdtemp(join(tmpdir(), "strata-sdk-"));
 *   const client = await connect({ local: dir });
 *   return { client, dispose: async () => { await client.close(); await rm(dir, { recursive: true }); } };
 * });
 */
export function testSdk(name: string, makeClient: () => Promise<SdkFixture>): void {
  describe(`SDK: ${name}`, () => {
    let fx: SdkFixture;
    let client: Strata;
    beforeEach(async () => {
      fx = await makeClient();
      client = fx.client;
    });
    afterEach(async () => {
      await fx.dispose();
    });

    it("mkdir -p creates every missing parent and accepts an existing directory", async () => {
      await client.mkdir("/a/b/c", { recursive: true });
      await client.mkdir("/a/b/c", { recursive: true });
      expect((await client.stat("/a/b")).isDirectory()).toBe(true);
      expect((await client.stat("/a/b/c")).mode & 0o170000).toBe(0o040000);
      expect(await client.readdir("/a")).toEqual(["b"]);
    });

    it("writeFile/readFile round-trip byte-exact at 0 B, 1 B, 4 KiB ± 1 and 64 KiB ± 1", async () => {
      // 64 KiB ± 1 straddles a chunk boundary when the deployment uses 64 KiB chunks.
      for (const [i, size] of [0, 1, 4095, 4096, 4097, 65_535, 65_536, 65_537].entries()) {
        const bytes = pattern(size, i + 1);
        await client.writeFile(`/f${size}`, bytes);
        const back = await client.readFile(`/f${size}`);
        expect(back).toBeInstanceOf(Uint8Array);
        expect(back.length).toBe(size);
        expect(sha(back)).toBe(sha(bytes));
        expect((await client.stat(`/f${size}`)).size).toBe(size);
      }
    });

    it("readFile with an encoding decodes; writeFile encodes strings", async () => {
      await client.writeFile("/t.txt", "héllo wörld");
      expect(await client.readFile("/t.txt", "utf8")).toBe("héllo wörld");
      expect(await client.readFile("/t.txt", { encoding: "hex" })).toBe(
        Buffer.from("héllo wörld").toString("hex"),
      );
      await client.writeFile("/b64", "AAEC", "base64");
      expect([...(await client.readFile("/b64"))]).toEqual([0, 1, 2]);
    });

    it("a few MiB round-trip byte-exact through createWriteStream and createReadStream", async () => {
      const bytes = pattern(3 * 1024 * 1024 + 17, 9);
      await pipeline(Readable.from(pieces(bytes)), client.createWriteStream("/big.bin"));
      expect((await client.stat("/big.bin")).size).toBe(bytes.length);
      const back = await collect(client.createReadStream("/big.bin"));
      expect(back.length).toBe(bytes.length);
      expect(sha(back)).toBe(sha(bytes));
      expect(sha(await client.readFile("/big.bin"))).toBe(sha(bytes));
    });

    it("a write stream keeps each chunk as written even when the writer reuses its buffer", async () => {
      const ws = client.createWriteStream("/reuse.bin");
      const scratch = new Uint8Array(1000);
      const want: number[] = [];
      for (let i = 0; i < 50; i++) {
        scratch.fill(i);
        want.push(...scratch);
        await new Promise<void>((resolve, reject) => ws.write(scratch, (e) => (e ? reject(e) : resolve())));
      }
      await new Promise<void>((resolve, reject) => ws.end((e?: Error | null) => (e ? reject(e) : resolve())));
      expect(sha(await client.readFile("/reuse.bin"))).toBe(sha(Uint8Array.from(want)));
    });

    it("web streams round-trip byte-exact (openWritableStream / openReadableStream)", async () => {
      const bytes = pattern(1024 * 1024 + 3, 10);
      await ReadableStream.from(pieces(bytes)).pipeTo(client.openWritableStream("/web.bin"));
      const back = await collect(client.openReadableStream("/web.bin"));
      expect(sha(back)).toBe(sha(bytes));
      const part = await collect(client.openReadableStream("/web.bin", { start: 10, end: 19 }));
      expect([...part]).toEqual([...bytes.subarray(10, 20)]);
    });

    it("createReadStream ranges are byte-exact, with end inclusive as in node:fs", async () => {
      const bytes = pattern(2 * 1024 * 1024 + 5, 11);
      await client.writeFile("/r.bin", bytes);
      const cases: Array<[number, number | undefined]> = [
        [0, 0],
        [0, 9],
        [4095, 4096],
        [65_535, 65_536],
        [1024 * 1024 - 3, 1024 * 1024 + 3],
        [bytes.length - 1, undefined],
        [100, bytes.length + 100],
        [1, bytes.length - 2],
      ];
      for (const [start, end] of cases) {
        const got = await collect(client.createReadStream("/r.bin", { start, end }));
        const want = bytes.subarray(start, end === undefined ? undefined : end + 1);
        expect(got.length, `range ${start}-${end}`).toBe(want.length);
        expect(sha(got), `range ${start}-${end}`).toBe(sha(want));
      }
    });

    it("appendFile extends a file, small or chunked, and creates a missing one", async () => {
      await client.appendFile("/log", "one\n");
      await client.appendFile("/log", "two\n");
      await client.writeFile("/log", "three\n", { flag: "a" });
      expect(await client.readFile("/log", "utf8")).toBe("one\ntwo\nthree\n");
      const a = pattern(300_000, 12);
      const b = pattern(5000, 13);
      await client.writeFile("/grow", a);
      await client.appendFile("/grow", b);
      expect(sha(await client.readFile("/grow"))).toBe(sha(Buffer.concat([a, b])));
    });

    it("truncate cuts a file and extends it with zeros", async () => {
      const bytes = pattern(200_000, 14);
      await client.writeFile("/tr", bytes);
      await client.truncate("/tr", 70_001);
      expect(sha(await client.readFile("/tr"))).toBe(sha(bytes.subarray(0, 70_001)));
      await client.truncate("/tr", 70_010);
      const back = await client.readFile("/tr");
      expect(back.length).toBe(70_010);
      expect([...back.subarray(70_001)]).toEqual(new Array(9).fill(0));
      await client.truncate("/tr");
      expect((await client.stat("/tr")).size).toBe(0);
    });

    it("readdir gives sorted names and typed dirents; opendir pages through more than one page", async () => {
      await client.mkdir("/d");
      await client.mkdir("/d/sub");
      await client.writeFile("/d/file", "x");
      await client.symlink("/d/file", "/d/link");
      expect(await client.readdir("/d")).toEqual(["file", "link", "sub"]);
      const dirents = await client.readdir("/d", { withFileTypes: true });
      expect(dirents.map((d) => [d.name, d.isFile(), d.isDirectory(), d.isSymbolicLink()])).toEqual([
        ["file", true, false, false],
        ["link", false, false, true],
        ["sub", false, true, false],
      ]);
      expect(dirents[0]!.parentPath).toBe("/d");

      await client.mkdir("/many");
      const names = Array.from({ length: 23 }, (_, i) => `n${String(i).padStart(2, "0")}`);
      await client.batch(names.map((n) => ({ op: "writeFile" as const, path: `/many/${n}`, data: n })));
      const seen: string[] = [];
      for await (const d of client.opendir("/many", { pageSize: 5 })) seen.push(d.name);
      expect(seen).toEqual(names);
      expect(await client.readdir("/many")).toEqual(names);
    });

    it("rename moves a file; the old name is gone and the bytes moved with it", async () => {
      await client.mkdir("/x");
      await client.writeFile("/x/a", pattern(9000, 15));
      await client.rename("/x/a", "/b");
      await expectError(client.stat("/x/a"), "ENOENT", "/x/a");
      expect(sha(await client.readFile("/b"))).toBe(sha(pattern(9000, 15)));
    });

    it("rm -r removes a whole tree; rm of a directory without recursive is EISDIR; force ignores a missing path", async () => {
      await client.mkdir("/tree/a/b", { recursive: true });
      await client.writeFile("/tree/a/b/f1", "1");
      await client.writeFile("/tree/a/f2", pattern(10_000, 16));
      await client.symlink("/tree/a", "/tree/ln");
      await client.mkdir("/tree/many");
      for (const from of [0, 25])
        await client.batch(
          Array.from({ length: 25 }, (_, i) => ({
            op: "writeFile" as const,
            path: `/tree/many/f${from + i}`,
            data: "",
          })),
        );
      await client.link("/tree/many/f0", "/tree/a/hard");
      await expectError(client.rm("/tree"), "EISDIR", "/tree");
      const before = await client.currentTid();
      await client.rm("/tree", { recursive: true });
      await expectError(client.stat("/tree"), "ENOENT", "/tree");
      expect(await client.readdir("/")).toEqual([]);
      expect(await client.asOf(before).readdir("/tree/many")).toHaveLength(50);
      await expectError(client.rm("/tree"), "ENOENT", "/tree");
      await client.rm("/tree", { force: true });
      await client.writeFile("/single", "s");
      await client.rm("/single");
      await expectError(client.stat("/single"), "ENOENT", "/single");
    });

    it("symlink/readlink; stat follows the link and lstat does not", async () => {
      await client.writeFile("/target", "abc");
      await client.symlink("/target", "/ln");
      expect(await client.readlink("/ln")).toBe("/target");
      expect((await client.lstat("/ln")).isSymbolicLink()).toBe(true);
      expect((await client.stat("/ln")).isFile()).toBe(true);
      expect(await client.readFile("/ln", "utf8")).toBe("abc");
    });

    it("link gives a second name to the same inode", async () => {
      await client.writeFile("/orig", "same");
      await client.link("/orig", "/alias");
      const [a, b] = [await client.stat("/orig"), await client.stat("/alias")];
      expect(a.ino).toBe(b.ino);
      expect(b.nlink).toBe(2);
      expect(await client.readFile("/alias", "utf8")).toBe("same");
    });

    it("copyFile copies by reference: the same chunks, a new inode, old versions through sourceAsOf, EEXIST with exclusive", async () => {
      const bytes = pattern(200_000, 9);
      await client.writeFile("/c-src", bytes);
      const t = await client.currentTid();
      await client.copyFile("/c-src", "/c-dst");
      expect(Buffer.from(await client.readFile("/c-dst")).equals(Buffer.from(bytes))).toBe(true);
      expect((await client.stat("/c-dst")).ino).not.toBe((await client.stat("/c-src")).ino);
      const chunks = async (p: string) => (await client.placement(p)).map((e) => e.chunk);
      expect(await chunks("/c-dst")).toEqual(await chunks("/c-src"));
      await client.writeFile("/c-src", "changed");
      expect(Buffer.from(await client.readFile("/c-dst")).equals(Buffer.from(bytes))).toBe(true);
      await client.copyFile("/c-src", "/c-then", { sourceAsOf: t });
      expect(Buffer.from(await client.readFile("/c-then")).equals(Buffer.from(bytes))).toBe(true);
      await expectError(client.copyFile("/c-src", "/c-dst", { exclusive: true }), "EEXIST");
      await expectError(client.copyFile("/missing", "/c-x"), "ENOENT");
    });

    it("utimes, chmod and chown are reflected in stat", async () => {
      await client.writeFile("/m", "m");
      await client.utimes("/m", new Date("2020-01-02T03:04:05Z"), 1_600_000_000);
      await client.chmod("/m", 0o600);
      await client.chown("/m", 1234, 5678);
      const st = await client.stat("/m");
      expect(st.atime.toISOString()).toBe("2020-01-02T03:04:05.000Z");
      expect(st.mtimeMs).toBe(1_600_000_000_000);
      expect(st.mode).toBe(0o100600);
      expect([st.uid, st.gid]).toEqual([1234, 5678]);
    });

    it("xattrs: set, get, list, remove, with create/replace flags", async () => {
      await client.writeFile("/x", "x");
      await client.setxattr("/x", "user.b", "two");
      await client.setxattr("/x", "user.a", new Uint8Array([1, 2]));
      expect(await client.listxattr("/x")).toEqual(["user.a", "user.b"]);
      expect(Buffer.from(await client.getxattr("/x", "user.b")).toString()).toBe("two");
      await expectError(client.setxattr("/x", "user.a", "again", { create: true }), "EEXIST", "/x");
      await expectError(client.setxattr("/x", "user.c", "new", { replace: true }), "ENOENT", "/x");
      await client.removexattr("/x", "user.a");
      expect(await client.listxattr("/x")).toEqual(["user.b"]);
      await expectError(client.getxattr("/x", "user.a"), "ENOENT", "/x");
    });

    it("tags: set, get, list, remove", async () => {
      await client.writeFile("/t", "t");
      await client.tags.set("/t", "render-site", "gcs-eu");
      await client.tags.set("/t", "job", "42");
      expect(await client.tags.get("/t", "render-site")).toBe("gcs-eu");
      expect(await client.tags.get("/t", "nope")).toBeUndefined();
      expect(await client.tags.list("/t")).toEqual({ job: "42", "render-site": "gcs-eu" });
      await client.tags.remove("/t", "job");
      expect(await client.tags.list("/t")).toEqual({ "render-site": "gcs-eu" });
    });

    it("history lists every write of a file, newest first", async () => {
      await client.writeFile("/h", "v1");
      await client.writeFile("/h", "v2-longer");
      await client.appendFile("/h", "+");
      const versions = await client.history("/h");
      expect(versions.length).toBeGreaterThanOrEqual(3);
      expect(versions.slice(0, 3).map((v) => v.stat?.size)).toEqual([10, 9, 2]);
      const tids = versions.map((v) => v.tid);
      expect([...tids].sort().reverse()).toEqual(tids);
    });

    it("asOf reads the old bytes after an overwrite, lists the old tree, and refuses writes with EROFS", async () => {
      const v1 = pattern(100_000, 17);
      await client.writeFile("/doc", v1);
      const t1 = await client.currentTid();
      await client.writeFile("/doc", "replaced");
      await client.writeFile("/later", "new");
      const view = client.asOf(t1);
      expect(view.point).toBe(t1);
      expect(sha(await view.readFile("/doc"))).toBe(sha(v1));
      expect((await view.stat("/doc")).size).toBe(v1.length);
      expect(sha(await collect(view.createReadStream("/doc", { start: 5, end: 99_994 })))).toBe(
        sha(v1.subarray(5, 99_995)),
      );
      expect(await view.readdir("/")).toEqual(["doc"]);
      await expectError(view.stat("/later"), "ENOENT", "/later");
      expect(await client.readFile("/doc", "utf8")).toBe("replaced");
      // The view has no write methods in its type; called anyway (plain JS), they are EROFS.
      const sneaky = view as unknown as Strata;
      await expectError(sneaky.writeFile("/doc", "nope"), "EROFS", "/doc");
      await expectError(sneaky.mkdir("/nope"), "EROFS", "/nope");
      expect(await client.readFile("/doc", "utf8")).toBe("replaced");
    });

    it("asOf reads every earlier version across appends and truncates, byte-exact", async () => {
      const base = pattern(150_000, 24);
      const more = pattern(70_000, 25);
      await client.writeFile("/v", base);
      const t1 = await client.currentTid();
      await client.appendFile("/v", more);
      const t2 = await client.currentTid();
      await client.truncate("/v", 1000);
      const t3 = await client.currentTid();
      await client.writeFile("/v", "");
      expect(sha(await client.asOf(t1).readFile("/v"))).toBe(sha(base));
      expect(sha(await client.asOf(t2).readFile("/v"))).toBe(sha(Buffer.concat([base, more])));
      expect(sha(await client.asOf(t3).readFile("/v"))).toBe(sha(base.subarray(0, 1000)));
      const mid = await collect(client.asOf(t2).createReadStream("/v", { start: 149_990, end: 150_009 }));
      expect([...mid]).toEqual([...Buffer.concat([base.subarray(149_990), more.subarray(0, 10)])]);
      expect((await client.readFile("/v")).length).toBe(0);
    });

    it("revert restores a file's earlier contents as a new version", async () => {
      await client.writeFile("/cfg", "good");
      const good = await client.currentTid();
      await client.writeFile("/cfg", "bad");
      const tid = await client.revert("/cfg", good);
      expect(await client.readFile("/cfg", "utf8")).toBe("good");
      expect(tid > good).toBe(true);
      await client.mkdir("/dir");
      const empty = await client.currentTid();
      await client.writeFile("/dir/a", "a");
      await client.revert("/dir", empty, { recursive: true });
      expect(await client.readdir("/dir")).toEqual([]);
    });

    it("revert follows the file across its directory's rename; dryRun lists; byPath is the old behaviour", async () => {
      await client.mkdir("/rv/shots", { recursive: true });
      await client.writeFile("/rv/shots/a.txt", "take 1");
      const t = await client.currentTid();
      await client.writeFile("/rv/shots/a.txt", "take 2");
      await client.rename("/rv/shots", "/rv/final");
      expect(await client.revert("/rv/final", t, { recursive: true, dryRun: true })).toEqual({
        created: [],
        changed: ["/rv/final/a.txt"],
        removed: [],
      });
      expect(await client.readFile("/rv/final/a.txt", "utf8")).toBe("take 2");
      await client.revert("/rv/final/a.txt", t);
      expect(await client.readFile("/rv/final/a.txt", "utf8")).toBe("take 1");
      await client.writeFile("/rv/final/new.txt", "n");
      await expectError(client.revert("/rv/final/new.txt", t), "ENOENT", "/rv/final/new.txt");
      await client.revert("/rv/final/a.txt", t, { byPath: true }); // at t that path named nothing
      expect(await client.readdir("/rv/final")).toEqual(["new.txt"]);
    });

    it("snapshots: create, read as of one, list, delete", async () => {
      await client.writeFile("/s", "before");
      const snap = await client.snapshots.create("snap1");
      expect(snap.name).toBe("snap1");
      await client.writeFile("/s", "after");
      expect(await client.asOf({ snapshot: "snap1" }).readFile("/s", "utf8")).toBe("before");
      expect((await client.snapshots.list()).map((s) => s.name)).toEqual(["snap1"]);
      await client.snapshots.delete("snap1");
      expect(await client.snapshots.list()).toEqual([]);
    });

    it("batch commits every op in one transaction, and a failing op leaves nothing", async () => {
      await client.writeFile("/exists", "e");
      await expectError(
        client.batch([
          { op: "mkdir", path: "/job" },
          { op: "writeFile", path: "/job/manifest", data: "{}" },
          { op: "setTag", path: "/exists", key: "k", value: "v" },
          { op: "mkdir", path: "/exists" }, // EEXIST: the whole batch fails
        ]),
        "EEXIST",
      );
      await expectError(client.stat("/job"), "ENOENT", "/job");
      expect(await client.tags.list("/exists")).toEqual({});

      const tid = await client.batch([
        { op: "mkdir", path: "/job" },
        { op: "writeFile", path: "/job/manifest", data: "{}" },
        { op: "writeFile", path: "/exists", data: "replaced" },
        { op: "setTag", path: "/job", key: "render-site", value: "gcs-eu" },
        { op: "chmod", path: "/exists", mode: 0o600 },
      ]);
      expect((await client.stat("/job/manifest")).tid).toBe(tid);
      expect((await client.stat("/exists")).tid).toBe(tid);
      expect(await client.readFile("/exists", "utf8")).toBe("replaced");
      expect(await client.tags.get("/job", "render-site")).toBe("gcs-eu");
      await expectError(
        client.batch([{ op: "writeFile", path: "/huge", data: new Uint8Array(100_000) }]),
        "E2BIG",
        "/huge",
      );
    });

    it("placement lists the chunk instances of a chunked file and nothing for an inline one", async () => {
      await client.writeFile("/small", "tiny");
      expect(await client.placement("/small")).toEqual([]);
      const bytes = pattern(200_000, 18);
      await client.writeFile("/chunked", bytes);
      const placed = await client.placement("/chunked");
      expect(placed.length).toBeGreaterThan(0);
      expect(placed.reduce((n, p) => n + p.length, 0)).toBe(bytes.length);
      for (const p of placed) {
        expect(p.instances.length).toBeGreaterThan(0);
        expect(p.instances.every((i) => i.state === "present")).toBe(true);
      }
    });

    it("an aborted write leaves no file: signal before, during a body stream, and on a write stream", async () => {
      const before = new AbortController();
      before.abort();
      await expectError(client.writeFile("/w0", "x", { signal: before.signal }), "EABORTED", "/w0");
      await expectError(client.stat("/w0"), "ENOENT", "/w0");

      const during = new AbortController();
      async function* body() {
        yield pattern(500_000, 19);
        during.abort();
        yield pattern(500_000, 20);
      }
      await expectError(client.writeFile("/w1", body(), { signal: during.signal }), "EABORTED", "/w1");
      await expectError(client.stat("/w1"), "ENOENT", "/w1");

      const onStream = new AbortController();
      const ws = client.createWriteStream("/w2", { signal: onStream.signal });
      const failed = new Promise<unknown>((resolve) => ws.on("error", resolve));
      await new Promise<void>((resolve, reject) =>
        ws.write(pattern(700_000, 21), (e) => (e ? reject(e) : resolve())),
      );
      onStream.abort();
      const err = await failed;
      expect(isStrataError(err, "EABORTED")).toBe(true);
      await expectError(client.stat("/w2"), "ENOENT", "/w2");

      // An overwrite that is aborted keeps the previous version.
      await client.writeFile("/w3", "keep");
      const ws3 = client.createWriteStream("/w3");
      ws3.write(pattern(100_000, 22));
      ws3.destroy();
      await new Promise((resolve) => ws3.on("close", resolve));
      expect(await client.readFile("/w3", "utf8")).toBe("keep");
    });

    it("an aborted read rejects with EABORTED", async () => {
      await client.writeFile("/r", pattern(2 * 1024 * 1024, 23));
      const before = new AbortController();
      before.abort();
      await expectError(client.readFile("/r", { signal: before.signal }), "EABORTED", "/r");

      const during = new AbortController();
      const rs = client.createReadStream("/r", { signal: during.signal });
      const got = new Promise<unknown>((resolve) => {
        rs.once("data", () => during.abort());
        rs.on("error", resolve);
        rs.on("end", () => resolve(undefined));
      });
      const err = await got;
      expect(isStrataError(err, "EABORTED")).toBe(true);

      const drain = new Writable({ write: (_c, _e, cb) => cb() });
      const web = new AbortController();
      web.abort();
      await expect(
        pipeline(Readable.fromWeb(client.openReadableStream("/r", { signal: web.signal }) as never), drain),
      ).rejects.toMatchObject({ code: "EABORTED" });
    });

    it("an aborted rm -r or directory iteration stops with EABORTED", async () => {
      await client.mkdir("/keep/a", { recursive: true });
      await client.writeFile("/keep/a/f", "f");
      const ctl = new AbortController();
      ctl.abort();
      await expectError(client.rm("/keep", { recursive: true, signal: ctl.signal }), "EABORTED", "/keep");
      expect(await client.readFile("/keep/a/f", "utf8")).toBe("f");

      await client.batch(
        Array.from({ length: 6 }, (_, i) => ({ op: "writeFile" as const, path: `/keep/n${i}`, data: "" })),
      );
      const iter = new AbortController();
      const seen: string[] = [];
      const run = async () => {
        for await (const d of client.opendir("/keep", { pageSize: 2, signal: iter.signal })) {
          seen.push(d.name);
          if (seen.length === 2) iter.abort();
        }
      };
      await expectError(run(), "EABORTED", "/keep");
      expect(seen).toEqual(["a", "n0"]);
    });

    it("errors carry DESIGN codes and details.path: ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY", async () => {
      await expectError(client.readFile("/missing"), "ENOENT", "/missing");
      await expectError(client.stat("/missing/deeper"), "ENOENT");
      await client.mkdir("/dir");
      await client.writeFile("/dir/file", "f");
      await expectError(client.mkdir("/dir"), "EEXIST", "/dir");
      await expectError(client.writeFile("/dir/file", "g", { flag: "wx" }), "EEXIST", "/dir/file");
      await expectError(client.writeFile("/dir/file/x", "g"), "ENOTDIR");
      await expectError(client.readFile("/dir"), "EISDIR", "/dir");
      await expectError(client.unlink("/dir"), "EISDIR", "/dir");
      await expectError(client.rmdir("/dir"), "ENOTEMPTY", "/dir");
      await expectError(client.readdir("/dir/file"), "ENOTDIR", "/dir/file");
      await expectError(
        pipeline(Readable.from([pattern(10, 26)]), client.createWriteStream("/no/such/dir/f")),
        "ENOENT",
        "/no/such/dir/f",
      );
      await expectError(collect(client.createReadStream("/missing")), "ENOENT", "/missing");
    });

    it("currentTid grows with commits; pfs() switches to an isolated namespace", async () => {
      const t0 = await client.currentTid();
      await client.writeFile("/p", "p");
      const t1 = await client.currentTid();
      expect(t1 > t0).toBe(true);
      const other = client.pfs("other");
      expect(other.pfsName).toBe("other");
      await other.writeFile("/only-here", "o");
      expect(await other.readdir("/")).toEqual(["only-here"]);
      expect(await client.readdir("/")).toEqual(["p"]);
    });
  });
}
