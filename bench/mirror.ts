/**
 * `npm run bench -- mirror [entries]`: the mirroring stream on SQLite (a temp file each for the
 * source and the mirror deployment; inline files, so the numbers are metadata only).
 *
 * 1. A source PFS of `entries` files (default 100,000) in 100 directories, created 30 per batch.
 * 2. Stream read: records/s of the whole history (pages of 1,000 commits), then the initial
 *    mirror run (stream + apply) in records/s.
 * 3. A no-op resync: requests on the source and on the mirror (target: one stream page).
 * 4. A 1 % delta (entries/100 files rewritten, one commit each): the records the resync reads vs
 *    the PFS's records (target ≤ 2 %), its requests, and the time.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteMetadataStore } from "../adapters/metadata/sqlite.ts";
import type { RequestCounts } from "../core/metadata/port.ts";
import { createMirror, localSource, readStream, runMirror } from "../core/mirror/index.ts";
import { type BatchOp, createNamespace } from "../core/namespace/index.ts";
import { mulberry32 } from "../core/random.ts";
import { MemoryVolumeDriver } from "../core/volume/memory.ts";
import { fixedRegistry } from "../core/volume/registry.ts";
import { Volume } from "../core/volume/volume.ts";
import { table } from "./support.ts";

function used(c: RequestCounts): string {
  const parts = Object.entries(c)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  return parts.length ? parts.join(", ") : "none";
}

const total = (c: RequestCounts) => Object.values(c).reduce((a, b) => a + b, 0);

/** Every item of the PFS's partitions (ino#, dh#, dir#, chg#) — the denominator of the delta ratio. */
async function countRecords(
  store: SqliteMetadataStore,
  pfsId: string,
  dirs: string[],
  inos: string[],
): Promise<number> {
  let n = 0;
  const count = async (pk: string) => {
    let cursor: string | undefined;
    do {
      const page = await store.query(pk, cursor ? { cursor } : {});
      n += page.items.length;
      cursor = page.cursor;
    } while (cursor);
  };
  for (const d of dirs) {
    await count(`dh#${pfsId}#${d}`);
    await count(`dir#${pfsId}#${d}`);
  }
  for (const i of inos) await count(`ino#${pfsId}#${i}`);
  return n;
}

export async function run(args: string[]): Promise<void> {
  const entries = Number(args[0] ?? process.env.STRATA_BENCH_ENTRIES ?? 100_000);
  const dir = await mkdtemp(join(tmpdir(), "strata-bench-mirror-"));
  try {
    const srcStore = new SqliteMetadataStore({ path: join(dir, "source.db") });
    const dstStore = new SqliteMetadataStore({ path: join(dir, "mirror.db") });
    const src = createNamespace({ store: srcStore, site: 1, random: mulberry32(1) });
    const dst = createNamespace({ store: dstStore, site: 2, random: mulberry32(2) });
    const info = await src.createPfs("bench");
    const fs = src.pfs("bench");
    const dirs = 100;
    const perDir = Math.ceil(entries / dirs);
    console.log(`building: ${entries} inline files in ${dirs} directories, 30 per commit …`);
    let t0 = performance.now();
    const dirIds: string[] = [info.rootIno];
    for (let d = 0; d < dirs; d++) dirIds.push((await fs.mkdir(`/d${d}`)).ino);
    let made = 0;
    let ops: BatchOp[] = [];
    for (let d = 0; d < dirs && made < entries; d++)
      for (let f = 0; f < perDir && made < entries; f++, made++) {
        ops.push({
          op: "create",
          path: `/d${d}/f${f}`,
          options: { content: { size: 8, inline: new Uint8Array(8).fill(f & 0xff) } },
        });
        if (ops.length === 30) {
          await fs.batch(ops);
          ops = [];
        }
      }
    if (ops.length) await fs.batch(ops);
    const buildS = (performance.now() - t0) / 1000;
    console.log(`built in ${buildS.toFixed(1)} s`);

    // 2. The stream, read whole.
    const upto = await fs.currentTid();
    t0 = performance.now();
    let records = 0;
    let pages = 0;
    let page = await readStream(src, "bench", { upto });
    for (;;) {
      records += page.records.length;
      pages++;
      if (!page.next) break;
      page = await readStream(src, "bench", { token: page.next });
    }
    const streamS = (performance.now() - t0) / 1000;

    const source = localSource({ ns: src, pfs: "bench", store: srcStore, volumes: fixedRegistry({}) });
    // Inline files: the mirror's volume never receives a chunk.
    const target = { ns: dst, volumes: fixedRegistry({ mem: new Volume(new MemoryVolumeDriver("mem")) }) };
    await createMirror(target, { name: "bench", source, volumes: ["mem"] });
    t0 = performance.now();
    const initial = await runMirror(target, "bench", source);
    const initialS = (performance.now() - t0) / 1000;

    // 3. A no-op resync.
    await fs.currentTid(); // nothing new; the close of "now" is what any reader pays first
    srcStore.resetRequestCounts();
    dstStore.resetRequestCounts();
    const noop = await runMirror(target, "bench", source);
    const noopSrc = srcStore.requestCounts();
    const noopDst = dstStore.requestCounts();

    // 4. A 1 % delta.
    const delta = Math.max(1, Math.floor(entries / 100));
    const rnd = mulberry32(7);
    for (let i = 0; i < delta; i++) {
      const n = Math.floor(rnd() * entries);
      const d = Math.floor(n / perDir);
      await fs.writeContent(`/d${d}/f${n % perDir}`, { size: 8, inline: new Uint8Array(8).fill(0xee) });
    }
    const inos: string[] = [];
    for (let d = 0; d < dirs; d++) {
      let cursor: string | undefined;
      do {
        const p = await fs.readdir(`/d${d}`, cursor ? { cursor } : {});
        for (const e of p.entries) inos.push(e.ino);
        cursor = p.cursor;
      } while (cursor);
    }
    const pfsRecords = await countRecords(srcStore, info.id, dirIds, [...dirIds, ...inos]);
    srcStore.resetRequestCounts();
    dstStore.resetRequestCounts();
    t0 = performance.now();
    const resync = await runMirror(target, "bench", source);
    const resyncS = (performance.now() - t0) / 1000;
    const deltaSrc = srcStore.requestCounts();
    const read = resync.records + resync.commits; // history records + change-index items

    console.log(
      table(
        [
          ["measure", "value"],
          ["entries (files)", String(entries)],
          ["build (30 creates per commit)", `${buildS.toFixed(1)} s`],
          ["stream read: records", `${records} in ${pages} pages`],
          ["stream read: records/s", (records / streamS).toFixed(0)],
          ["initial mirror run (stream + apply): records/s", (initial.records / initialS).toFixed(0)],
          ["initial mirror run: transactions", String(initial.transactions)],
          ["no-op resync: source requests", `${total(noopSrc)} (${used(noopSrc)})`],
          ["no-op resync: mirror requests", `${total(noopDst)} (${used(noopDst)})`],
          ["no-op resync: pages", String(noop.pages)],
          ["1 % delta: commits", String(resync.commits)],
          ["1 % delta: items read (records + change items)", String(read)],
          ["PFS items (ino#, dh#, dir# partitions)", String(pfsRecords)],
          ["1 % delta: read / PFS items", `${((100 * read) / pfsRecords).toFixed(2)} % (target ≤ 2 %)`],
          ["1 % delta: source requests", `${total(deltaSrc)} (${used(deltaSrc)})`],
          ["1 % delta: resync time", `${resyncS.toFixed(2)} s`],
        ],
        new Set([0]),
      ),
    );
    await srcStore.close();
    await dstStore.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
