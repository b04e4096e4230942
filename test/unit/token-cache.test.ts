/**
 * The API's verified-token cache (adapters/auth/tokens.ts `verify(token, { maxAgeMs })`): a token
 * verified less than TOKEN_CACHE_MS ago is trusted without reading its record, and revocation
 * still holds — at once for a revocation through the same service, within TOKEN_CACHE_MS for one
 * by another process (another service over the same table). Time is an injected clock.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { memoryKeyRing } from "../../adapters/auth/keys.ts";
import { TOKEN_CACHE_MS, TokenService, type TokenServiceOptions } from "../../adapters/auth/tokens.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { Item, Key } from "../../core/metadata/port.ts";
import { codeOf, failureOf } from "../support/errors.ts";

const T0 = Date.parse("2030-01-01T00:00:00Z");
const CACHED = { maxAgeMs: TOKEN_CACHE_MS };

/** Two services over one table and one key ring: this process (`here`) and another one (`there`). */
function world(options: TokenServiceOptions = {}) {
  const now = { t: T0 };
  const store = new MemoryMetadataStore();
  const keys = memoryKeyRing();
  return {
    now,
    store,
    here: new TokenService(store, keys, () => now.t, options),
    there: new TokenService(store, keys, () => now.t),
  };
}

const recordReads = (store: MemoryMetadataStore) => store.requestCounts().GetItem;

