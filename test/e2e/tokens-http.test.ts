/**
 * Issue 13, cases 4 and 7, over real HTTP against a local deployment (test/support/api-server.ts):
 * a token's scope is its server record's, signing keys rotate and retire, presigned URLs are short
 * and what revocation does to them, and an unexpected exception reaches the client only as a
 * generic message with a request id.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { REQUEST_ID_HEADER } from "../../functions/api/internal-error.ts";
import { type ApiFixture, startApiFixture } from "../support/api-server.ts";
import { dumpTable, forgedTokens } from "../support/forge.ts";

// biome-ignore lint/suspicious/noExplicitAny: tests read the JSON reply field by field
type Reply = { status: number; headers: Headers; body: any };

async function post(fx: ApiFixture, path: string, token: string, body: unknown = {}): Promise<Reply> {
  const res = await fetch(`${fx.deployment.endpoint}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

/** The presigned GET sources of a chunked file, read with `token`. */
async function sourcesOf(fx: ApiFixture, token: string, path: string) {
  const r = await post(fx, "/v1/pfs/default/ops/fs.read", token, { path });
  expect(r.status).toBe(200);
  return r.body.extents.flatMap((e: { sources: { url: string; expiresAt: string }[] }) => e.sources) as {
    url: string;
    expiresAt: string;
  }[];
}

