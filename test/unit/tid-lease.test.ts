/**
 * TID leases (core/retention/lease.ts): a long reader of history — a revert, a snapshot at a past
 * TID — paused mid-way while an applying vacuum with an aggressive retention runs still sees
 * complete history (memory and SQLite). Deterministic: one fake clock, and the reader is stopped at one exact store
 * call (a gate) while vacuum runs to completion. The counter-checks run the same interleavings
 * with the leases switched off (`tidLeases: false`, test only) and see pruned history.
 */
import { afterAll, describe, expect, it } from "vitest";
import { SqliteMetadataStore } from "../../adapters/metadata/sqlite.ts";
import { isStrataError } from "../../core/errors.ts";
import { vacuum } from "../../core/maintenance/vacuum.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import type { FileSystem, Namespace } from "../../core/namespace/api.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { LEASE_TTL_MS, liveLeaseTids, takeLease } from "../../core/retention/lease.ts";
import { pfsId, setRetention } from "../../core/retention/store.ts";
import { fixedRegistry } from "../../core/volume/registry.ts";

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);
type Backend = "memory" | "sqlite";
const opened: MetadataStore[] = [];
afterAll(async () => {
  for (const store of opened.splice(0)) await store.close();
});
const MIN = 60_000;
const HOUR = 60 * MIN;

type Call = { method: string; args: unknown[] };

/** The store, with one call that can be held back: `pauseAt(match)` stops the first matching call. */
function gated(store: MetadataStore) {
  let trap: ((call: Call) => boolean) | undefined;
  let onHit = () => {};
  let held: Promise<void> = Promise.resolve();
  const methods = new Set(["get", "put", "update", "delete", "query", "batchGet", "transact", "transactGet"]);
  const proxy = new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function" || !methods.has(String(prop))) return value;
      return async (...args: unknown[]) => {
        if (trap?.({ method: String(prop), args })) {
          trap = undefined;
          onHit();
          await held;
        }
        return value.apply(target, args);
      };
    },
  });
  return {
    store: proxy,
    pauseAt(match: (call: Call) => boolean) {
      let release = () => {};
      held = new Promise<void>((r) => {
        release = r;
      });
      const reached = new Promise<void>((r) => {
        onHit = r;
      });
      trap = match;
      return { reached, release };
    },
  };
}

const bytes = (text: string) => ({ size: text.length, inline: new TextEncoder().encode(text) });
const text = (st: { content?: { inline?: Uint8Array } }) => new TextDecoder().decode(st.content?.inline);

/**
 * /d/f is "v1" at T; then "v2", /d renamed to /e, and a file churned (history nobody keeps); two
 * hours later T is outside "all 1h": an applying vacuum prunes what no kept point sees.
 */
async function world(tidLeases: boolean, backend: Backend = "memory") {
  const base: MetadataStore =
    backend === "memory" ? new MemoryMetadataStore() : new SqliteMetadataStore({ path: ":memory:" });
  opened.push(base);
  const gate = gated(base);
  const clock = { now: T0 };
  const now = () => clock.now;
  const ns: Namespace = createNamespace({
    store: gate.store,
    clock: now,
    options: { tidLeases, sleep: async () => {} },
  });
  await ns.createPfs("p");
  const fs: FileSystem = ns.pfs("p");
  await setRetention(base, "p", "all 1h", now);
  await fs.mkdir("/d");
  await fs.create("/d/f", { content: bytes("v1") });
  const t = await fs.currentTid();
  clock.now += MIN;
  await fs.writeContent("/d/f", bytes("v2"));
  await fs.rename("/d", "/e");
  await fs.create("/g", { content: bytes("g1") });
  await fs.writeContent("/g", bytes("g2"));
  await fs.writeContent("/g", bytes("g3"));
  clock.now += 2 * HOUR;
  const runVacuum = (options: { readerGraceMs?: number } = {}) =>
    vacuum({
      ...options,
      store: base,
      namespace: ns,
      volumes: fixedRegistry({}),
      apply: true,
      clock: now,
      sleep: async (ms) => {
        clock.now += ms;
      },
    });
  return { base, gate, clock, fs, t, runVacuum };
}

/** An as-of inode read (AsOfReader.inode): the history a long reader needs. */
const asOfVersionRead = ({ method, args }: Call) =>
  method === "query" &&
  String(args[0]).startsWith("ino#") &&
  (args[1] as { sk?: { op?: string } } | undefined)?.sk?.op === "between";

const snapshotWrite = ({ method, args }: Call) =>
  method === "put" && String((args[0] as { pk: string }).pk).startsWith("snap#");

async function outcome<T>(p: Promise<T>): Promise<{ ok: T } | { code: string }> {
  try {
    return { ok: await p };
  } catch (err) {
    if (isStrataError(err)) return { code: err.code };
    throw err;
  }
}

