/**
 * Issue 13, cases 2, 3, 5 and 6 as an attacker tried them, over real HTTP against a local
 * deployment (functions/local/deployment.ts on a loopback port): what a token confined to a
 * prefix can no longer reach (the mirror source side, whole-PFS operations, deployment
 * administration), what mirror.chunk hands out, and the bounds on one request's cost. Every
 * refusal has a positive control: the same request with a whole-PFS token succeeds, so the
 * refusal comes from the scope and not from a broken operation.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStrataError } from "../../core/errors.ts";
import { fromJsonValue, readFull, recordChunks, type StreamRecord } from "../../core/mirror/index.ts";
import type { FileSystem } from "../../core/namespace/api.ts";
import { PATH_DEPTH_MAX } from "../../core/namespace/path.ts";
import { type ApiFixture, startApiFixture } from "../support/api-server.ts";
import { failureOf } from "../support/errors.ts";

interface Reply {
  status: number;
  bytes: number;
  body: { error?: { code: string; message: string; details: Record<string, unknown> } } & Record<
    string,
    unknown
  >;
}

const MB = 1024 * 1024;
const bytesOf = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 31 + seed * 7) & 0xff);

describe("scopes over HTTP (issue 13 cases 2, 3, 5, 6)", () => {
  let fx: ApiFixture;
  let p: FileSystem;
  const tok: Record<string, string> = {};

  /** POST one operation as raw HTTP; `pfs` routes it to /v1/pfs/{pfs}/ops/{op}. */
  async function call(token: string, op: string, input: unknown, pfs?: string): Promise<Reply> {
    const route = pfs === undefined ? `/v1/ops/${op}` : `/v1/pfs/${encodeURIComponent(pfs)}/ops/${op}`;
    const res = await fetch(`${fx.deployment.endpoint}${route}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(input),
    });
    const text = await res.text();
    return { status: res.status, bytes: Buffer.byteLength(text), body: JSON.parse(text) };
  }
  const codeOf = (r: Reply) => r.body.error?.code ?? "ok";

  async function token(name: string, pfs: string, prefix: string, rights: Array<"read" | "write" | "admin">) {
    tok[name] = (await fx.deployment.services.tokens.create({ pfs, prefix, rights, ttlSeconds: 3600 })).token;
  }

  beforeAll(async () => {
    fx = await startApiFixture("local");
    const { services } = fx.deployment;
    await services.namespace.createPfs("p");
    await services.namespace.createPfs("q");
    p = services.namespace.pfs("p");
    await p.mkdir("/a");
    await p.mkdir("/b");
    await services.data.writeFile(p, "/a/in.bin", bytesOf(300_000, 1));
    await services.data.writeFile(p, "/b/secret.bin", bytesOf(300_000, 2));
    await services.data.writeFile(services.namespace.pfs("q"), "/q.bin", bytesOf(300_000, 3));
    await token("readA", "p", "/a", ["read"]);
    await token("writerA", "p", "/a", ["read", "write"]);
    await token("adminA", "p", "/a", ["admin"]);
    await token("readP", "p", "/", ["read"]);
    await token("writerP", "p", "/", ["read", "write"]);
    await token("adminP", "p", "/", ["admin"]);
    await token("readQ", "q", "/", ["read"]);
    await token("starA", "*", "/a", ["admin"]);
    await token("readStar", "*", "/", ["read"]);
  }, 60_000);
  afterAll(async () => {
    await fx?.dispose();
  });

  /** The stream records of a PFS as a whole-PFS reader sees them, and the chunks they reference. */
  async function streamOf(token: string, pfs: string) {
    const page = await call(token, "mirror.read", { pfs });
    expect(codeOf(page)).toBe("ok");
    const records = fromJsonValue(page.body.records) as StreamRecord[];
    return { records, chunks: recordChunks(records) };
  }
  async function chunkOfFile(fs: FileSystem, path: string) {
    const st = await fs.stat(path);
    return st.content!.extents![0]!;
  }

  describe("case 2: mirror.read, mirror.full, mirror.info need a whole-PFS reader", () => {
    it("a read token limited to /a gets EACCES for each; a reader of the whole PFS gets the records", async () => {
      for (const op of ["mirror.read", "mirror.full", "mirror.info"]) {
        const denied = await call(tok.readA!, op, { pfs: "p" });
        expect([denied.status, codeOf(denied)], op).toEqual([403, "EACCES"]);
        expect(denied.body.error!.message, op).toMatch(/whole PFS/);
        expect(JSON.stringify(denied.body)).not.toContain("secret.bin");
        const allowed = await call(tok.readP!, op, { pfs: "p" });
        expect(codeOf(allowed), op).toBe("ok");
      }
      // What the refusal protects: the whole-PFS reader's stream names /b's file.
      const { records } = await streamOf(tok.readP!, "p");
      expect(records.some((r) => r.item.name === "secret.bin")).toBe(true);
      // A token of another PFS does not reach p at all.
      expect(codeOf(await call(tok.readQ!, "mirror.read", { pfs: "p" }))).toBe("EACCES");
    });
  });

  describe("case 3: mirror.chunk hands out only chunks the PFS references", () => {
    it("a whole-PFS reader gets a chunk a record of its PFS references, by URL and inline", async () => {
      const secret = await chunkOfFile(p, "/b/secret.bin");
      const { chunks } = await streamOf(tok.readP!, "p");
      const ref = chunks.find((c) => c.chunk === secret.chunk)!;
      expect(ref.from).toBeDefined();
      const urls = await call(tok.readP!, "mirror.chunk", { pfs: "p", ...ref });
      expect(codeOf(urls)).toBe("ok");
      expect((urls.body.sources as unknown[]).length).toBeGreaterThan(0);
      const inline = await call(tok.readP!, "mirror.chunk", { pfs: "p", ...ref, inline: true });
      expect(codeOf(inline)).toBe("ok");
      expect((fromJsonValue(inline.body.bytes) as Uint8Array).length).toBe(300_000);
    });

    it("another tenant's chunk and a chunk nobody holds get the same answer (no oracle)", async () => {
      const q = fx.deployment.services.namespace.pfs("q");
      const theirs = await chunkOfFile(q, "/q.bin");
      // The deployment holds it: the refusal below is the reference check, not absence.
      const held = await fx.deployment.services.store.query(`chunk#${theirs.chunk}`);
      expect(held.items.some((i) => i.state === "present")).toBe(true);
      const { chunks } = await streamOf(tok.readP!, "p");
      const from = chunks[0]!.from!; // a record of p (it references another chunk)
      const nobody = "0".repeat(64);
      const answers: Reply[] = [];
      for (const chunk of [theirs.chunk, nobody])
        for (const inline of [false, true])
          answers.push(
            await call(tok.readP!, "mirror.chunk", {
              pfs: "p",
              chunk,
              size: theirs.length,
              crc32c: theirs.crc32c,
              from,
              inline,
            }),
          );
      for (const a of answers) expect([a.status, codeOf(a)]).toEqual([404, "ENOENT"]);
      const shape = (a: Reply) => ({
        ...a.body.error,
        message: a.body.error!.message.replace(/[0-9a-f]{64}/, "<sha>"),
        details: { ...a.body.error!.details, chunk: "<sha>" },
      });
      expect(shape(answers[0]!)).toEqual(shape(answers[2]!));
      expect(shape(answers[1]!)).toEqual(shape(answers[3]!));
      // Naming q's own record from p does not help: records are looked up inside p.
      const { chunks: qChunks } = await streamOf(tok.readQ!, "q");
      const qRef = qChunks.find((c) => c.chunk === theirs.chunk)!;
      expect(codeOf(await call(tok.readP!, "mirror.chunk", { pfs: "p", ...qRef }))).toBe("ENOENT");
      // Positive control: q's reader, asking q, gets it.
      expect(codeOf(await call(tok.readQ!, "mirror.chunk", { pfs: "q", ...qRef }))).toBe("ok");
    });

    it("a prefix-scoped reader gets EACCES for mirror.chunk, and reaches chunks only through fs.read of its paths", async () => {
      const { chunks } = await streamOf(tok.readP!, "p");
      const denied = await call(tok.readA!, "mirror.chunk", { pfs: "p", ...chunks[0]! });
      expect(codeOf(denied)).toBe("EACCES");
      const mine = await call(tok.readA!, "fs.read", { path: "/a/in.bin" }, "p");
      expect(codeOf(mine)).toBe("ok");
      expect((mine.body.extents as Array<{ sources: unknown[] }>)[0]!.sources.length).toBeGreaterThan(0);
      for (const path of ["/b/secret.bin", "/a/../b/secret.bin"])
        expect(codeOf(await call(tok.readA!, "fs.read", { path }, "p")), path).toBe("EACCES");
      expect(codeOf(await call(tok.readA!, "fs.placement", { path: "/b/secret.bin" }, "p"))).toBe("EACCES");
    });
  });

  describe("case 5: whole-PFS operations need prefix /, * tokens respect their prefix", () => {
    it("a writer confined to /a cannot snapshot.create; a whole-PFS writer can", async () => {
      const denied = await call(tok.writerA!, "snapshot.create", { name: "pin" }, "p");
      expect([denied.status, codeOf(denied)]).toEqual([403, "EACCES"]);
      expect(codeOf(await call(tok.writerP!, "snapshot.create", { name: "pin" }, "p"))).toBe("ok");
    });

    it("a prefix-scoped PFS admin cannot retention.set, snapshot.delete or placement.sweep; a whole-PFS admin can", async () => {
      for (const [op, input] of [
        ["retention.set", { policy: "all 1h" }],
        ["snapshot.delete", { name: "pin" }],
        ["snapshot.list", {}],
        ["retention.get", {}],
      ] as const) {
        const denied = await call(tok.adminA!, op, input, "p");
        expect(codeOf(denied), op).toBe("EACCES");
      }
      expect(codeOf(await call(tok.adminA!, "placement.sweep", {}, "p"))).toBe("EACCES");
      expect(codeOf(await call(tok.adminP!, "retention.set", { policy: "" }, "p"))).toBe("ok");
      expect(codeOf(await call(tok.adminP!, "snapshot.delete", { name: "pin" }, "p"))).toBe("ok");
    });

    it("a * admin token with prefix /a is no deployment admin and sees only tokens inside /a", async () => {
      for (const [op, input] of [
        ["pfs.create", { name: "nope" }],
        ["vacuum.run", {}],
        ["volume.add", { name: "x", kind: "local", config: { root: "/tmp/x" } }],
        ["mirror.status", {}],
      ] as const)
        expect(codeOf(await call(tok.starA!, op, input)), op).toBe("EACCES");
      const listed = await call(tok.starA!, "token.list", {});
      const prefixes = (listed.body.tokens as Array<{ prefix: string }>).map((t) => t.prefix);
      expect(prefixes.length).toBeGreaterThan(0);
      expect(prefixes.every((x) => x === "/a" || x.startsWith("/a/"))).toBe(true);
      expect(codeOf(await call(tok.starA!, "fs.stat", { path: "/b/secret.bin" }, "p"))).toBe("EACCES");
      expect(codeOf(await call(tok.starA!, "fs.stat", { path: "/a/in.bin" }, "p"))).toBe("ok");
      expect(codeOf(await call(tok.starA!, "snapshot.create", { name: "s" }, "p"))).toBe("EACCES");
      // Positive control: the deployment admin may.
      expect(codeOf(await call(fx.adminToken, "mirror.status", {}))).toBe("ok");
    });
  });

  describe("case 6: one request, bounded work", () => {
    it("mkdir -p 1,000 levels is refused up front naming the depth limit, and creates nothing", async () => {
      const deep = `/deep${"/d".repeat(999)}`;
      const refused = await call(fx.adminToken, "fs.mkdir", { path: deep, recursive: true }, "p");
      expect([refused.status, codeOf(refused)]).toEqual([400, "ENAMETOOLONG"]);
      expect(refused.body.error!.message).toContain(String(PATH_DEPTH_MAX));
      expect(refused.body.error!.details).toMatchObject({ limit: PATH_DEPTH_MAX, depth: 1000 });
      const root = await call(fx.adminToken, "fs.readdir", { path: "/" }, "p");
      expect((root.body.entries as Array<{ name: string }>).map((e) => e.name)).not.toContain("deep");
      // One level over the limit is refused; the limit itself is a valid path.
      const over = `/${Array.from({ length: PATH_DEPTH_MAX + 1 }, () => "d").join("/")}`;
      expect(codeOf(await call(fx.adminToken, "fs.stat", { path: over }, "p"))).toBe("ENAMETOOLONG");
      const at = `/${Array.from({ length: PATH_DEPTH_MAX }, () => "d").join("/")}`;
      expect(codeOf(await call(fx.adminToken, "fs.stat", { path: at }, "p"))).toBe("ENOENT");
    });

    it("no PFS is created by a read, not even a deployment admin's; a deployment admin's write still creates one", async () => {
      expect(codeOf(await call(tok.readStar!, "fs.stat", { path: "/" }, "ghost"))).toBe("ENOENT");
      expect(codeOf(await call(fx.adminToken, "fs.readdir", { path: "/" }, "ghost2"))).toBe("ENOENT");
      const names = async () =>
        ((await call(fx.adminToken, "pfs.list", {})).body.pfs as Array<{ name: string }>).map((x) => x.name);
      expect(await names()).not.toContain("ghost");
      expect(await names()).not.toContain("ghost2");
      expect(codeOf(await call(fx.adminToken, "fs.mkdir", { path: "/x" }, "made"))).toBe("ok");
      expect(await names()).toContain("made");
    });

    it("mirror.full is paged: every reply ≤ 1 MB, the pages are the whole state once", async () => {
      const fs = fx.deployment.services.namespace.pfs("q");
      await fs.mkdir("/x");
      const big = bytesOf(60 * 1024, 9);
      for (let n = 0; n < 40; n++) {
        await fs.create(`/x/f${n}`);
        await fs.setXattr(`/x/f${n}`, "user.big", big);
      }
      const keys: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await call(tok.readQ!, "mirror.full", { pfs: "q", ...(cursor ? { cursor } : {}) });
        expect(codeOf(page)).toBe("ok");
        expect(page.bytes).toBeLessThanOrEqual(MB);
        for (const r of fromJsonValue(page.body.records) as StreamRecord[]) keys.push(`${r.pk} ${r.sk}`);
        cursor = page.body.next as string | undefined;
        pages++;
      } while (cursor);
      expect(pages).toBeGreaterThan(2);
      expect(new Set(keys).size).toBe(keys.length);
      const all = await readFull(fx.deployment.services.namespace, "q");
      expect([...keys].sort()).toEqual(all.records.map((r) => `${r.pk} ${r.sk}`).sort());
    });

    it("list operations page: snapshot.list and token.list answer `next`, the SDK follows it", async () => {
      for (const name of ["s1", "s2", "s3"])
        expect(codeOf(await call(tok.writerP!, "snapshot.create", { name }, "p"))).toBe("ok");
      const first = await call(tok.readP!, "snapshot.list", { limit: 2 }, "p");
      expect((first.body.snapshots as Array<{ name: string }>).map((s) => s.name)).toEqual(["s1", "s2"]);
      const second = await call(tok.readP!, "snapshot.list", { limit: 2, cursor: first.body.next }, "p");
      expect((second.body.snapshots as Array<{ name: string }>).map((s) => s.name)).toEqual(["s3"]);
      expect(second.body.next).toBeUndefined();
      const tokens = await call(fx.adminToken, "token.list", { limit: 2 });
      expect((tokens.body.tokens as unknown[]).length).toBe(2);
      expect(tokens.body.next).toBeDefined();
      const client = await fx.client({ pfs: "p" });
      expect((await client.snapshots.list()).map((s) => s.name)).toEqual(["s1", "s2", "s3"]);
      expect((await client.admin.listTokens()).length).toBeGreaterThan(2);
      await client.close();
    });

    it("placement.wait holds a request at most the server's limit and answers `again`; the SDK loops to its own deadline", async () => {
      const { services } = fx.deployment;
      services.maxWaitSeconds = 1; // the 30 s default, shortened so the test does not wait 30 s
      try {
        await services.data.writeFile(p, "/a/unplaced.bin", bytesOf(100_000, 5));
        // A site that exists but cannot take the bytes (its root lies under a regular file): the
        // file stays pending. (A site no volume has is unsatisfiable: placement.wait fails at once.)
        const blocker = join(fx.dir, "not-a-directory");
        await writeFile(blocker, "x");
        expect(
          codeOf(
            await call(fx.adminToken, "volume.add", {
              name: "mars",
              kind: "local",
              config: { root: join(blocker, "volume") },
              site: "mars",
            }),
          ),
        ).toBe("ok");
        expect(
          codeOf(
            await call(fx.adminToken, "objective.set", { path: "/a", text: "place 1 on site:mars" }, "p"),
          ),
        ).toBe("ok");
        const waited = await call(
          tok.readA!,
          "placement.wait",
          { path: "/a/unplaced.bin", timeoutSeconds: 600 },
          "p",
        );
        expect(codeOf(waited)).toBe("ETIMEDOUT");
        expect(waited.body.error!.details).toMatchObject({ again: true, limitSeconds: 1 });
        const client = await fx.client({ pfs: "p", token: tok.readA! });
        const err = await failureOf(client.waitForPlacement("/a/unplaced.bin", { timeoutMs: 2500 }));
        expect(isStrataError(err, "ETIMEDOUT")).toBe(true);
        await client.close();
      } finally {
        services.maxWaitSeconds = undefined;
      }
    });
  });
});
