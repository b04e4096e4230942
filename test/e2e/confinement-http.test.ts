/**
 * Issue 13, case 1, over real HTTP against a whole local deployment (as `npm start` runs it): a
 * token scoped to /a cannot leave /a through symlinks — a relative `..` link renamed up, or a
 * symlinked ancestor followed by `..` — for reads, listings or uploads; a rename across the
 * scope's edge is EXDEV. Outside state is read back with the admin token afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesToBase64 } from "../../core/bytes.ts";
import { type ApiFixture, startApiFixture } from "../support/api-server.ts";
import { httpWorld, runSequence, trackPartitions } from "../support/confinement.ts";

let fx: ApiFixture;

beforeAll(async () => {
  fx = await startApiFixture("local");
}, 60_000);
afterAll(async () => {
  await fx?.dispose();
});

/** POST one operation; the status and the decoded JSON body. */
async function call(token: string, pfs: string, op: string, input: unknown) {
  const res = await fetch(`${fx.deployment.endpoint}/v1/pfs/${pfs}/ops/${op}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(input),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown> & { error?: { code: string } },
  };
}

async function ok(token: string, pfs: string, op: string, input: unknown) {
  const r = await call(token, pfs, op, input);
  expect(r.body.error, `${op} ${JSON.stringify(input)}`).toBeUndefined();
  return r.body;
}

const inline = (text: string) => ({ $bytes: bytesToBase64(new TextEncoder().encode(text)) });

/** A PFS with /a (the scope), a secret outside, and a read+write token for /a. */
async function world(pfs: string) {
  const admin = fx.adminToken;
  await ok(admin, pfs, "fs.mkdir", { path: "/a/b", recursive: true });
  await ok(admin, pfs, "fs.mkdir", { path: "/secret" });
  await ok(admin, pfs, "fs.mkdir", { path: "/x" });
  await ok(admin, pfs, "upload.commit", { path: "/secret/pw.txt", inline: inline("hunter2") });
  await ok(admin, pfs, "upload.commit", { path: "/x/secret.txt", inline: inline("x-secret") });
  const made = await fx.deployment.services.tokens.create({
    pfs,
    prefix: "/a",
    rights: ["read", "write"],
    ttlSeconds: 3600,
  });
  return { admin, token: made.token };
}

async function unchanged(admin: string, pfs: string, path: string, text: string) {
  const read = await ok(admin, pfs, "fs.read", { path });
  expect(read.inline).toEqual(inline(text));
}

describe("confinement over HTTP (issue 13, case 1)", () => {
  it("a relative `..` symlink renamed up cannot be read, listed or written through", async () => {
    const { admin, token } = await world("c1");
    await ok(token, "c1", "fs.symlink", { target: "..", path: "/a/b/l" });
    await ok(token, "c1", "fs.rename", { from: "/a/b/l", to: "/a/l" });
    const read = await call(token, "c1", "fs.read", { path: "/a/l/secret/pw.txt" });
    expect([read.status, read.body.error?.code]).toEqual([403, "EACCES"]);
    const list = await call(token, "c1", "fs.readdir", { path: "/a/l" });
    expect([list.status, list.body.error?.code]).toEqual([403, "EACCES"]);
    const write = await call(token, "c1", "upload.commit", {
      path: "/a/l/secret/pw.txt",
      inline: inline("owned"),
    });
    expect([write.status, write.body.error?.code]).toEqual([403, "EACCES"]);
    const asOf = (await ok(admin, "c1", "fs.currentTid", {})).tid;
    const old = await call(token, "c1", "fs.stat", { path: "/a/l/secret/pw.txt", asOf });
    expect(old.body.error?.code).toBe("EACCES");
    await unchanged(admin, "c1", "/secret/pw.txt", "hunter2");
    // Inside the scope the same token still works.
    await ok(token, "c1", "upload.commit", { path: "/a/b/mine.txt", inline: inline("mine") });
  });

  it("a symlinked ancestor (/a/s → /a) then `..` (/a/s/l → ../x) cannot be followed out", async () => {
    const { admin, token } = await world("c2");
    await ok(token, "c2", "fs.symlink", { target: "/a", path: "/a/s" });
    await ok(token, "c2", "fs.symlink", { target: "../x", path: "/a/s/l" });
    for (const [op, input] of [
      ["fs.read", { path: "/a/s/l/secret.txt" }],
      ["fs.readdir", { path: "/a/s/l" }],
      ["fs.stat", { path: "/a/l/secret.txt" }],
      ["upload.commit", { path: "/a/s/l/secret.txt", inline: inline("owned") }],
      ["fs.setTag", { path: "/a/s/l/secret.txt", key: "k", value: "v" }],
    ] as const) {
      const r = await call(token, "c2", op, input);
      expect([op, r.status, r.body.error?.code]).toEqual([op, 403, "EACCES"]);
    }
    await unchanged(admin, "c2", "/x/secret.txt", "x-secret");
    expect((await ok(admin, "c2", "fs.getTags", { path: "/x/secret.txt" })).tags).toEqual({});
    // Inside symlinks still resolve: /a/s → /a.
    expect((await ok(token, "c2", "fs.readdir", { path: "/a/s" })).entries).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: "b" })]),
    );
  });

  it("a rename whose resolution leaves the scope is EXDEV and moves nothing", async () => {
    const { admin, token } = await world("c3");
    await ok(token, "c3", "fs.symlink", { target: "..", path: "/a/b/l" });
    await ok(token, "c3", "fs.rename", { from: "/a/b/l", to: "/a/l" });
    const out = await call(token, "c3", "fs.rename", { from: "/a/b", to: "/a/l/b" });
    expect([out.status, out.body.error?.code]).toEqual([409, "EXDEV"]);
    const into = await call(token, "c3", "fs.link", { existing: "/a/l/secret/pw.txt", path: "/a/pw.txt" });
    expect(into.body.error?.code).toBe("EXDEV");
    expect((await ok(admin, "c3", "fs.stat", { path: "/a/b" })).type).toBe("dir");
    expect((await call(admin, "c3", "fs.stat", { path: "/b" })).body.error?.code).toBe("ENOENT");
    expect((await ok(admin, "c3", "fs.stat", { path: "/secret/pw.txt" })).nlink).toBe(1);
  });

  it("counter-check: with confinement switched off (test-only) the same `..` link reads the secret", async () => {
    const { token } = await world("c4");
    await ok(token, "c4", "fs.symlink", { target: "..", path: "/a/b/l" });
    await ok(token, "c4", "fs.rename", { from: "/a/b/l", to: "/a/l" });
    const services = fx.deployment.services;
    services.testOnlyUnconfined = true;
    try {
      const read = await ok(token, "c4", "fs.read", { path: "/a/l/secret/pw.txt" });
      expect(read.inline).toEqual(inline("hunter2"));
    } finally {
      services.testOnlyUnconfined = false;
    }
    expect((await call(token, "c4", "fs.read", { path: "/a/l/secret/pw.txt" })).body.error?.code).toBe(
      "EACCES",
    );
  });

  it("the confinement property over HTTP (30 sequences; tokens scoped to /a)", async () => {
    const services = fx.deployment.services;
    await services.placement?.orchestrator.stop(); // no background placement writes during the checks
    const pks = trackPartitions(services.store);
    let requests = 0;
    let succeeded = 0;
    for (let i = 0; i < 30; i++) {
      const world = await httpWorld(fx.deployment, pks, `prop${i}`);
      const r = await runSequence(world, 1000 + i, { requests: 4 });
      expect(r.escapes).toEqual([]);
      requests += r.requests;
      succeeded += r.succeeded;
    }
    expect(succeeded).toBeGreaterThan(requests / 10);
  }, 300_000);
});