describe.each(["memory", "sqlite"] as const)(
  "TID leases on %s: long readers against an applying vacuum",
  (backend) => {
    async function revertPausedAcrossVacuum(tidLeases: boolean) {
      const w = await world(tidLeases, backend);
      const pause = w.gate.pauseAt(asOfVersionRead);
      const reverting = outcome(w.fs.revert("/e/f", w.t));
      await pause.reached; // the revert holds its TID (and, with leases, its lease) and reads history next
      const report = await w.runVacuum();
      pause.release();
      return { w, report, result: await reverting };
    }

    it("a revert paused mid-way across an applying vacuum reads complete history (the lease pins its TID)", async () => {
      const { w, report, result } = await revertPausedAcrossVacuum(true);
      expect(report.complete).toBe(true);
      expect(report.records.count).toBeGreaterThan(0); // vacuum did prune (the churn of /g)
      expect("ok" in result).toBe(true);
      expect(text(await w.fs.stat("/e/f"))).toBe("v1");
      // Released when done: the next vacuum sees no lease.
      const { id } = await pfsId(w.base, "p");
      expect(await liveLeaseTids(w.base, id, w.clock.now, 0)).toEqual([]);
    });

    it("counter-check: without the lease the same interleaving meets half-pruned history", async () => {
      const { w, report, result } = await revertPausedAcrossVacuum(false);
      expect(report.complete).toBe(true);
      // The version of /e/f at T was pruned under the reader: it is refused (or worse), never "v1".
      expect(result).not.toHaveProperty("ok");
      expect(["ENOENT", "EPRUNED"]).toContain((result as { code: string }).code);
      expect(text(await w.fs.stat("/e/f"))).toBe("v2");
    });

    async function snapshotPausedAcrossVacuum(tidLeases: boolean) {
      const w = await world(tidLeases, backend);
      const pause = w.gate.pauseAt(snapshotWrite);
      const creating = outcome(w.fs.createSnapshot("at-t", { asOf: w.t }));
      await pause.reached; // the TID is chosen; the snapshot record is not written yet
      await w.runVacuum();
      pause.release();
      const created = await creating;
      return { w, created, read: await outcome(w.fs.asOf({ snapshot: "at-t" }).stat("/d/f")) };
    }

    it("a snapshot at a past TID, paused before its record is written across a vacuum, is complete", async () => {
      const { w, created, read } = await snapshotPausedAcrossVacuum(true);
      expect(created).toMatchObject({ ok: { name: "at-t", tid: w.t } });
      expect("ok" in read && text(read.ok)).toBe("v1");
      // Once written, the snapshot pins the point by itself: a later vacuum keeps it readable.
      w.clock.now += 2 * HOUR;
      await w.runVacuum();
      expect(text(await w.fs.asOf({ snapshot: "at-t" }).stat("/d/f"))).toBe("v1");
    });

    it("counter-check: without the lease that snapshot names pruned history", async () => {
      const { read } = await snapshotPausedAcrossVacuum(false);
      expect(read).toEqual({ code: "EPRUNED" });
    });
  },
);

describe("TID leases: a stale cached watermark", () => {
  async function revertAfterVacuumWithStaleCache(tidLeases: boolean) {
    const w = await world(tidLeases);
    await w.fs.stat("/d/f", { asOf: w.t }); // the engine caches "nothing pruned" for 5 s
    await w.runVacuum({ readerGraceMs: 0 }); // prunes T's history inside that window
    return outcome(w.fs.revert("/e/f", w.t));
  }

  it("a reader re-reads the watermark after taking its lease: EPRUNED, never an answer from pruned history", async () => {
    expect(await revertAfterVacuumWithStaleCache(true)).toEqual({ code: "EPRUNED" });
  });

  it("counter-check: without the lease's re-check the revert trusts the stale cache and answers wrongly", async () => {
    // The file's version at T is gone, so revert wrongly says the object did not exist then.
    expect(await revertAfterVacuumWithStaleCache(false)).toEqual({ code: "ENOENT" });
  });
});

describe("TID leases: the bound", () => {
  it("a holder that stops renewing loses its lease after the TTL; vacuum then prunes and drops the record", async () => {
    const w = await world(true);
    const { id } = await pfsId(w.base, "p");
    const clock = () => w.clock.now;
    const lease = await takeLease(w.base, { id, name: "p" }, w.t, { clock });
    expect(await liveLeaseTids(w.base, id, w.clock.now, MIN)).toEqual([w.t]);
    // Renewed while it works: still held well past one TTL.
    for (let i = 0; i < 6; i++) {
      w.clock.now += LEASE_TTL_MS / 2;
      await lease.keep();
    }
    expect(await liveLeaseTids(w.base, id, w.clock.now, MIN)).toEqual([w.t]);
    // The holder dies (no more renewals): after TTL + vacuum's skew bound the lease is gone.
    w.clock.now += LEASE_TTL_MS + MIN + 1;
    expect(await liveLeaseTids(w.base, id, w.clock.now, MIN)).toEqual([]);
    // A holder that comes back after that finds its lease lapsed and must not trust what it read.
    expect((await outcome(lease.keep())) as { code: string }).toEqual({ code: "ECONFLICT" });
    await w.runVacuum();
    expect(await outcome(w.fs.asOf(w.t).stat("/d/f"))).toEqual({ code: "EPRUNED" });
    expect((await w.base.query(`ret#${id}`, { sk: { op: "beginsWith", value: "lease#" } })).items).toEqual(
      [],
    );
  });
});
