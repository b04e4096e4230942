/**
 * Mirroring on a real MetadataStore: the mirror of a random workload (fast-check, seeded) equals
 * its source at every TID it synced to — whole trees compared as of that TID, bytes included —
 * while the source keeps changing; it keeps equalling it at every earlier synced TID afterwards
 * (the mirror holds the source's history). The source and the mirror are two deployments: two
 * stores, their own volumes; chunks cross through the stream source.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { MetadataStore } from "../../core/metadata/port.ts";
import {
  createMirror,
  mirrorStatus,
  readFull,
  runMirror,
  type StreamRecord,
} from "../../core/mirror/index.ts";
import type { FileSystem, Version } from "../../core/namespace/index.ts";
import {
  applyWorkloadOp,
  deployment,
  snapshotTree,
  sourceOf,
  type WorkloadOp,
  workloadOp,
} from "../support/mirror.ts";

export type MirrorStoreFactory = () => Promise<{ store: MetadataStore; dispose: () => Promise<void> }>;

export interface MirrorSuiteOptions {
  runs?: number;
  ops?: number;
}

export function testMirror(
  name: string,
  factory: MirrorStoreFactory,
  options: MirrorSuiteOptions = {},
): void {
  describe(`mirroring on ${name}`, () => {
    it("a mirror of a random workload equals its source at every synced TID (trees, bytes, history)", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(workloadOp(), { minLength: 5, maxLength: options.ops ?? 40 }),
          async (ops: WorkloadOp[]) => {
            const a = await factory();
            const b = await factory();
            try {
              const src = deployment(a.store, 1, "aws", 1);
              const dst = deployment(b.store, 2, "gcs", 2);
              await src.ns.createPfs("main");
              const fs: FileSystem = src.ns.pfs("main");
              const source = sourceOf(src, "main");
              await createMirror(
                { ns: dst.ns, volumes: dst.volumes },
                { name: "copy", source, volumes: ["gcs"] },
              );
              const synced: Array<{ tid: string; tree: unknown }> = [];
              const sync = async (limit: number) => {
                const report = await runMirror({ ns: dst.ns, volumes: dst.volumes }, "copy", source, {
                  limit,
                });
                expect(report.mode).toBe("incremental");
                const tid = report.to;
                const want = await snapshotTree(src.ns.pfs("main").asOf(tid), src.data);
                const got = await snapshotTree(dst.ns.pfs("copy").asOf(tid), dst.data);
                expect(got).toEqual(want);
                // The mirror reads its live state as of its sync TID too.
                expect(await snapshotTree(dst.ns.pfs("copy"), dst.data)).toEqual(want);
                // And record for record: every history record as of the sync TID, ends included.
                const sorted = (rs: StreamRecord[]) =>
                  rs.map((r) => `${r.pk} ${r.sk} ${r.tid} ${r.crc}`).sort();
                expect(sorted((await readFull(dst.ns, "copy", tid)).records)).toEqual(
                  sorted((await readFull(src.ns, "main", tid)).records),
                );
                synced.push({ tid, tree: want });
              };
              for (const dir of ["/d", "/d/e", "/f"]) await fs.mkdir(dir);
              let i = 0;
              for (const op of ops) {
                await applyWorkloadOp(fs, src.data, op);
                if (++i % 7 === 0) await sync(1 + (i % 3));
              }
              await sync(1000);
              // Nothing changed since the last sync: every path's version history matches too
              // (ends included: a mirror that missed a version's end would list no deletion).
              const last = synced[synced.length - 1]!;
              for (const p of Object.keys(last.tree as object)) {
                const strip = (vs: Version[]) =>
                  vs.map(({ stat, ...v }) => ({ ...v, ino: stat?.ino, type: stat?.type }));
                expect(strip(await dst.ns.pfs("copy").history(p))).toEqual(strip(await fs.history(p)));
              }
              // Every earlier synced point is still answered as it was.
              for (const s of synced)
                expect(await snapshotTree(dst.ns.pfs("copy").asOf(s.tid), dst.data)).toEqual(s.tree);
              // Its bytes are on the mirror's own volume, not borrowed from the source's.
              const [status] = await mirrorStatus({ ns: dst.ns, volumes: dst.volumes }, "copy");
              expect(status!.sync).toBe(synced[synced.length - 1]!.tid);
            } finally {
              await a.dispose();
              await b.dispose();
            }
          },
        ),
        { seed: 20260801, numRuns: options.runs ?? 8, endOnFailure: true },
      );
    }, 300_000);
  });
}
