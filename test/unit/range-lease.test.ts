/**
 * Floor leases (core/retention/lease.ts) for range readers: a stream page (the mirror's read, so
 * mirror runs, backups and `mirror.read`) reads the records of every commit after `since`; an
 * applying vacuum with an aggressive retention that runs while the page is being read must not
 * prune a version the page then reads. Deterministic: one fake clock, and the page read is held
 * at its first change-index Query (after its watermark check) while the vacuum runs to the end.
 * The counter-check runs the same interleaving without the floor lease (test-only switch) and
 * sees the page lose the pruned versions (EPRUNED: "history record … is gone").
 */
import { afterEach, describe, expect, it } from "vitest";
import { isStrataError } from "../../core/errors.ts";
import { vacuum } from "../../core/maintenance/vacuum.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import { localSource } from "../../core/mirror/local-source.ts";
import { createMirror, runMirror } from "../../core/mirror/mirror.ts";
import { readStream } from "../../core/mirror/stream.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { liveLeases, UNSAFE_LEASE_SWITCHES } from "../../core/retention/lease.ts";
import { pfsId, setRetention } from "../../core/retention/store.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { fixedRegistry } from "../../core/volume/registry.ts";
import { Volume } from "../../core/volume/volume.ts";

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
const bytes = (text: string) => ({ size: text.length, inline: new TextEncoder().encode(text) });

afterEach(() => {
  UNSAFE_LEASE_SWITCHES.noFloorLease = false;
});

/**
 * PFS p: /f written at T (the reader's `since`), then rewritten 5 times a minute apart; two hours
 * later every intermediate version is outside "all 1h". `during` runs (once) when the store sees
 * the first change-index Query — the page read, past its watermark check.
 */
async function world() {
  const base = new MemoryMetadataStore();
  let during: (() => Promise<void>) | undefined;
  const store = new Proxy(base, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop !== "query" || typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        if (during && String(args[0]).startsWith("chg#")) {
          const run = during;
          during = undefined;
          await run();
        }
        return value.apply(target, args);
      };
    },
  }) as MetadataStore;
  const clock = { now: T0 };
  const now = () => clock.now;
  const ns = createNamespace({ store, clock: now, options: { sleep: async () => {} } });
  await ns.createPfs("p");
  const fs = ns.pfs("p");
  await setRetention(base, "p", "all 1h", now);
  await fs.create("/f", { content: bytes("v0") });
  const since = await fs.currentTid();
  for (let i = 1; i <= 5; i++) {
    clock.now += MIN;
    await fs.writeContent("/f", bytes(`v${i}`));
  }
  clock.now += 2 * HOUR;
  const runVacuum = () =>
    vacuum({
      store: base,
      namespace: ns,
      volumes: fixedRegistry({}),
      apply: true,
      clock: now,
      readerGraceMs: 0,
      sleep: async (ms) => {
        clock.now += ms;
      },
    });
  return {
    base,
    ns,
    since,
    runVacuum,
    pauseReadFor: (body: () => Promise<void>) => {
      during = body;
    },
  };
}

async function outcome<T>(p: Promise<T>): Promise<{ ok: T } | { code: string; message: string }> {
  try {
    return { ok: await p };
  } catch (err) {
    if (isStrataError(err)) return { code: err.code, message: err.message };
    throw err;
  }
}

describe("floor leases: range readers against an applying vacuum", () => {
  it("a stream page read while a vacuum applies still has every version after `since`", async () => {
    const w = await world();
    const undisturbed = await readStream(w.ns, "p", { since: w.since });
    let pruned = -1;
    w.pauseReadFor(async () => {
      pruned = (await w.runVacuum()).records.count;
    });
    const page = await readStream(w.ns, "p", { since: w.since });
    expect(pruned).toBe(0); // the vacuum ran inside the read and kept the page's versions
    expect(page.records).toEqual(undisturbed.records);
    // The lease is gone with the page: the next vacuum prunes the versions no point keeps.
    const { id } = await pfsId(w.base, "p");
    expect((await liveLeases(w.base, id, Date.now() + 10 * HOUR, 0)).floor).toBeUndefined();
    expect((await w.runVacuum()).records.count).toBeGreaterThan(0);
  });

  for (const lease of [true, false])
    it(`${lease ? "" : "counter-check: without the floor lease "}a mirror run whose source is vacuumed during its read ${lease ? "stays incremental" : "loses the versions and falls back to a full comparison"}`, async () => {
      UNSAFE_LEASE_SWITCHES.noFloorLease = !lease;
      const w = await world();
      const source = localSource({ ns: w.ns, pfs: "p", store: w.base, volumes: fixedRegistry({}) });
      const target = {
        ns: createNamespace({ store: new MemoryMetadataStore() }),
        volumes: fixedRegistry({ m: new Volume(new MemoryVolumeDriver("m")) }),
      };
      await createMirror(target, { name: "copy", source, volumes: ["m"] });
      await runMirror(target, "copy", source, { upto: w.since }); // a mirror synced up to `since`
      w.pauseReadFor(async () => {
        await w.runVacuum();
      });
      const report = await runMirror(target, "copy", source);
      expect(report.mode).toBe(lease ? "incremental" : "full");
      if (lease) expect(report.commits).toBe(5);
      const st = await target.ns.pfs("copy").stat("/f");
      expect(new TextDecoder().decode(st.content?.inline)).toBe("v5");
    });

  it("counter-check: without the floor lease the vacuum prunes versions the page then reads", async () => {
    UNSAFE_LEASE_SWITCHES.noFloorLease = true;
    const w = await world();
    let pruned = -1;
    w.pauseReadFor(async () => {
      pruned = (await w.runVacuum()).records.count;
    });
    const page = await outcome(readStream(w.ns, "p", { since: w.since }));
    expect(pruned).toBeGreaterThan(0);
    expect(page).toMatchObject({ code: "EPRUNED" });
    expect((page as { message: string }).message).toMatch(/is gone \(pruned\)|no longer has the state/);
  });
});
