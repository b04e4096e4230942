/**
 * The signing keys live outside the metadata table (adapters/auth/keys.ts): a whole local
 * deployment's table, dumped item by item, holds nothing that mints a token; the home is private.
 */
import { chmod, mkdtemp, open, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  fileKeyRing,
  formatKeyRing,
  KEY_FILE,
  type KeyRing,
  type KeySource,
  newKey,
  parseKeyRing,
} from "../../adapters/auth/keys.ts";
import { LEGACY_SECRET_KEY, TokenService } from "../../adapters/auth/tokens.ts";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import type { Item, MetadataStore } from "../../core/metadata/port.ts";
import { startLocalDeployment } from "../../functions/local/deployment.ts";
import { type ApiFixture, startApiFixture } from "../support/api-server.ts";
import { candidateKeys, dumpTable, forgedTokens } from "../support/forge.ts";

/** The forged texts `tokens` accepts. */
async function forge(tokens: TokenService, items: Item[], keyIds: string[]): Promise<string[]> {
  const accepted: string[] = [];
  for (const text of forgedTokens(items, keyIds)) {
    if (
      await tokens.verify(text).then(
        () => true,
        () => false,
      )
    )
      accepted.push(text);
  }
  return accepted;
}

/** The way older versions kept the secret — in the table — for the counter-check only. */
function tableKeyRing(store: MetadataStore): KeySource {
  const key = { pk: "deployment#secret", sk: "ring" };
  const ring = async (): Promise<KeyRing> => {
    const item = await store.get(key);
    if (item) return parseKeyRing(String(item.ring), "table");
    await store.put({ ...key, ring: formatKeyRing({ keys: [newKey()] }) });
    return ring();
  };
  return { where: "table", ring, rotate: ring, retire: ring };
}

describe("the metadata table holds nothing that mints a token (local deployment)", () => {
  let fx: ApiFixture;
  let items: Item[];
  let keyIds: string[];
  beforeAll(async () => {
    fx = await startApiFixture("local");
    const client = await fx.client();
    await client.mkdir("/a", { recursive: true });
    await client.writeFile("/a/small.txt", "inline bytes");
    await client.writeFile("/a/big.bin", new Uint8Array(20_000).fill(3));
    await client.close();
    const reader = await fx.deployment.services.tokens.create({
      pfs: "default",
      prefix: "/a",
      rights: ["read"],
    });
    await fx.deployment.services.tokens.create({ pfs: "*", rights: ["admin"], label: "second admin" });
    keyIds = [reader.token.split(".")[1]!];
    items = await dumpTable(fx.deployment.services.store, join(fx.dir, "metadata.db"));
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  it("every item dumped, every field tried as the key: no forged token verifies", async () => {
    expect(items.filter((i) => i.pk === "tokens").length).toBeGreaterThanOrEqual(3);
    expect(items.some((i) => i.pk === LEGACY_SECRET_KEY.pk)).toBe(false);
    expect(candidateKeys(items).length).toBeGreaterThan(20);
    expect(await forge(fx.deployment.services.tokens, items, keyIds)).toEqual([]);
  });

  it("counter-check: with the key stored in the table (the old way), the same forger mints an admin", async () => {
    const store = fx.deployment.services.store;
    const inTable = new TokenService(store, tableKeyRing(store));
    const own = await inTable.create({ pfs: "default", prefix: "/a", rights: ["read"] });
    const dumped = await dumpTable(store, join(fx.dir, "metadata.db"));
    const forged = await forge(inTable, dumped, [own.token.split(".")[1]!]);
    expect(forged.length).toBeGreaterThan(0);
    const principals = await Promise.all(forged.map((t) => inTable.verify(t)));
    expect(principals.some((p) => p.pfs === "*" && p.rights.includes("admin"))).toBe(true);
    await store.delete({ pk: "deployment#secret", sk: "ring" });
  });
});

describe("a local deployment's home is private and its old secret item is dropped", () => {
  const mode = async (p: string) => (await stat(p)).mode & 0o777;

  it("an older deployment (0755 home, 0644 metadata.db, secret in the table) is tightened at start", async () => {
    const home = await mkdtemp(join(tmpdir(), "strata-home-"));
    try {
      // What an older version left behind (this is also the counter-check: the modes start wrong).
      await chmod(home, 0o755);
      const old = new SqliteMetadataStore({ path: join(home, "metadata.db") });
      await old.put({ ...LEGACY_SECRET_KEY, secret: new Uint8Array(32).fill(9) });
      await old.close();
      await chmod(join(home, "metadata.db"), 0o644);
      expect(await mode(home)).toBe(0o755);
      expect(await mode(join(home, "metadata.db"))).toBe(0o644);

      const d = await startLocalDeployment({
        home,
        volumes: { v: { kind: "local", root: join(home, "volumes", "v") } },
        defaultVolume: "v",
        port: 0,
        schedules: { vacuumMs: 0, scrubMs: 0, mirrorMs: 0 },
      });
      try {
        const client = await (await import("../../sdk/index.ts")).connect({
          endpoint: d.endpoint,
          token: (await d.services.tokens.create({ pfs: "*", rights: ["admin"] })).token,
        });
        await client.writeFile("/f.bin", new Uint8Array(10_000).fill(1));
        await client.close();
        expect(await d.services.store.get(LEGACY_SECRET_KEY)).toBeUndefined();
        expect(await mode(home)).toBe(0o700);
        expect(await mode(join(home, "metadata.db"))).toBe(0o600);
        expect(await mode(join(home, KEY_FILE))).toBe(0o600);
        expect(await mode(join(home, "volumes", "v"))).toBe(0o700);
        expect(await mode(join(home, "volumes", "v", "objects"))).toBe(0o700);
      } finally {
        await d.stop();
      }
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});

describe("the key file", () => {
  it("rotation and retirement by one process are seen by another on the same home", async () => {
    const home = await mkdtemp(join(tmpdir(), "strata-keys-"));
    try {
      const [a, b] = [fileKeyRing(home), fileKeyRing(home)];
      // Two processes starting together: one file wins, both use it.
      const [ra, rb] = await Promise.all([a.ring(), b.ring()]);
      expect(formatKeyRing(ra)).toBe(formatKeyRing(rb));
      const rotated = await a.rotate();
      expect(rotated.keys).toHaveLength(2);
      expect((await b.ring()).keys.map((k) => k.id)).toEqual(rotated.keys.map((k) => k.id));
      await b.retire();
      expect((await a.ring()).keys.map((k) => k.id)).toEqual([rotated.keys[0]!.id]);
      expect((await stat(join(home, KEY_FILE))).mode & 0o777).toBe(0o600);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it("a key file made readable by others is put back to 0600 on the next read", async () => {
    const home = await mkdtemp(join(tmpdir(), "strata-keys-"));
    try {
      const keys = fileKeyRing(home);
      await keys.ring();
      await chmod(join(home, KEY_FILE), 0o644);
      await keys.ring();
      expect((await stat(join(home, KEY_FILE))).mode & 0o777).toBe(0o600);
      const handle = await open(join(home, KEY_FILE), "w");
      await handle.writeFile("not a ring\n");
      await handle.close();
      await expect(keys.ring()).rejects.toMatchObject({ code: "EINVAL" });
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