describe("verified-token cache", () => {
  it("a token verified < maxAgeMs ago is answered without reading its record; without maxAgeMs every call reads", async () => {
    const { store, here, now } = world();
    const made = await here.create({ pfs: "p", prefix: "/a", rights: ["read"], ttlSeconds: 600 });
    await here.verify(made.token, CACHED);
    const reads = recordReads(store);
    now.t += TOKEN_CACHE_MS - 1;
    expect(await here.verify(made.token, CACHED)).toMatchObject({ tokenId: made.id, prefix: "/a" });
    expect(recordReads(store)).toBe(reads);
    // Counter-check: the uncached path (every direct caller's) reads the record each time.
    await here.verify(made.token);
    expect(recordReads(store)).toBe(reads + 1);
    // Past the bound the record is read again.
    now.t += 1;
    await here.verify(made.token, CACHED);
    expect(recordReads(store)).toBe(reads + 2);
  });

  it("a cached token still expires on time: expiry is checked against the clock on every hit", async () => {
    const { here, now } = world();
    const made = await here.create({ pfs: "p", rights: ["read"], ttlSeconds: 2 });
    await here.verify(made.token, { maxAgeMs: 60_000 });
    now.t = Date.parse(made.expiresAt) - 1;
    expect(await codeOf(here.verify(made.token, { maxAgeMs: 60_000 }))).toBe("ok");
    now.t += 1;
    expect((await failureOf(here.verify(made.token, { maxAgeMs: 60_000 }))).message).toMatch(/expired/);
  });

  /**
   * Random interleavings of verifies (cached) in both processes, revocations from either, and
   * clock steps. The invariant: after a revocation through `here`, `here` refuses the token on
   * its next call; after one through `there` at time r, `here` refuses it at any time ≥ r +
   * TOKEN_CACHE_MS; `there` (no cache in this test) refuses it at once.
   */
  async function revocationHolds(options: TokenServiceOptions): Promise<void> {
    const step = fc.oneof(
      fc.constant({ kind: "verify-here" as const }),
      fc.constant({ kind: "verify-there" as const }),
      fc.record({ kind: fc.constant("revoke" as const), by: fc.constantFrom("here", "there") }),
      fc.record({ kind: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 1500 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 20 }), async (steps) => {
        const w = world(options);
        const made = await w.here.create({ pfs: "p", rights: ["read"], ttlSeconds: 3600 });
        let revokedHereAt: number | undefined;
        let revokedThereAt: number | undefined;
        for (const s of steps) {
          if (s.kind === "tick") w.now.t += s.ms;
          else if (s.kind === "revoke") {
            if (revokedHereAt !== undefined || revokedThereAt !== undefined) continue;
            if (s.by === "here") {
              await w.here.revoke(made.id);
              revokedHereAt = w.now.t;
            } else {
              await w.there.revoke(made.id);
              revokedThereAt = w.now.t;
            }
          } else if (s.kind === "verify-there") {
            const code = await codeOf(w.there.verify(made.token));
            const revoked = revokedHereAt !== undefined || revokedThereAt !== undefined;
            expect(code).toBe(revoked ? "EACCES" : "ok");
          } else {
            const code = await codeOf(w.here.verify(made.token, CACHED));
            if (revokedHereAt !== undefined) expect(code, "revoked here").toBe("EACCES");
            else if (revokedThereAt !== undefined && w.now.t >= revokedThereAt + TOKEN_CACHE_MS)
              expect(code, "revoked elsewhere, past the bound").toBe("EACCES");
            else if (revokedThereAt === undefined) expect(code).toBe("ok");
          }
        }
      }),
      { seed: 1515, numRuns: 300 },
    );
  }

  it("property: a revocation here refuses at once; one by another process within TOKEN_CACHE_MS (fixed seed)", async () => {
    await revocationHolds({});
  });

  it("counter-check: with the cache's revocation path disabled, a token revoked here keeps verifying", async () => {
    // fast-check finds (and shrinks to) verify here → revoke here → verify here, accepted.
    await expect(revocationHolds({ testOnlyKeepCacheOnRevoke: true })).rejects.toThrow(
      /Property failed[\s\S]*"by":"here"/,
    );
    // And the plain case, spelled out: cached, revoked through the same service, same instant.
    const { here } = world({ testOnlyKeepCacheOnRevoke: true });
    const made = await here.create({ pfs: "p", rights: ["read"], ttlSeconds: 60 });
    await here.verify(made.token, CACHED);
    await here.revoke(made.id);
    expect(await codeOf(here.verify(made.token, CACHED))).toBe("ok");
    expect(await codeOf(here.verify(made.token))).toBe("EACCES"); // the record says revoked
  });

  it("counter-check of the bound: trusting a verified token longer than TOKEN_CACHE_MS accepts a token revoked elsewhere past it", async () => {
    const { here, there, now } = world();
    const made = await here.create({ pfs: "p", rights: ["read"], ttlSeconds: 60 });
    await here.verify(made.token, { maxAgeMs: 10 * TOKEN_CACHE_MS });
    await there.revoke(made.id);
    now.t += TOKEN_CACHE_MS;
    expect(await codeOf(here.verify(made.token, { maxAgeMs: 10 * TOKEN_CACHE_MS }))).toBe("ok");
    expect(await codeOf(here.verify(made.token, CACHED))).toBe("EACCES");
  });

  /** A store whose token-record reads wait for `release` while `hold` is set. */
  class GatedStore extends MemoryMetadataStore {
    hold = false;
    private waiting: Array<() => void> = [];
    readonly reached: Promise<void>;
    private reach!: () => void;
    constructor() {
      super();
      this.reached = new Promise((resolve) => (this.reach = resolve));
    }
    override async get(key: Key): Promise<Item | undefined> {
      const item = await super.get(key);
      if (this.hold && key.pk === "tokens") {
        this.hold = false;
        this.reach();
        await new Promise<void>((resolve) => this.waiting.push(resolve));
      }
      return item;
    }
    release(): void {
      for (const go of this.waiting.splice(0)) go();
    }
  }

  async function raceRevoke(options: TokenServiceOptions): Promise<string> {
    const store = new GatedStore();
    const now = { t: T0 };
    const tokens = new TokenService(store, memoryKeyRing(), () => now.t, options);
    const made = await tokens.create({ pfs: "p", rights: ["read"], ttlSeconds: 60 });
    // A verify reads the record (not revoked yet) and is held; the revocation completes meanwhile.
    store.hold = true;
    const inFlight = tokens.verify(made.token, CACHED);
    await store.reached;
    const revoking = tokens.revoke(made.id);
    await new Promise((resolve) => setImmediate(resolve)); // revoke's own record read is not held
    store.release();
    await revoking;
    expect(await codeOf(inFlight)).toBe("ok"); // it read before the revocation, like an uncached verify
    return codeOf(tokens.verify(made.token, CACHED));
  }

  it("a verify that read the record before a revocation here does not put it in the cache", async () => {
    expect(await raceRevoke({})).toBe("EACCES");
  });

  it("counter-check: with the cache's revocation path disabled, that in-flight read is cached and the revoked token verifies", async () => {
    expect(await raceRevoke({ testOnlyKeepCacheOnRevoke: true })).toBe("ok");
  });
});
