/**
 * The WebDAV gateway reaches exactly what its request's token can (DESIGN.md "Confinement"):
 * every request carries its own token to the deployment, so a token confined to /a can neither
 * read nor change anything outside /a through any WebDAV method — reads, listings, writes, COPY
 * and MOVE across the edge, as-of names, locks, properties. Outside state is read back with the
 * admin token afterwards. Counter-check: a gateway that serves every request with one admin
 * client (ignoring the request's token) leaks the secret and lets the writes through.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { remoteBackend, type WebDavBackend } from "../../gateways/webdav/backend.ts";
import { startWebDavServer } from "../../gateways/webdav/server.ts";
import type { Strata } from "../../sdk/index.ts";
import { davRequest, startWebDavFixture, type WebDavFixture } from "../support/webdav.ts";

const SECRET = "SECRET-7f3a9c";

interface World {
  fx: WebDavFixture;
  admin: Strata;
  scoped: string;
  tid: string;
}

/** `shareAdmin`: the counter-check's gateway, which serves every request with the admin client. */
async function world(shareAdmin = false): Promise<World> {
  let admin: Strata | undefined;
  const fx = await startWebDavFixture(
    shareAdmin
      ? {
          backend: () => {
            // Resolved lazily: the fixture's admin client is made after the API starts.
            const lazy: WebDavBackend = {
              requiresAuth: true,
              clientFor: async () => admin!,
              close: async () => {},
            };
            return lazy;
          },
        }
      : {},
  );
  admin = await fx.api.client();
  await admin.mkdir("/a");
  await admin.mkdir("/b");
  await admin.writeFile("/a/in.txt", "inside");
  await admin.writeFile("/b/secret.txt", SECRET);
  const tid = await admin.currentTid();
  const scoped = (
    await admin.admin.createToken({
      pfs: "default",
      prefix: "/a",
      rights: ["read", "write"],
      ttlSeconds: 3600,
    })
  ).token;
  return { fx, admin, scoped, tid };
}

/**
 * Every way out of /a a WebDAV client could try; returns what went wrong (empty: confined).
 * A request "goes wrong" when its answer shows the secret, or it succeeded (2xx) at all.
 */
async function escapes(w: World): Promise<string[]> {
  const base = w.fx.dav.url.replace(/\/$/, "");
  const dest = (p: string) => ({ Destination: `${base}${p}` });
  const attempts: Array<[string, string, Record<string, string>?, string?]> = [
    ["GET", "/b/secret.txt"],
    ["HEAD", "/b/secret.txt"],
    ["PROPFIND", "/b/", { Depth: "1" }],
    ["PROPFIND", "/", { Depth: "infinity" }],
    ["GET", `/.strata/as-of/${w.tid}/b/secret.txt`],
    ["GET", `/b/secret.txt@@${w.tid}`],
    ["GET", `/b@@${w.tid}/secret.txt`],
    ["PUT", "/b/planted.txt", {}, "planted"],
    ["MKCOL", "/b/newdir"],
    ["DELETE", "/b/secret.txt"],
    ["COPY", "/b/secret.txt", dest("/a/stolen.txt")],
    ["COPY", `/.strata/as-of/${w.tid}/b/secret.txt`, dest("/a/stolen2.txt")],
    ["COPY", "/a/in.txt", dest("/b/planted2.txt")],
    ["MOVE", "/a/in.txt", dest("/b/moved.txt")],
    ["MOVE", "/b/secret.txt", dest("/a/moved.txt")],
    [
      "PROPPATCH",
      "/b/secret.txt",
      {},
      `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:t">1</x></D:prop></D:set></D:propertyupdate>`,
    ],
    [
      "LOCK",
      "/b/secret.txt",
      {},
      `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`,
    ],
  ];
  const wrong: string[] = [];
  for (const [method, path, headers, body] of attempts) {
    const r = await davRequest(`${base}${path}`, method, {
      token: w.scoped,
      headers: headers ?? {},
      ...(body !== undefined ? { body } : {}),
    });
    if (r.text.includes(SECRET)) wrong.push(`${method} ${path}: the answer shows the secret`);
    if (r.status >= 200 && r.status < 300) wrong.push(`${method} ${path}: ${r.status}`);
  }
  // Outside /a, nothing changed; nothing of /b arrived in /a.
  const b = await w.admin.readdir("/b");
  if (JSON.stringify(b) !== JSON.stringify(["secret.txt"])) wrong.push(`/b now lists ${JSON.stringify(b)}`);
  const text = await w.admin.readFile("/b/secret.txt", "utf8").catch(() => "(gone)");
  if (text !== SECRET) wrong.push(`/b/secret.txt now reads ${text}`);
  const a = await w.admin.readdir("/a");
  if (JSON.stringify(a) !== JSON.stringify(["in.txt"])) wrong.push(`/a now lists ${JSON.stringify(a)}`);
  if ((await w.admin.listxattr("/b/secret.txt")).length > 0) wrong.push("/b/secret.txt got properties");
  return wrong;
}