describe("case 4 over HTTP: the token names its scope by id; keys rotate", () => {
  let fx: ApiFixture;
  beforeAll(async () => {
    fx = await startApiFixture("local");
    const client = await fx.client();
    await client.mkdir("/a", { recursive: true });
    await client.writeFile("/secret.txt", "outside /a");
    await client.writeFile("/a/big.bin", new Uint8Array(50_000).fill(7));
    await client.close();
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  it("a strata1 token (the old self-describing kind) answers 401 with how to get a new one", async () => {
    const body = Buffer.from(
      JSON.stringify({ id: "x", pfs: "*", prefix: "/", rights: ["admin"], exp: 4e9 }),
    ).toString("base64url");
    const r = await post(fx, "/v1/ops/pfs.list", `strata1.${body}.AAAA`);
    expect(r.status).toBe(401);
    expect(r.body.error.message).toMatch(/no longer accepted.*strata token create/);
  });

  it("whoever reads every item of the table still cannot forge a token the server accepts", async () => {
    const reader = await fx.deployment.services.tokens.create({
      pfs: "default",
      prefix: "/a",
      rights: ["read"],
    });
    const items = await dumpTable(fx.deployment.services.store, join(fx.dir, "metadata.db"));
    const forged = forgedTokens(items, [reader.token.split(".")[1]!]);
    expect(forged.length).toBeGreaterThan(50);
    const statuses = new Map<number, number>();
    for (const text of forged) {
      const { status } = await post(fx, "/v1/ops/pfs.list", text);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    // Every attempt is refused as unauthenticated (the counter-check, with the key in the table,
    // is in test/adapters/token-keys-sqlite.test.ts: the same forger then mints an admin).
    expect([...statuses]).toEqual([[401, forged.length]]);
  });

  it("editing a scoped token's text cannot reach another token's scope; revocation is immediate", async () => {
    const tokens = fx.deployment.services.tokens;
    const reader = await tokens.create({ pfs: "default", prefix: "/a", rights: ["read"] });
    const admin = await tokens.create({ pfs: "*", rights: ["admin"] });
    const [head, kid, , mac] = reader.token.split(".");
    // The reader's MAC on the admin's id, and the reader's id under another key id.
    for (const forged of [`${head}.${kid}.${admin.id}.${mac}`, `${head}.kOther.${reader.id}.${mac}`]) {
      expect((await post(fx, "/v1/ops/pfs.list", forged)).status).toBe(401);
    }
    expect(
      (await post(fx, "/v1/pfs/default/ops/fs.stat", reader.token, { path: "/secret.txt" })).status,
    ).toBe(403);
    expect((await post(fx, "/v1/pfs/default/ops/fs.stat", reader.token, { path: "/a/big.bin" })).status).toBe(
      200,
    );
    await tokens.revoke(reader.id);
    const r = await post(fx, "/v1/pfs/default/ops/fs.stat", reader.token, { path: "/a/big.bin" });
    expect(r.status).toBe(401);
    expect(r.body.error.message).toMatch(/revoked/);
  });

  it("rotate-key keeps old tokens working; retire makes them and their blob URLs 401/403; PFS admins may not rotate", async () => {
    const tokens = fx.deployment.services.tokens;
    const pfsAdmin = await tokens.create({ pfs: "default", rights: ["admin"] });
    expect((await post(fx, "/v1/ops/token.rotateKey", pfsAdmin.token)).status).toBe(403);

    const oldAdmin = fx.adminToken;
    const oldKid = oldAdmin.split(".")[1];
    const oldUrl = (await sourcesOf(fx, oldAdmin, "/a/big.bin"))[0]!.url;
    const rotated = await post(fx, "/v1/ops/token.rotateKey", oldAdmin);
    expect(rotated.status).toBe(200);
    expect(rotated.body.active).toEqual([rotated.body.current, oldKid]);
    // Two active keys: the old token and a URL signed before the rotation still work.
    expect((await post(fx, "/v1/ops/pfs.list", oldAdmin)).status).toBe(200);
    expect((await fetch(oldUrl)).status).toBe(200);
    const newAdmin = (
      await post(fx, "/v1/ops/token.create", oldAdmin, { pfs: "*", rights: ["admin"], ttlSeconds: 3600 })
    ).body.token as string;
    expect(newAdmin.split(".")[1]).toBe(rotated.body.current);

    const retired = await post(fx, "/v1/ops/token.rotateKey", newAdmin, { retire: true });
    expect(retired.body.active).toEqual([rotated.body.current]);
    const r = await post(fx, "/v1/ops/pfs.list", oldAdmin);
    expect(r.status).toBe(401);
    expect(r.body.error.message).toMatch(/does not hold/);
    expect((await fetch(oldUrl)).status).toBe(403);
    expect((await post(fx, "/v1/ops/pfs.list", newAdmin)).status).toBe(200);
    fx.adminToken = newAdmin;
  });
});

describe("case 7 over HTTP: presigned URL lifetimes and revocation; internal errors", () => {
  let fx: ApiFixture;
  beforeAll(async () => {
    fx = await startApiFixture("local");
    const client = await fx.client();
    await client.writeFile("/big.bin", new Uint8Array(50_000).fill(9));
    await client.close();
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  it("URLs live ≤ 5 min by default; a URL handed out before a revocation works until it expires", async () => {
    const reader = await fx.deployment.services.tokens.create({ pfs: "default", rights: ["read"] });
    const before = Date.now();
    const sources = await sourcesOf(fx, reader.token, "/big.bin");
    expect(sources.length).toBeGreaterThan(0);
    for (const s of sources) expect(Date.parse(s.expiresAt) - before).toBeLessThanOrEqual(300_000 + 1000);
    await fx.deployment.services.tokens.revoke(reader.id);
    expect((await post(fx, "/v1/pfs/default/ops/fs.read", reader.token, { path: "/big.bin" })).status).toBe(
      401,
    );
    // Documented (docs/http-api.md): revocation does not recall URLs already handed out.
    const got = await fetch(sources[0]!.url);
    expect(got.status).toBe(200);
    expect((await got.arrayBuffer()).byteLength).toBeGreaterThan(0);
  });

  it("counter-check: a deployment configured for 15-minute URLs hands out 15-minute URLs", async () => {
    const long = await startApiFixture("local", undefined, { presignTtlSeconds: 900 });
    try {
      const client = await long.client();
      await client.writeFile("/big.bin", new Uint8Array(50_000).fill(1));
      await client.close();
      const before = Date.now();
      const [s] = await sourcesOf(long, long.adminToken, "/big.bin");
      expect(Date.parse(s!.expiresAt) - before).toBeGreaterThan(300_000);
    } finally {
      await long.dispose();
    }
  });

  it("an unexpected exception answers a generic EIO with a request id; the raw message is only in the log", async () => {
    const arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/strata-prod-MetadataTable-a1b2c3";
    const namespace = fx.deployment.services.namespace;
    const original = namespace.listPfs;
    namespace.listPfs = async () => {
      throw new Error(`AccessDenied on ${arn}`);
    };
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const r = await post(fx, "/v1/ops/pfs.list", fx.adminToken);
      expect(r.status).toBe(502);
      expect(r.body.error.code).toBe("EIO");
      const requestId = r.headers.get(REQUEST_ID_HEADER);
      expect(requestId).toMatch(/^[0-9a-f]{16}$/);
      expect(r.body.error.details).toEqual({ requestId });
      expect(r.body.error.message).toContain(requestId);
      const raw = `${JSON.stringify(r.body)} ${[...r.headers].join(" ")}`;
      for (const leak of [arn, "arn:aws", "123456789012", "strata-prod", "AccessDenied"])
        expect(raw).not.toContain(leak);
      // Counter-check: the raw message did exist — the server log has it, under the same id.
      const line = logged.mock.calls.find((c) => String(c[0]).includes(requestId!));
      expect(line).toBeDefined();
      expect(String(line![1])).toContain(arn);
    } finally {
      namespace.listPfs = original;
      logged.mockRestore();
    }
  });
});
