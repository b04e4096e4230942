import { describe, expect, it } from "vitest";
import { isStrataError } from "../../core/errors.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { makeTid, tidMs } from "../../core/namespace/tid.ts";
import {
  boundaryTid,
  dueAt,
  nextWatermark,
  parsePolicy,
  retainedAt,
  snapToComplete,
  visibleAtAny,
} from "../../core/retention/policy.ts";
import { getRetention, setRetention } from "../../core/retention/store.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { bytesOf, CHUNK, maintenanceWorld } from "../support/maintenance.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

function einval(text: string): Record<string, unknown> {
  try {
    parsePolicy(text);
  } catch (err) {
    if (isStrataError(err, "EINVAL")) return { ...err.details, message: err.message };
    throw err;
  }
  throw new Error(`"${text}" parsed`);
}

describe("retention policy: parsing", () => {
  it("parses HAMMER-style rules and normalises them", () => {
    const p = parsePolicy("all 1h;hourly   1d; daily 30d; monthly 1y");
    expect(p.text).toBe("all 1h; hourly 1d; daily 30d; monthly 1y");
    expect(p.rules).toEqual([
      { every: "all", forMs: HOUR, duration: "1h" },
      { every: "hourly", forMs: DAY, duration: "1d" },
      { every: "daily", forMs: 30 * DAY, duration: "30d" },
      { every: "monthly", forMs: 365 * DAY, duration: "1y" },
    ]);
    expect(parsePolicy("").rules).toEqual([]);
    expect(parsePolicy("monthly forever").text).toBe("monthly forever");
    expect(einval("weekly forever")).toMatchObject({ rule: "weekly forever" });
  });

  it("names the bad rule in EINVAL", () => {
    expect(einval("all 1h; hurly 1d")).toMatchObject({ rule: "hurly 1d" });
    expect(einval("all 1x")).toMatchObject({ rule: "all 1x" });
    expect(einval("all")).toMatchObject({ rule: "all" });
    expect(einval("all 0h")).toMatchObject({ rule: "all 0h" });
    expect(einval("daily 1d; daily 2d")).toMatchObject({ rule: "daily 2d" });
    expect(einval("minutely 1y").message).toContain("at most");
  });
});

describe("retention policy: retained points and due times", () => {
  const p = parsePolicy("all 1h; hourly 1d; daily 3d");
  const now = Date.UTC(2026, 0, 5, 12, 30);

  it("keeps every point of the last hour and one per hour/day boundary", () => {
    const kept = retainedAt(p, now);
    expect(kept.exactFrom).toBe(makeTid(now - HOUR, 0));
    const hours = kept.points.filter((t) => tidMs(t) >= now - DAY);
    // Boundaries in (now - 1d, now - 1h]: 11:30 back to 12:30 yesterday → 23 hour starts.
    expect(hours.length).toBe(23);
    expect(kept.points).toContain(boundaryTid(Date.UTC(2026, 0, 3)));
    expect(kept.points).not.toContain(boundaryTid(Date.UTC(2026, 0, 2)));
    expect([...kept.points].sort()).toEqual(kept.points);
  });

  it("a record is due when the last point that sees it leaves its window", () => {
    // Lived 10:10–10:20 on Jan 5: no boundary inside → only the 'all 1h' window sees it.
    const c = makeTid(Date.UTC(2026, 0, 5, 10, 10), 0);
    const d = makeTid(Date.UTC(2026, 0, 5, 10, 20), 0);
    expect(dueAt(p, c, d)).toBe(Date.UTC(2026, 0, 5, 11, 20) + 1);
    // Lived across 10:00 → the hourly point 10:00 keeps it for a day.
    const c2 = makeTid(Date.UTC(2026, 0, 5, 9, 50), 0);
    expect(dueAt(p, c2, d)).toBe(Date.UTC(2026, 0, 6, 10, 0) + 1);
    // Across midnight → the daily point keeps it for 3 days.
    const c3 = makeTid(Date.UTC(2026, 0, 4, 23, 0), 0);
    expect(dueAt(p, c3, d)).toBe(Date.UTC(2026, 0, 8) + 1);
  });

  it("the watermark only shrinks: a point pruned once never comes back", () => {
    const w1 = nextWatermark(undefined, parsePolicy("all 1h"), now, [])!;
    expect(w1.points).toEqual([]);
    const w2 = nextWatermark(w1, parsePolicy("all 1h; hourly 1d"), now + MIN, [])!;
    // The hourly points below w1.exactFrom were pruned under "all 1h": not complete again.
    expect(w2.points).toEqual([]);
    expect(w2.exactFrom).toBe(
      w1.exactFrom > makeTid(now + MIN - HOUR, 0) ? w1.exactFrom : makeTid(now + MIN - HOUR, 0),
    );
    const snap = makeTid(now - 30 * MIN, 5);
    const w3 = nextWatermark(w2, parsePolicy("all 1m"), now + 2 * MIN, [snap])!;
    expect(w3.points).toEqual([snap]);
    expect(visibleAtAny(w3, [], makeTid(now - 40 * MIN, 0), makeTid(now - 20 * MIN, 0))).toBe(true);
    expect(visibleAtAny(w3, [], makeTid(now - 40 * MIN, 0), makeTid(now - 35 * MIN, 0))).toBe(false);
  });

  it("snaps a point in a coarse zone to the complete point at or before it; older is EPRUNED with the oldest", () => {
    const w = nextWatermark(undefined, p, now, [])!;
    const fiveHoursAgo = makeTid(now - 5 * HOUR, 7);
    expect(snapToComplete(w, fiveHoursAgo)).toBe(boundaryTid(Date.UTC(2026, 0, 5, 7)));
    const inWindow = makeTid(now - 10 * MIN, 3);
    expect(snapToComplete(w, inWindow)).toBe(inWindow);
    try {
      snapToComplete(w, makeTid(Date.UTC(2026, 0, 1), 0), "p");
      throw new Error("expected EPRUNED");
    } catch (err) {
      if (!isStrataError(err, "EPRUNED")) throw err;
      expect(err.details.oldest).toEqual({
        tid: w.points[0],
        time: new Date(tidMs(w.points[0]!)).toISOString(),
      });
    }
  });
});

