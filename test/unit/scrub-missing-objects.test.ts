/**
 * Objects deleted behind strata's back (the instance record still says `present`): scrub finds
 * them itself (pass 2 walks every version's chunks and HEADs their instances), repairs what has a
 * good copy elsewhere, records the rest `missing` and names every file version — old versions and
 * deleted files too — that lost its bytes; fsck with volumes reports `chunk-unavailable` for them
 * before any client read.
 *
 * Property (fixed seed): for random histories of writes and unlinks over a pool of contents, and a
 * random fate per content (kept / object gone on volume a / gone on both volumes), scrub's
 * unrepaired findings are exactly the contents gone everywhere, each naming exactly the versions
 * that reference it; what was gone on one volume only is repaired; fsck names the same chunks.
 * Counter-check: without pass 2 (`references: false`) or without volumes for fsck, the chunks gone
 * everywhere are not found, and the property fails.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunkObjectKey, instanceKey } from "../../core/data/chunk-items.ts";
import { fsck } from "../../core/maintenance/fsck.ts";
import { scrub } from "../../core/maintenance/scrub.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { bytesOf, CHUNK, maintenanceWorld } from "../support/maintenance.ts";

const FILES = ["/f0", "/d/f1", "/d/f2"];
const CONTENTS = 5;
type Op = { kind: "write"; file: number; content: number } | { kind: "unlink"; file: number };
type Fate = "kept" | "goneOnA" | "goneEverywhere";

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("write" as const),
      file: fc.nat(2),
      content: fc.nat(CONTENTS - 1),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("unlink" as const), file: fc.nat(2) }) },
);
const fateArb = fc.array(fc.constantFrom<Fate>("kept", "goneOnA", "goneEverywhere"), {
  minLength: CONTENTS,
  maxLength: CONTENTS,
});

interface Outcome {
  /** Unrepaired chunks → sorted "path@version" of the versions the finding names. */
  lost: Record<string, string[]>;
  /** Expected: contents gone everywhere → the versions that reference them. */
  expectedLost: Record<string, string[]>;
  repairedOnA: string[];
  expectedRepairedOnA: string[];
  fsckChunks: string[];
  liveFlagsRight: boolean;
  /** Lost chunks recorded `missing` on both volumes; repaired objects there again. */
  statesRight: boolean;
}

