/**
 * `connect({ local })`'s `client.admin`: the operation registry in-process as the deployment's
 * administrator (what the CLI's `--local` mode uses): tokens, status, PFS-scoped and deployment
 * operations by name, typed errors for unknown operations and bad input.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileKeyRing } from "../../adapters/auth/keys.ts";
import { TokenService } from "../../adapters/auth/tokens.ts";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { connect, type Strata } from "../../sdk/index.ts";
import { failureOf } from "../support/errors.ts";

describe("embedded admin (connect({ local }).admin)", () => {
  let dir: string;
  let client: Strata;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-embedded-admin-"));
    client = await connect({ local: dir, pfs: "work" });
  });
  afterAll(async () => {
    await client.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("creates, lists and revokes tokens signed by the directory's own secret", async () => {
    const created = await client.admin.createToken({
      pfs: "work",
      prefix: "/team",
      rights: ["read"],
      label: "t1",
    });
    expect(created).toMatchObject({
      pfs: "work",
      prefix: "/team",
      rights: ["read"],
      label: "t1",
      revoked: false,
    });
    expect((await client.admin.listTokens()).map((t) => t.id)).toContain(created.id);

    // A server opened on the same directory accepts it (same key file in the same home).
    const store = new SqliteMetadataStore({ path: join(dir, "metadata.db") });
    try {
      const tokens = await TokenService.open(store, fileKeyRing(dir));
      expect(await tokens.verify(created.token)).toMatchObject({ tokenId: created.id, pfs: "work" });
      await client.admin.revokeToken(created.id);
      expect((await failureOf(tokens.verify(created.token))).code).toBe("EACCES");
    } finally {
      await store.close();
    }
    expect((await client.admin.listTokens()).find((t) => t.id === created.id)?.revoked).toBe(true);
  });

  it("status names the deployment, its volume and the administrator principal", async () => {
    const status = await client.admin.status();
    expect(status).toMatchObject({ metadata: "sqlite", token: { pfs: "*", rights: ["admin"] } });
    expect(status.volumes).toEqual([expect.objectContaining({ name: "local", kind: "local" })]);
  });

  it("runs PFS operations on the client's PFS or the one the input names", async () => {
    await client.writeFile("/a.txt", "in work");
    expect(await client.admin.call("fs.stat", { path: "/a.txt" })).toMatchObject({ size: 7 });
    expect((await failureOf(client.admin.call("fs.stat", { pfs: "other", path: "/a.txt" }))).code).toBe(
      "ENOENT",
    );
    await client.admin.call("fs.mkdir", { pfs: "other", path: "/d" });
    const other = await connect({ local: dir, pfs: "other" });
    try {
      expect((await other.stat("/d")).isDirectory()).toBe(true);
    } finally {
      await other.close();
    }
    const names = (await client.admin.call<{ pfs: Array<{ name: string }> }>("pfs.list", {})).pfs.map(
      (p) => p.name,
    );
    expect(names).toEqual(expect.arrayContaining(["work", "other"]));
  });

  it("answers typed errors: unknown operation, bad input, no presigned URLs", async () => {
    expect((await failureOf(client.admin.call("no.such.op", {}))).code).toBe("ENOENT");
    const bad = await failureOf(client.admin.call("fs.stat", { path: 42 }));
    expect(bad.code).toBe("EINVAL");
    expect(bad.details).toMatchObject({ field: "path" });
    await client.writeFile("/big.bin", new Uint8Array(100_000).fill(3));
    expect((await failureOf(client.admin.call("fs.read", { path: "/big.bin" }))).code).toBe("ENOTSUP");
  });
});
