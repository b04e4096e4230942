/**
 * Issue 13 (bounded cost per request): `fs.history` and `placement.get` answer pages over real
 * HTTP — `cursor` in, `next` out, ≤ 1,000 items and ≤ 1 MiB a reply — and the pages together are
 * the whole answer once (no duplicate, no gap), the same as the embedded engine's; the SDK and the
 * CLI's `placement --status` follow the pages.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileSystem, Version } from "../../core/namespace/api.ts";
import { type ApiFixture, startApiFixture } from "../support/api-server.ts";

const MB = 1024 * 1024;

interface Reply {
  status: number;
  bytes: number;
  body: Record<string, unknown> & { error?: { code: string } };
}

describe("fs.history and placement.get are paged over HTTP (issue 13)", () => {
  let fx: ApiFixture;
  let fs: FileSystem;

  async function call(op: string, input: unknown): Promise<Reply> {
    const res = await fetch(`${fx.deployment.endpoint}/v1/pfs/h/ops/${op}`, {
      method: "POST",
      headers: { authorization: `Bearer ${fx.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify(input),
    });
    const text = await res.text();
    return { status: res.status, bytes: Buffer.byteLength(text), body: JSON.parse(text) };
  }

  /** Every page of `op` from the start; asserts each reply is ok and ≤ 1 MiB. */
  async function pages<T>(op: string, input: Record<string, unknown>, itemsOf: (b: Reply["body"]) => T[]) {
    const items: T[] = [];
    const sizes: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await call(op, { ...input, ...(cursor !== undefined ? { cursor } : {}) });
      expect(page.body.error?.code ?? "ok").toBe("ok");
      expect(page.bytes).toBeLessThanOrEqual(MB);
      sizes.push(page.bytes);
      items.push(...itemsOf(page.body));
      cursor = page.body.next as string | undefined;
    } while (cursor !== undefined);
    return { items, sizes };
  }

  beforeAll(async () => {
    fx = await startApiFixture("local");
    await fx.deployment.services.namespace.createPfs("h");
    fs = fx.deployment.services.namespace.pfs("h");
  }, 60_000);
  afterAll(async () => {
    await fx?.dispose();
  });

  it("a history of 1,205 versions reads completely through pages of ≤ 1,000, each reply ≤ 1 MiB; the SDK follows them", async () => {
    await fs.create("/many");
    for (let n = 0; n < 1_200; n++) await fs.setTag("/many", "n", String(n));
    // A deletion version in the middle: unlink the only name, then revert it back.
    const before = await fs.currentTid();
    await fs.unlink("/many");
    await fs.revert("/many", before, { byPath: true });
    for (let n = 0; n < 3; n++) await fs.setattr("/many", { mode: 0o600 + n });
    const all = await fs.history("/many");
    expect(all.length).toBeGreaterThan(1_000);
    expect(all.some((v) => v.stat === undefined)).toBe(true);

    // Counter-check: one reply may not carry the whole history (the server refuses pages over 1,000).
    const unpaged = await call("fs.history", { path: "/many", limit: all.length });
    expect([unpaged.status, unpaged.body.error?.code]).toEqual([400, "EINVAL"]);
    const { items, sizes } = await pages("fs.history", { path: "/many" }, (b) => b.versions as Version[]);
    expect(sizes.length).toBe(2);
    const tids = items.map((v) => v.tid);
    expect(new Set(tids).size).toBe(tids.length);
    expect(tids).toEqual(all.map((v) => v.tid));
    expect(items.map((v) => v.change)).toEqual(all.map((v) => v.change));

    // Smaller pages resume the same way, across the deletion version too.
    const small = await pages("fs.history", { path: "/many", limit: 7 }, (b) => b.versions as Version[]);
    expect(small.items.map((v) => v.tid)).toEqual(tids);

    const client = await fx.client({ pfs: "h" });
    expect((await client.history("/many")).map((v) => v.tid)).toEqual(tids);
    expect((await client.history("/many", { limit: 1_003 })).map((v) => v.tid)).toEqual(tids.slice(0, 1_003));
    await client.close();
  });

  it("a cursor that is not a TID is EINVAL", async () => {
    const bad = await call("fs.history", { path: "/many", cursor: "nope" });
    expect([bad.status, bad.body.error?.code]).toEqual([400, "EINVAL"]);
  });

  it("placement.get pages the files under a directory; every file once, in walk order", async () => {
    await fs.mkdir("/d");
    await fs.mkdir("/d/sub");
    const expected: string[] = [];
    for (let n = 0; n < 25; n++) {
      const path =
        n % 2 === 0 ? `/d/f${String(n).padStart(2, "0")}` : `/d/sub/g${String(n).padStart(2, "0")}`;
      await fs.create(path);
      expected.push(path);
    }
    const whole = (await call("placement.get", { path: "/d" })).body;
    expect(whole.next).toBeUndefined();
    const order = (whole.files as Array<{ path: string }>).map((f) => f.path);
    expect([...order].sort()).toEqual([...expected].sort());
    const { items, sizes } = await pages("placement.get", { path: "/d", limit: 4 }, (b) => {
      expect(b.placed === false || b.next === undefined).toBe(true);
      return b.files as Array<{ path: string }>;
    });
    expect(sizes.length).toBe(7);
    expect(items.map((f) => f.path)).toEqual(order);
  });
});
