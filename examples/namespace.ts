/**
 * The versioned namespace on the embedded SQLite store: make a tree, change it, read it as of
 * an earlier TID, look at an inode's history, revert.
 * Run: npx tsx examples/namespace.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { SqliteMetadataStore } from "../adapters/metadata/sqlite.ts";
import { createNamespace } from "../core/namespace/index.ts";

const dir = await mkdtemp(path.join(tmpdir(), "strata-example-"));
const store = new SqliteMetadataStore({ path: path.join(dir, "metadata.db") });
const ns = createNamespace({ store });
await ns.createPfs("default");
const fs = ns.pfs("default");

await fs.mkdir("/show/shot42", { recursive: true });
await fs.create("/show/shot42/plate.exr", { mode: 0o644 });
await fs.setTag("/show/shot42/plate.exr", "render-site", "gcs-eu");
const before = await fs.currentTid();

await fs.rename("/show/shot42/plate.exr", "/show/shot42/plate-v2.exr");
await fs.setattr("/show/shot42/plate-v2.exr", { mode: 0o600 });

const names = async (view: { readdir(p: string): Promise<{ entries: { name: string }[] }> }) =>
  (await view.readdir("/show/shot42")).entries.map((e) => e.name).join(", ");
console.log(`now:        ${await names(fs)}`);
console.log(`as of ${before}: ${await names(fs.asOf(before))}`);

for (const v of await fs.history("/show/shot42/plate-v2.exr"))
  console.log(`  ${v.tid} ${v.time.toISOString()} ${v.change} mode=${v.stat?.mode.toString(8)}`);

await fs.revert("/show/shot42", before, { recursive: true });
console.log(`after revert: ${await names(fs)}`);
await store.close();
await rm(dir, { recursive: true, force: true });
