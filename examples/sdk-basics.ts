/**
 * The SDK on an embedded deployment: write and read files like node:fs/promises, stream a larger
 * one, list a directory, then use strata's own calls — history, an as-of read, a snapshot, a
 * revert, an atomic batch, and where the chunks of a file are.
 * Run: npx tsx examples/sdk-basics.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { connect, isStrataError } from "strata";

const dir = await mkdtemp(path.join(tmpdir(), "strata-sdk-example-"));
const client = await connect({ local: dir });

await client.mkdir("/show/shot42", { recursive: true });
await client.writeFile("/show/shot42/notes.txt", "first take\n");
await client.appendFile("/show/shot42/notes.txt", "second take\n");
console.log(await client.readFile("/show/shot42/notes.txt", "utf8"));

// 20 MiB through a write stream: chunked, checksummed, committed once at the end.
const MiB = 1024 * 1024;
const frames = Readable.from(
  (function* () {
    for (let i = 0; i < 20; i++) yield new Uint8Array(MiB).fill(i);
  })(),
);
await pipeline(frames, client.createWriteStream("/show/shot42/plate.raw"));
const st = await client.stat("/show/shot42/plate.raw");
console.log(`plate.raw: ${st.size} bytes, mode ${st.mode.toString(8)}, tid ${st.tid}`);
for (const p of await client.placement("/show/shot42/plate.raw"))
  console.log(`  chunk @${p.offset} (${p.length} B) on ${p.instances.map((i) => `${i.volume}:${i.state}`)}`);

for (const d of await client.readdir("/show/shot42", { withFileTypes: true }))
  console.log(`  ${d.isDirectory() ? "d" : "-"} ${d.name}`);

// History and time travel.
const before = await client.currentTid();
await client.writeFile("/show/shot42/notes.txt", "rewritten\n");
console.log(`now:   ${JSON.stringify(await client.readFile("/show/shot42/notes.txt", "utf8"))}`);
console.log(`as of: ${JSON.stringify(await client.asOf(before).readFile("/show/shot42/notes.txt", "utf8"))}`);
for (const v of await client.history("/show/shot42/notes.txt"))
  console.log(`  ${v.tid} ${v.change} ${v.stat?.size} B`);
await client.snapshots.create("before-revert");
await client.revert("/show/shot42/notes.txt", before);
console.log(`reverted: ${JSON.stringify(await client.readFile("/show/shot42/notes.txt", "utf8"))}`);

// All or nothing.
await client.batch([
  { op: "mkdir", path: "/jobs" },
  { op: "writeFile", path: "/jobs/render.json", data: '{"shot":42}' },
  { op: "setTag", path: "/jobs/render.json", key: "render-site", value: "gcs-eu" },
]);
console.log(`tags: ${JSON.stringify(await client.tags.list("/jobs/render.json"))}`);

try {
  await client.readFile("/nope");
} catch (err) {
  if (isStrataError(err)) console.log(`error: ${err.code} at ${err.details.path}`);
}

await client.rm("/show", { recursive: true });
console.log(`after rm -r: ${JSON.stringify(await client.readdir("/"))}`);
await client.close();
await rm(dir, { recursive: true, force: true });