describe("WebDAV requests are confined to their token's prefix", () => {
  let w: World;
  beforeAll(async () => {
    w = await world();
  }, 60_000);
  afterAll(async () => {
    await w?.fx.dispose();
  });

  it("a token confined to /a works inside /a (positive control)", async () => {
    const base = w.fx.dav.url;
    expect((await davRequest(`${base}a/in.txt`, "GET", { token: w.scoped })).text).toBe("inside");
    const put = await davRequest(`${base}a/new.txt`, "PUT", { token: w.scoped, body: "new" });
    expect(put.status).toBe(201);
    expect(await w.admin.readFile("/a/new.txt", "utf8")).toBe("new");
    await w.admin.unlink("/a/new.txt");
  });

  it("a read-only token cannot take a lock (locks would block writers); a writer can", async () => {
    const base = w.fx.dav.url;
    const reader = (
      await w.admin.admin.createToken({ pfs: "default", prefix: "/a", rights: ["read"], ttlSeconds: 3600 })
    ).token;
    const body = `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`;
    expect((await davRequest(`${base}a/in.txt`, "LOCK", { token: reader, body })).status).toBe(403);
    const taken = await davRequest(`${base}a/in.txt`, "LOCK", { token: w.scoped, body });
    expect(taken.status).toBe(200);
    const lockToken = taken.headers.get("lock-token")!;
    expect(
      (
        await davRequest(`${base}a/in.txt`, "UNLOCK", {
          token: w.scoped,
          headers: { "Lock-Token": lockToken },
        })
      ).status,
    ).toBe(204);
  });

  it("counter-check: a gateway without the lock-right check lets a read-only token lock (and block writers)", async () => {
    const reader = (
      await w.admin.admin.createToken({ pfs: "default", prefix: "/a", rights: ["read"], ttlSeconds: 3600 })
    ).token;
    const { mayLock: _checked, ...unchecked } = remoteBackend({
      endpoint: w.fx.api.deployment.endpoint,
      pfs: "default",
    });
    const dav = await startWebDavServer({ backend: unchecked });
    try {
      const body = `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`;
      expect((await davRequest(`${dav.url}a/in.txt`, "LOCK", { token: reader, body })).status).toBe(200);
      const put = await davRequest(`${dav.url}a/in.txt`, "PUT", { token: w.scoped, body: "blocked" });
      expect(put.status).toBe(423);
    } finally {
      await dav.close();
    }
  });

  it("no request without a valid token gets in (401)", async () => {
    const base = w.fx.dav.url;
    expect((await davRequest(`${base}a/in.txt`, "GET")).status).toBe(401);
    expect((await davRequest(`${base}a/in.txt`, "GET", { token: "strata2.x.y.z" })).status).toBe(401);
  });

  it("no method leaves /a: nothing outside is read or changed", async () => {
    expect(await escapes(w)).toEqual([]);
  });
});

describe("counter-check: a gateway serving every request with one admin client", () => {
  let w: World;
  beforeAll(async () => {
    w = await world(true);
  }, 60_000);
  afterAll(async () => {
    await w?.fx.dispose();
  });

  it("leaks the secret and lets writes outside /a through", async () => {
    const wrong = await escapes(w);
    expect(wrong.some((m) => m.includes("shows the secret"))).toBe(true);
    expect(wrong.some((m) => m.startsWith("PUT /b/planted.txt"))).toBe(true);
  });
});
