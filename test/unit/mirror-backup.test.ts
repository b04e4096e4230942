/**
 * Backup bundles: the stream written to a volume as checksummed objects, restored into a new PFS
 * byte- and history-exact; incremental bundles chain on a base; a broken chain is refused with a
 * typed error before anything is written.
 */
import { describe, expect, it } from "vitest";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { bundleSource, readFull, restoreBackup, runMirror, writeBackup } from "../../core/mirror/index.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { Volume } from "../../core/volume/volume.ts";
import { codeOf } from "../support/errors.ts";
import { bytesOf, deployment, mainSource, snapshotTree, streamKeys } from "../support/mirror.ts";

async function setup() {
  return { ...(await mainSource()), vault: new Volume(new MemoryVolumeDriver("vault")) };
}

describe("backup bundles", () => {
  it("full + incremental bundles restore byte- and history-exact, at every bundle of the chain", async () => {
    const { src, fs, source, vault } = await setup();
    await fs.mkdir("/d");
    await src.data.writeFile(fs, "/d/a", bytesOf(100_000, 1));
    await fs.setXattr("/d/a", "user.$b", bytesOf(5, 5));
    await fs.setTag("/d/a", "$b", "AAAA"); // looks like the JSON form's tag: must survive
    const full = await writeBackup({ source, volume: vault, prefix: "bk/main", limit: 2 });
    expect(full.base).toBeNull();
    expect(full.parts.length).toBeGreaterThan(1);

    await src.data.writeFile(fs, "/d/a", bytesOf(100_000, 2));
    await fs.rename("/d/a", "/d/b");
    await src.data.writeFile(fs, "/small", bytesOf(3, 3));
    const inc1 = await writeBackup({ source, volume: vault, prefix: "bk/main", base: full.id });
    expect(inc1.since).toBe(full.upto);

    await fs.unlink("/small");
    await fs.symlink("/d/b", "/link");
    const inc2 = await writeBackup({ source, volume: vault, prefix: "bk/main", base: inc1.id });

    for (const bundle of [full, inc1, inc2]) {
      const dst = deployment(new MemoryMetadataStore(), 2, "gcs", 2);
      const target = { ns: dst.ns, volumes: dst.volumes };
      const report = await restoreBackup(target, {
        name: "restored",
        volume: vault,
        prefix: "bk/main",
        bundle: bundle.id,
        volumes: ["gcs"],
      });
      expect(report.to).toBe(bundle.upto);
      const restored = dst.ns.pfs("restored");
      // History-exact: every record, every version readable as of its TID.
      expect(streamKeys((await readFull(dst.ns, "restored", bundle.upto)).records)).toEqual(
        streamKeys((await readFull(src.ns, "main", bundle.upto)).records),
      );
      for (const b of [full, inc1, inc2].filter((x) => x.upto <= bundle.upto))
        expect(await snapshotTree(restored.asOf(b.upto), dst.data)).toEqual(
          await snapshotTree(fs.asOf(b.upto), src.data),
        );
      // A restored PFS is a writable master.
      await restored.mkdir("/new");
    }
  });

  it("a kept restore takes the next incremental bundle as a mirror would", async () => {
    const { src, fs, source, vault } = await setup();
    await src.data.writeFile(fs, "/a", bytesOf(70_000, 1));
    const full = await writeBackup({ source, volume: vault, prefix: "bk", limit: 1 });
    const dst = deployment(new MemoryMetadataStore(), 2, "gcs", 2);
    const target = { ns: dst.ns, volumes: dst.volumes };
    await restoreBackup(target, {
      name: "r",
      volume: vault,
      prefix: "bk",
      bundle: full.id,
      volumes: ["gcs"],
      keepMirror: true,
    });
    expect(await codeOf(dst.ns.pfs("r").mkdir("/x"))).toBe("EROFS");
    await src.data.writeFile(fs, "/b", bytesOf(10, 2));
    const inc = await writeBackup({ source, volume: vault, prefix: "bk", base: full.id });
    const report = await runMirror(target, "r", await bundleSource(vault, "bk", inc.id));
    expect(report.from).toBe(full.upto);
    expect(report.to).toBe(inc.upto);
    expect(await dst.data.readFile(dst.ns.pfs("r"), "/b")).toEqual(bytesOf(10, 2));
  });

  it("refuses a broken chain with a typed error and writes nothing", async () => {
    const { src, fs, source, vault } = await setup();
    await src.data.writeFile(fs, "/a", bytesOf(20, 1));
    const full = await writeBackup({ source, volume: vault, prefix: "bk" });
    await src.data.writeFile(fs, "/b", bytesOf(20, 2));
    const inc1 = await writeBackup({ source, volume: vault, prefix: "bk", base: full.id });
    await src.data.writeFile(fs, "/c", bytesOf(20, 3));
    const inc2 = await writeBackup({ source, volume: vault, prefix: "bk", base: inc1.id });
    const dst = deployment(new MemoryMetadataStore(), 2, "gcs", 2);
    const target = { ns: dst.ns, volumes: dst.volumes };
    const restore = (bundle: string) =>
      restoreBackup(target, { name: "r", volume: vault, prefix: "bk", bundle, volumes: ["gcs"] });
    const noPfs = async () => expect((await dst.ns.listPfs()).map((p) => p.name)).toEqual([]);

    // A part whose bytes changed: ECORRUPT.
    const partKey = inc1.parts[0]!.key;
    const original = await vault.getBytes(partKey);
    await vault.delete(partKey);
    const tampered = original.slice();
    tampered[10] = tampered[10]! ^ 1;
    await vault.put(partKey, tampered);
    const failed = await codeOf(restore(inc2.id));
    expect(failed).toBe("ECORRUPT");
    await vault.delete(partKey);
    await vault.put(partKey, original);

    // A base that does not end where its child starts: ECORRUPT.
    const manifestKey = `bk/${inc1.id}/manifest.json`;
    const manifest = await vault.getBytes(manifestKey);
    await vault.delete(manifestKey);
    const wrong = JSON.parse(new TextDecoder().decode(manifest));
    wrong.upto = full.upto;
    await vault.put(manifestKey, new TextEncoder().encode(JSON.stringify(wrong)));
    expect(await codeOf(restore(inc2.id))).toBe("ECORRUPT");
    await noPfs();

    // A missing bundle: ENOENT.
    await vault.delete(manifestKey);
    expect(await codeOf(restore(inc2.id))).toBe("ENOENT");
    await noPfs();
    expect(await codeOf(writeBackup({ source, volume: vault, prefix: "bk", base: inc1.id }))).toBe("ENOENT");

    // The intact part of the chain still restores.
    await restore(full.id);
    expect(await dst.data.readFile(dst.ns.pfs("r"), "/a")).toEqual(bytesOf(20, 1));
  });
});
