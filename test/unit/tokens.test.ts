/**
 * Tokens name their scope by id (adapters/auth/tokens.ts): the text is `strata2.<key>.<id>.<mac>`,
 * the scope is the record's, keys rotate with two active (adapters/auth/keys.ts).
 */
import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatKeyRing,
  memoryKeyRing,
  newKey,
  parseKeyRing,
  staticKeyRing,
} from "../../adapters/auth/keys.ts";
import { LEGACY_SECRET_KEY, TokenService } from "../../adapters/auth/tokens.ts";
import { isStrataError, type StrataError } from "../../core/errors.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { statusOf } from "../../functions/api/status-codes.ts";
import { failureOf } from "../support/errors.ts";

const T0 = Date.parse("2030-01-01T00:00:00Z");

function world(keys = memoryKeyRing()) {
  const now = { t: T0 };
  const store = new MemoryMetadataStore();
  return { now, store, keys, tokens: new TokenService(store, keys, () => now.t) };
}

function is401(err: StrataError): boolean {
  return isStrataError(err, "EACCES") && statusOf(err.code, err.details) === 401;
}

describe("token text carries only an id and a MAC", () => {
  it("a created token verifies to its record's scope, and its text names no scope", async () => {
    const { tokens } = world();
    const made = await tokens.create({
      pfs: "p",
      prefix: "/a/./b/",
      rights: ["read", "write"],
      ttlSeconds: 60,
    });
    expect(made.token.split(".")).toHaveLength(4);
    expect(made.token.startsWith("strata2.")).toBe(true);
    for (const word of ["/a", "read", "write", '"p"']) expect(made.token).not.toContain(word);
    expect(await tokens.verify(made.token)).toMatchObject({
      tokenId: made.id,
      pfs: "p",
      prefix: "/a/b",
      rights: ["read", "write"],
      expiresAt: T0 + 60_000,
    });
  });

  it("the server's record decides: changing it changes the principal of the same text", async () => {
    const { tokens, store, now } = world();
    const made = await tokens.create({ pfs: "p", prefix: "/a", rights: ["read"], ttlSeconds: 60 });
    await store.update({ pk: "tokens", sk: made.id }, { set: { prefix: "/a/x", rights: ["read", "write"] } });
    expect(await tokens.verify(made.token)).toMatchObject({ prefix: "/a/x", rights: ["read", "write"] });
    // Expiry is the record's too (the text has none).
    await store.update({ pk: "tokens", sk: made.id }, { set: { expiresAt: new Date(now.t).toISOString() } });
    expect((await failureOf(tokens.verify(made.token))).message).toMatch(/expired/);
  });

  it("refuses as 401: malformed, another deployment's key, tampered, missing record, revoked, expired", async () => {
    const { tokens, store, now } = world();
    const made = await tokens.create({ pfs: "p", rights: ["read"], ttlSeconds: 60 });
    const [head, kid, id, mac] = made.token.split(".") as [string, string, string, string];
    const other = await world().tokens.create({ pfs: "p", rights: ["admin"] });
    for (const bad of [
      "",
      "nonsense",
      `${made.token}x`,
      `${head}.${kid}.${id}.${mac.slice(1)}A`,
      `${head}.${kid}.${id}`,
      other.token,
    ]) {
      expect(is401(await failureOf(tokens.verify(bad))), bad).toBe(true);
    }
    const gone = await tokens.create({ pfs: "p", rights: ["read"] });
    await store.delete({ pk: "tokens", sk: gone.id });
    expect((await failureOf(tokens.verify(gone.token))).message).toMatch(/not known/);
    await tokens.revoke(made.id);
    expect((await failureOf(tokens.verify(made.token))).message).toMatch(/revoked/);
    const short = await tokens.create({ pfs: "p", rights: ["read"], ttlSeconds: 1 });
    now.t += 1000;
    const expired = await failureOf(tokens.verify(short.token));
    expect(is401(expired) && expired.message).toMatch(/expired/);
  });

  it("an old strata1 token is refused with a message to mint a new one", async () => {
    const { tokens } = world();
    const payload = Buffer.from(
      JSON.stringify({ id: "x", pfs: "*", prefix: "/", rights: ["admin"], exp: 9e9 }),
    );
    const err = await failureOf(tokens.verify(`strata1.${payload.toString("base64url")}.AAAA`));
    expect(is401(err)).toBe(true);
    expect(err.message).toMatch(/strata1.*no longer accepted.*strata token create/);
  });

  it("property: no edit of a token's text verifies to any scope but its own record's (fixed seed)", async () => {
    const { tokens } = world();
    const made = await Promise.all(
      [
        { pfs: "p", prefix: "/a", rights: ["read"] as const },
        { pfs: "*", rights: ["admin"] as const },
        { pfs: "q", prefix: "/b", rights: ["write"] as const },
      ].map((s) => tokens.create({ ...s, rights: [...s.rights] })),
    );
    const alphabet = "ABCabc019-_.";
    await fc.assert(
      fc.asyncProperty(
        fc.nat(made.length - 1),
        fc.array(
          fc.tuple(fc.nat(200), fc.constantFrom(...alphabet), fc.constantFrom("set", "insert", "delete")),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        async (which, edits) => {
          let text = made[which]!.token;
          for (const [at, ch, kind] of edits) {
            const i = at % (text.length + 1);
            if (kind === "set") text = text.slice(0, i) + ch + text.slice(i + 1);
            else if (kind === "insert") text = text.slice(0, i) + ch + text.slice(i);
            else text = text.slice(0, i) + text.slice(i + 1);
          }
          const result = await tokens.verify(text).catch((err: StrataError) => err);
          if (result instanceof Error) return is401(result);
          // Accepted only if the edit left the text the same token (e.g. an edit undone).
          return text === made[which]!.token && result.tokenId === made[which]!.id;
        },
      ),
      { seed: 1313, numRuns: 400 },
    );
  });

  it("counter-check: whoever holds the key CAN point a token at another record (the MAC is the barrier)", async () => {
    const key = newKey();
    const { tokens } = world(staticKeyRing(formatKeyRing({ keys: [key] }), "test"));
    const reader = await tokens.create({ pfs: "p", prefix: "/a", rights: ["read"] });
    const admin = await tokens.create({ pfs: "*", rights: ["admin"] });
    const signed = `strata2.${key.id}.${admin.id}`;
    const forged = `${signed}.${createHmac("sha256", key.secret).update(signed).digest("base64url")}`;
    expect(forged).not.toBe(reader.token);
    expect(await tokens.verify(forged)).toMatchObject({ pfs: "*", rights: ["admin"] });
  });
});

describe("key rotation", () => {
  it("rotate keeps the old key verifying; retire makes its tokens 401; blob keys follow", async () => {
    const { tokens } = world();
    const before = await tokens.create({ pfs: "p", rights: ["read"] });
    const oldKid = before.token.split(".")[1]!;
    const blobBefore = await tokens.derivedKey("local-blob-urls");
    const rotated = await tokens.rotateKey();
    expect(rotated.active).toEqual([rotated.current, oldKid]);
    const after = await tokens.create({ pfs: "p", rights: ["read"] });
    expect(after.token.split(".")[1]).toBe(rotated.current);
    // Two active keys: both tokens work (this is also the counter-check for the retirement below).
    expect((await tokens.verify(before.token)).tokenId).toBe(before.id);
    expect((await tokens.verify(after.token)).tokenId).toBe(after.id);
    expect(await tokens.derivedKey("local-blob-urls", blobBefore!.id)).toEqual(blobBefore);

    const retired = await tokens.retireKeys();
    expect(retired.active).toEqual([rotated.current]);
    const err = await failureOf(tokens.verify(before.token));
    expect(is401(err) && err.message).toMatch(/does not hold/);
    expect((await tokens.verify(after.token)).tokenId).toBe(after.id);
    expect(await tokens.derivedKey("local-blob-urls", blobBefore!.id)).toBeUndefined();
  });

  it("a retried keyed rotation (lost reply) adds no second key: the caller's own token keeps verifying", async () => {
    const { tokens } = world();
    const admin = await tokens.create({ pfs: "*", rights: ["admin"] });
    const first = await tokens.rotateKey({ idFrom: `${admin.id}\u0000key-1` });
    const again = await tokens.rotateKey({ idFrom: `${admin.id}\u0000key-1` });
    expect(again).toEqual(first);
    expect((await tokens.verify(admin.token)).tokenId).toBe(admin.id);
    // Another request (another key) is a real rotation: the admin's key is now the oldest kept.
    const other = await tokens.rotateKey({ idFrom: `${admin.id}\u0000key-2` });
    expect(other.current).not.toBe(first.current);
    expect(other.active).toEqual([other.current, first.current]);
  });

  it("counter-check: the same retry without the request's key rotates twice and locks its caller out", async () => {
    const { tokens } = world();
    const admin = await tokens.create({ pfs: "*", rights: ["admin"] });
    await tokens.rotateKey();
    await tokens.rotateKey();
    const err = await failureOf(tokens.verify(admin.token));
    expect(is401(err)).toBe(true);
  });

  it("a fixed ring (STRATA_TOKEN_KEYS) refuses to rotate from the server, saying how", async () => {
    const { tokens } = world(staticKeyRing(formatKeyRing({ keys: [newKey()] }), "STRATA_TOKEN_KEYS"));
    const err = await failureOf(tokens.rotateKey());
    expect(err.code).toBe("ENOTSUP");
    expect(err.message).toMatch(/STRATA_TOKEN_KEYS.*new key in front/);
  });

  it("a ring's text round-trips, and bad text is EINVAL without echoing the secret", () => {
    const ring = { keys: [newKey(), newKey()] };
    expect(parseKeyRing(formatKeyRing(ring), "t")).toEqual(ring);
    for (const bad of [
      "",
      "k1",
      "k1:c2hvcnQ",
      "k.1:" + "A".repeat(43),
      `a:${"A".repeat(43)},a:${"B".repeat(43)}`,
    ]) {
      let err: unknown;
      try {
        parseKeyRing(bad, "t");
      } catch (e) {
        err = e;
      }
      expect(isStrataError(err, "EINVAL"), bad).toBe(true);
      expect((err as Error).message).not.toContain("A".repeat(43));
    }
  });

  it("open deletes the deployment#secret item older versions kept in the table", async () => {
    const store = new MemoryMetadataStore();
    await store.put({ ...LEGACY_SECRET_KEY, secret: new Uint8Array(32).fill(1) });
    await TokenService.open(store, memoryKeyRing());
    expect(await store.get(LEGACY_SECRET_KEY)).toBeUndefined();
  });
});

describe("a keyed token.create derives its id (adapters/auth/tokens.ts `idFrom`)", () => {
  const spec = { pfs: "p", prefix: "/a", rights: ["read" as const], ttlSeconds: 60, label: "ci" };

  it("the same idFrom and spec gives the same token string and one record, even after a key rotation", async () => {
    const { tokens, now } = world();
    const first = await tokens.create(spec, { idFrom: "caller\u0000key-1" });
    await tokens.rotateKey();
    now.t += 5_000;
    const again = await tokens.create(spec, { idFrom: "caller\u0000key-1" });
    expect(again).toEqual(first);
    expect((await tokens.list()).length).toBe(1);
    expect((await tokens.verify(again.token)).tokenId).toBe(first.id);
    expect(first.token.split(".").length).toBe(4);
  });

  it("another spec with the same idFrom is EEXIST; another idFrom is another token", async () => {
    const { tokens } = world();
    const first = await tokens.create(spec, { idFrom: "caller\u0000key-1" });
    const err = await failureOf(
      tokens.create({ ...spec, rights: ["write"] }, { idFrom: "caller\u0000key-1" }),
    );
    expect(isStrataError(err, "EEXIST")).toBe(true);
    expect((await tokens.create(spec, { idFrom: "caller\u0000key-2" })).token).not.toBe(first.token);
  });

  it("counter-check: without idFrom the same call mints a second token", async () => {
    const { tokens } = world();
    const a = await tokens.create(spec);
    const b = await tokens.create(spec);
    expect(b.token).not.toBe(a.token);
    expect((await tokens.list()).length).toBe(2);
  });
});