describe("retention through the engine (fake clock)", () => {
  it("set/get, and as-of reads after a vacuum: exact, snapped to a boundary, or EPRUNED", async () => {
    const a = new MemoryVolumeDriver("a");
    const w = maintenanceWorld(new MemoryMetadataStore(), { a }, { start: Date.UTC(2026, 0, 5, 0, 0, 30) });
    await w.ns.createPfs("p");
    const fs = w.ns.pfs("p");
    expect(await getRetention(w.store, "p")).toEqual({ pfs: "p", policy: "" });
    await expect(setRetention(w.store, "p", "all 1h; hourly nope")).rejects.toMatchObject({ code: "EINVAL" });
    expect(await getRetention(w.store, "p")).toEqual({ pfs: "p", policy: "" });
    await setRetention(w.store, "p", "all 1h; hourly 1d", () => w.clock.now);

    // One version per 20 minutes for 10 hours: v[i] written at 00:00:30 + i·20 min.
    const tids: string[] = [];
    for (let i = 0; i < 30; i++) {
      tids.push((await w.data.writeFile(fs, "/f", bytesOf(i, CHUNK))).tid);
      w.clock.advance(20 * MIN);
    }
    const report = await w.vacuum({ apply: true });
    expect(report.complete).toBe(true);
    expect(report.records.byKind.version).toBeGreaterThan(0);
    const info = await getRetention(w.store, "p");
    expect(info.watermark).toBeDefined();

    // 5 h ago (inside "hourly 1d"): the state at the hour boundary at or before it, complete.
    const at = new Date(w.clock.now - 5 * HOUR - 5 * MIN);
    const hour = Math.floor(at.getTime() / HOUR) * HOUR;
    const expected = tids.map((t) => tidMs(t)).filter((ms) => ms <= hour).length - 1;
    expect(await w.data.readFile(fs.asOf(at), "/f")).toEqual(bytesOf(expected, CHUNK));
    // Inside "all 1h": exact.
    const recent = tids[tids.length - 2]!;
    expect(await w.data.readFile(fs.asOf(recent), "/f")).toEqual(bytesOf(tids.length - 2, CHUNK));
    // Before the PFS's first hour boundary (points before the PFS existed are not kept): pruned,
    // and the error names the oldest point.
    const err = await fs.stat("/f", { asOf: tids[0] }).catch((e) => e);
    expect(err.code).toBe("EPRUNED");
    expect(err.details.oldest.tid).toBe(info.watermark!.oldest);
  });
});