async function run(ops: Op[], fates: Fate[], mechanism: { references: boolean; fsckObjects: boolean }) {
  const w = maintenanceWorld(
    new MemoryMetadataStore(),
    { a: new MemoryVolumeDriver("a"), b: new MemoryVolumeDriver("b") },
    { copies: 2 },
  );
  await w.ns.createPfs("p");
  const fs = w.ns.pfs("p");
  await fs.mkdir("/d");
  const chunkOf = new Map<number, string>();
  /** Every version written: path, version TID, content, and whether it is still live. */
  const versions: Array<{ path: string; tid: string; content: number; live: boolean }> = [];
  for (const op of ops) {
    const path = FILES[op.file]!;
    const live = versions.find((v) => v.path === path && v.live);
    if (op.kind === "unlink") {
      if (!live) continue;
      await fs.unlink(path);
      live.live = false;
      continue;
    }
    const st = await w.data.writeFile(fs, path, bytesOf(100 + op.content, CHUNK));
    chunkOf.set(op.content, st.content!.extents![0]!.chunk);
    if (live) live.live = false;
    versions.push({ path, tid: String(st.tid), content: op.content, live: true });
  }
  for (const [content, sha] of chunkOf) {
    const fate = fates[content]!;
    if (fate !== "kept") await w.volumes.a!.delete(chunkObjectKey(sha));
    if (fate === "goneEverywhere") await w.volumes.b!.delete(chunkObjectKey(sha));
  }

  // fsck first: nothing has read or marked anything yet.
  const checked = await fsck({ store: w.store, ...(mechanism.fsckObjects ? { volumes: w.registry } : {}) });
  const report = await scrub({
    store: w.store,
    volumes: w.registry,
    clock: () => w.clock.now,
    sleep: async () => {},
    references: mechanism.references,
  });
  expect(report.aborted).toBeUndefined();
  expect(report.complete).toBe(true);

  const lost: Record<string, string[]> = {};
  let liveFlagsRight = true;
  for (const f of report.findings.filter((x) => !x.repaired)) {
    lost[f.chunk] = [...new Set((f.files ?? []).map((r) => `${r.path}@${r.version}`))].sort();
    for (const r of f.files ?? []) {
      const v = versions.find((x) => x.tid === r.version && x.path === r.path);
      if (!v || v.live !== r.live) liveFlagsRight = false;
    }
  }
  const expectedLost: Record<string, string[]> = {};
  const expectedRepairedOnA: string[] = [];
  for (const [content, sha] of chunkOf) {
    if (fates[content] === "goneEverywhere")
      expectedLost[sha] = versions
        .filter((v) => v.content === content)
        .map((v) => `${v.path}@${v.tid}`)
        .sort();
    if (fates[content] === "goneOnA") expectedRepairedOnA.push(sha);
  }
  // Lost chunks are recorded missing on both volumes; repaired ones are readable again.
  let statesRight = true;
  for (const sha of Object.keys(expectedLost))
    for (const v of ["a", "b"])
      if ((await w.store.get(instanceKey(sha, v)))?.state !== "missing") statesRight = false;
  for (const sha of expectedRepairedOnA)
    if ((await w.volumes.a!.head(chunkObjectKey(sha)).catch(() => undefined)) === undefined)
      statesRight = false;
  return {
    lost,
    expectedLost,
    repairedOnA: report.findings
      .filter((x) => x.repaired && x.volume === "a" && x.found === "missing")
      .map((x) => x.chunk)
      .sort(),
    expectedRepairedOnA: expectedRepairedOnA.sort(),
    fsckChunks: [
      ...new Set(checked.problems.filter((p) => p.kind === "chunk-unavailable").map((p) => p.chunk!)),
    ].sort(),
    liveFlagsRight,
    statesRight,
  } satisfies Outcome;
}

const holds = (o: Outcome) =>
  JSON.stringify(o.lost) === JSON.stringify(sortKeys(o.expectedLost)) &&
  JSON.stringify(o.repairedOnA) === JSON.stringify(o.expectedRepairedOnA) &&
  JSON.stringify(o.fsckChunks) === JSON.stringify(Object.keys(o.expectedLost).sort()) &&
  o.liveFlagsRight &&
  o.statesRight;

function sortKeys(r: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe("scrub and fsck find chunk objects deleted behind strata's back", () => {
  it("scrub reports exactly the chunks gone everywhere, with every version (old ones, deleted files) that lost its bytes; repairs the rest; fsck agrees", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 12 }), fateArb, async (ops, fates) => {
        const o = await run(ops, fates, { references: true, fsckObjects: true });
        o.lost = sortKeys(o.lost);
        expect(o.lost).toEqual(sortKeys(o.expectedLost));
        expect(o.repairedOnA).toEqual(o.expectedRepairedOnA);
        expect(o.fsckChunks).toEqual(Object.keys(o.expectedLost).sort());
        expect(o.liveFlagsRight).toBe(true);
        expect(o.statesRight).toBe(true);
      }),
      { seed: 20261206, numRuns: 60 },
    );
  });

  it("counter-check: without pass 2, and fsck without volumes, a chunk gone everywhere goes unnoticed", async () => {
    const ops: Op[] = [
      { kind: "write", file: 0, content: 0 },
      { kind: "write", file: 0, content: 1 },
    ];
    const fates: Fate[] = ["goneEverywhere", "kept", "kept", "kept", "kept"];
    const withIt = await run(ops, fates, { references: true, fsckObjects: true });
    expect(holds({ ...withIt, lost: sortKeys(withIt.lost) })).toBe(true);
    expect(Object.values(withIt.lost)).toHaveLength(1);
    const without = await run(ops, fates, { references: false, fsckObjects: false });
    expect(without.lost).toEqual({});
    expect(without.fsckChunks).toEqual([]);
    expect(holds({ ...without, lost: sortKeys(without.lost) })).toBe(false);
  });
});
