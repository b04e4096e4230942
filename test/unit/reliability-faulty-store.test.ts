import { describe, expect, it } from "vitest";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { failureOf } from "../support/errors.ts";
import { CrashError, faultyStore } from "../support/faulty-store.ts";

const key = { pk: "p", sk: "a" };

describe("faultyStore (test/support/faulty-store.ts)", () => {
  it("error, throttle, unavailable and timeout fail before the call: nothing applied", async () => {
    const inner = new MemoryMetadataStore();
    for (const fault of ["error", "throttle", "unavailable", "timeout"] as const) {
      const store = faultyStore(inner, { put: { fault, times: 1 } });
      const err = await failureOf(store.put({ ...key, v: fault }));
      expect(err.code).toBe(
        { error: "EIO", throttle: "ETHROTTLED", unavailable: "EUNAVAIL", timeout: "ETIMEDOUT" }[fault],
      );
      expect(await inner.get(key)).toBeUndefined();
      await store.put({ ...key, v: 1 }); // times: 1 — the next call goes through
      await inner.delete(key);
      expect(store.injected.byKind[fault]).toBe(1);
    }
  });

  it("lostReply applies the write, then throws ETIMEDOUT", async () => {
    const inner = new MemoryMetadataStore();
    const store = faultyStore(inner, { transact: { fault: "lostReply" } });
    const err = await failureOf(store.transact([{ kind: "put", item: { ...key, v: 2 } }]));
    expect(err.code).toBe("ETIMEDOUT");
    expect((await inner.get(key))?.v).toBe(2);
    expect(store.log.map((c) => c.outcome)).toEqual(["lostReply"]);
  });

  it("a crash point before a call: not applied, and the process is dead afterwards", async () => {
    const inner = new MemoryMetadataStore();
    const store = faultyStore(inner, { crashAt: { call: 1, when: "before" } });
    await store.put({ ...key, v: 1 });
    await expect(store.put({ ...key, v: 2 })).rejects.toBeInstanceOf(CrashError);
    expect((await inner.get(key))?.v).toBe(1);
    await expect(store.get(key)).rejects.toBeInstanceOf(CrashError);
    expect(store.crashed).toBe(true);
  });

  it("a crash point after a call: applied, reply lost, dead afterwards", async () => {
    const inner = new MemoryMetadataStore();
    const store = faultyStore(inner, { crashAt: { call: 0, when: "after" } });
    await expect(store.put({ ...key, v: 3 })).rejects.toBeInstanceOf(CrashError);
    expect((await inner.get(key))?.v).toBe(3);
    await expect(store.put({ ...key, v: 4 })).rejects.toBeInstanceOf(CrashError);
    expect((await inner.get(key))?.v).toBe(3);
  });

  it("probability draws are seeded: the same seed fails the same calls", async () => {
    const pattern = async (seed: number) => {
      const store = faultyStore(new MemoryMetadataStore(), {
        seed,
        get: { fault: "throttle", probability: 0.5 },
      });
      const out: boolean[] = [];
      for (let i = 0; i < 32; i++)
        out.push(
          await store.get(key).then(
            () => true,
            () => false,
          ),
        );
      return out;
    };
    expect(await pattern(5)).toEqual(await pattern(5));
    expect(await pattern(5)).not.toEqual(await pattern(6));
  });
});
