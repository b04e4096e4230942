/**
 * The table's TTL (core/metadata/table.ts): DynamoDB deletes an item after the instant in its TTL
 * attribute, which must be a Number of epoch SECONDS. Every item that expires on its own —
 * intents, TID leases, idempotency records (engine and HTTP), tokens — carries it, in seconds,
 * at or after the time its own expiry field says (never before: the table must not delete what
 * the code still reads as live).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { memoryKeyRing } from "../../adapters/auth/keys.ts";
import { TokenService } from "../../adapters/auth/tokens.ts";
import { INTENT_TTL_GRACE_MS, intentItem } from "../../core/data/chunk-items.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { METADATA_TABLE, ttlAttribute } from "../../core/metadata/table.ts";
import { recordItem } from "../../core/namespace/idempotency.ts";
import { takeLease } from "../../core/retention/lease.ts";

const T0 = Date.parse("2030-01-01T00:00:00Z");
const ttlOf = (item: Record<string, unknown>) => item[METADATA_TABLE.ttlAttribute];

describe("TTL in epoch seconds", () => {
  it("the table's TTL attribute is `ttl`", () => {
    expect(METADATA_TABLE.ttlAttribute).toBe("ttl");
  });

  it("ttlAttribute turns any ms instant into whole epoch seconds at or after it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 253402300799999 }), (ms) => {
        const s = ttlAttribute(ms).ttl!;
        expect(Number.isInteger(s)).toBe(true);
        expect(s * 1000).toBeGreaterThanOrEqual(ms);
        expect(s * 1000 - ms).toBeLessThan(1000);
      }),
      { seed: 14, numRuns: 500 },
    );
    // "Never" (the embedded admin's 8.64e15) and nonsense carry no TTL.
    expect(ttlAttribute(8.64e15)).toEqual({});
    expect(ttlAttribute(Number.NaN)).toEqual({});
    expect(ttlAttribute(0)).toEqual({});
  });

  it("an intent carries seconds, long after its expiry (vacuum must still read it)", () => {
    const item = intentItem({
      pfs: "p",
      id: "x",
      path: "/a",
      volumes: ["v"],
      chunks: [],
      created: T0,
      expiresAt: T0 + 3600_000,
    });
    expect(item.expiresAt).toBe(T0 + 3600_000); // its own field keeps ms
    expect(ttlOf(item)).toBe((T0 + 3600_000 + INTENT_TTL_GRACE_MS) / 1000);
  });

  it("a TID lease and an engine idempotency record carry seconds after their expiry", async () => {
    const store = new MemoryMetadataStore();
    await takeLease(store, { id: "1", name: "p" }, "0000000000000001", { clock: () => T0, ttlMs: 60_000 });
    const [lease] = (await store.query("ret#1")).items;
    expect(ttlOf(lease!)).toBe((T0 + 60_000 + 3600_000) / 1000);
    const rec = recordItem("1", { key: "k".repeat(16), fingerprint: "f" }, undefined, "0000000000000001", T0);
    expect(ttlOf(rec)).toBeGreaterThanOrEqual(Number(rec.expiresAt));
    expect(Number.isInteger(ttlOf(rec))).toBe(true);
  });

  it("a token carries seconds a day after its expiry; its ISO `expiresAt` is unchanged", async () => {
    const store = new MemoryMetadataStore();
    const tokens = new TokenService(store, memoryKeyRing(), () => T0);
    const created = await tokens.create({ pfs: "p", rights: ["read"], ttlSeconds: 3600 });
    const [item] = (await store.query("tokens")).items.filter((i) => i.sk === created.id);
    expect(item!.expiresAt).toBe(created.expiresAt);
    expect(ttlOf(item!)).toBe((Date.parse(created.expiresAt) + 24 * 3600_000) / 1000);
  });
});
