import { describe, expect, it } from "vitest";
import { instanceKey } from "../../core/data/chunk-items.ts";
import { fsck } from "../../core/maintenance/fsck.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { entryKey, historyKey, seal, versionKey } from "../../core/namespace/records.ts";
import { makeTid } from "../../core/namespace/tid.ts";
import { pfsId } from "../../core/retention/store.ts";
import { MemoryVolumeDriver } from "../../core/volume/memory.ts";
import { bytesOf, CHUNK, maintenanceWorld, T0 } from "../support/maintenance.ts";

/** A PFS with /d/x, a hard link /d/y to it, /z (chunked), a symlink, a removed file and history. */
async function world() {
  const w = maintenanceWorld(new MemoryMetadataStore(), { a: new MemoryVolumeDriver("a") });
  await w.ns.createPfs("p");
  const fs = w.ns.pfs("p");
  await fs.mkdir("/d");
  await w.data.writeFile(fs, "/d/x", bytesOf(1, CHUNK));
  await fs.link("/d/x", "/d/y");
  const z = await w.data.writeFile(fs, "/z", bytesOf(2, CHUNK));
  await w.data.writeFile(fs, "/z", bytesOf(3, CHUNK));
  await fs.symlink("/d/x", "/s");
  await w.data.writeFile(fs, "/gone", bytesOf(4, CHUNK));
  await fs.unlink("/gone");
  const { id } = await pfsId(w.store, "p");
  const root = (await fs.stat("/")).ino;
  return { w, fs, id, root, z };
}

const kinds = (r: Awaited<ReturnType<typeof fsck>>) => r.problems.map((p) => p.kind).sort();

describe("fsck", () => {
  it("a consistent namespace passes", async () => {
    const { w } = await world();
    const report = await fsck({ store: w.store });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checked).toMatchObject({ pfs: 1, directories: 2 });
    expect(report.checked.versions).toBeGreaterThan(5);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it("finds an entry pointing at an inode with no live version", async () => {
    const { w, id, root } = await world();
    const ino = "00000000000fffff";
    const tid = makeTid(T0, 1);
    await w.store.put(seal({ ...entryKey(id, root, "ghost"), ino, type: "file", ctid: tid }));
    await w.store.put(
      seal({ ...historyKey(id, root, "ghost", tid), name: "ghost", ino, type: "file", ctid: tid }),
    );
    const report = await fsck({ store: w.store });
    expect(report.ok).toBe(false);
    expect(kinds(report)).toEqual(["dangling-entry"]);
    expect(report.problems[0]).toMatchObject({ pfs: "p", ino, sk: "ghost" });
  });

  it("finds an nlink that disagrees with the live entries", async () => {
    const { w, fs, id } = await world();
    const st = await fs.stat("/d/x");
    const key = versionKey(id, st.ino, st.tid);
    const item = (await w.store.get(key))!;
    await w.store.put(seal({ ...item, nlink: 5 }));
    expect(kinds(await fsck({ store: w.store }))).toEqual(["nlink"]);
  });

  it("finds a record created after it was deleted", async () => {
    const { w, fs, id } = await world();
    const st = await fs.stat("/z");
    const old = (await fs.history("/z")).find((v) => v.stat && v.stat.tid !== st.tid)!;
    const key = versionKey(id, st.ino, old.tid);
    const item = (await w.store.get(key))!;
    await w.store.put(seal({ ...item, dtid: makeTid(1, 0) }));
    expect(kinds(await fsck({ store: w.store }))).toEqual(["tid-order"]);
  });

  it("finds a referenced chunk with no present instance", async () => {
    const { w, z } = await world();
    const chunk = z.content!.extents![0]!.chunk;
    await w.store.update(instanceKey(chunk, "a"), { set: { state: "corrupt" } });
    const report = await fsck({ store: w.store });
    expect(kinds(report)).toEqual(["chunk-unavailable"]);
    expect(report.problems[0]!.chunk).toBe(chunk);
  });

  it("finds two live records holding one name", async () => {
    const { w, fs, id } = await world();
    const d = (await fs.stat("/d")).ino;
    const other = (await fs.stat("/z")).ino;
    await w.store.put(
      seal({
        ...historyKey(id, d, "x", makeTid(T0 - 1000, 0)),
        name: "x",
        ino: other,
        type: "file",
        ctid: makeTid(T0 - 1000, 0),
      }),
    );
    expect(kinds(await fsck({ store: w.store }))).toContain("duplicate-name");
  });

  it("reports a record that fails its CRC instead of stopping", async () => {
    const { w, fs, id } = await world();
    const st = await fs.stat("/d/x");
    const key = versionKey(id, st.ino, st.tid);
    const item = (await w.store.get(key))!;
    await w.store.put({ ...item, mode: 0o777 }); // not resealed
    const report = await fsck({ store: w.store });
    expect(kinds(report)).toContain("corrupt-record");
    expect(report.ok).toBe(false);
  });
});
