import { describe, expect, it } from "vitest";
import { strataError } from "../../core/errors.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { TransactOp } from "../../core/metadata/port.ts";
import {
  dateToTid,
  HybridClock,
  invertTid,
  isTid,
  makeTid,
  nextTid,
  tidToDate,
} from "../../core/namespace/tid.ts";
import { codeOf, setup } from "./namespace-helpers.ts";

describe("TIDs", () => {
  it("are 16 hex digits whose string order is numeric order", () => {
    const a = makeTid(1000, 0xffff);
    const b = makeTid(1001, 0);
    expect(isTid(a) && isTid(b)).toBe(true);
    expect(a < b).toBe(true);
    expect(nextTid(a)).toBe(b);
    expect(invertTid(a) > invertTid(b)).toBe(true);
    expect(invertTid(invertTid(a))).toBe(a);
  });

  it("convert to and from wall time; dateToTid is the last TID of that millisecond", () => {
    const d = new Date(Date.UTC(2026, 10, 21, 5, 0, 0, 123));
    expect(tidToDate(dateToTid(d)).getTime()).toBe(d.getTime());
    expect(dateToTid(d)).toBe(makeTid(d.getTime(), 0xffff));
    expect(() => dateToTid(new Date(Number.NaN))).toThrow(/outside/);
  });

  it("the hybrid clock never goes backwards, even when the wall clock does", () => {
    let now = 5000;
    const hlc = new HybridClock(() => now);
    const t1 = hlc.next();
    now = 4000;
    const t2 = hlc.next();
    expect(t2 > t1).toBe(true);
    hlc.observe(makeTid(9000, 7));
    const t3 = hlc.next();
    expect(t3).toBe(makeTid(9000, 8));
    now = 10_000;
    expect(hlc.next()).toBe(makeTid(10_000, 0));
  });

  it("the logical counter overflows into the next millisecond", () => {
    const hlc = new HybridClock(() => 1);
    hlc.observe(makeTid(1, 0xffff));
    expect(hlc.next()).toBe(makeTid(2, 0));
  });
});

/** A memory store whose transactions lose a race `failures` times (TransactionConflict). */
class ConflictingStore extends MemoryMetadataStore {
  failures = 0;
  override async transact(ops: TransactOp[]): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw strataError("ECONFLICT", "transaction cancelled", {
        reasons: ops.map(() => ({ code: "TransactionConflict" })),
        failedIndex: 0,
      });
    }
    return super.transact(ops);
  }
}

describe("write retries", () => {
  it("re-plans after a lost race and succeeds within the attempt budget", async () => {
    const store = new ConflictingStore();
    const sleeps: number[] = [];
    const { fs } = await setup({ store, options: { sleep: async (ms) => void sleeps.push(ms) } });
    store.failures = 3;
    await fs.create("/f");
    expect(sleeps.length).toBe(3);
    expect((await fs.stat("/f")).type).toBe("file");
  });

  it("gives up with ECONFLICT after maxAttempts, writing nothing", async () => {
    const store = new ConflictingStore();
    const sleeps: number[] = [];
    const { fs } = await setup({
      store,
      options: { maxAttempts: 4, sleep: async (ms) => void sleeps.push(ms) },
    });
    store.failures = 100;
    expect(await codeOf(fs.create("/f"))).toBe("ECONFLICT");
    expect(sleeps.length).toBe(3);
    // Backoff grows and is jittered.
    expect(sleeps[2]! > sleeps[0]!).toBe(true);
    store.failures = 0;
    expect((await fs.readdir("/")).entries).toEqual([]);
  });
});
