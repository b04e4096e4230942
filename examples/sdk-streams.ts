/**
 * Streams and cancellation with the SDK: a byte range with createReadStream (end inclusive, as
 * node:fs), web streams both ways, and an upload aborted half-way that leaves no file behind.
 * Run: npx tsx examples/sdk-streams.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect, isStrataError } from "strata";

const dir = await mkdtemp(path.join(tmpdir(), "strata-sdk-streams-"));
const client = await connect({ local: dir });

const alphabet = new TextEncoder().encode("abcdefghijklmnopqrstuvwxyz".repeat(10_000));
await client.writeFile("/alphabet.txt", alphabet);

let range = "";
for await (const chunk of client.createReadStream("/alphabet.txt", {
  start: 26 * 5000 + 3,
  end: 26 * 5000 + 9,
}))
  range += chunk.toString();
console.log(`bytes [130003, 130009]: ${range}`);

// Web streams: copy a file through a TransformStream that upper-cases it.
const upper = new TransformStream<Uint8Array, Uint8Array>({
  transform(chunk, out) {
    out.enqueue(new TextEncoder().encode(new TextDecoder().decode(chunk).toUpperCase()));
  },
});
await client
  .openReadableStream("/alphabet.txt")
  .pipeThrough(upper)
  .pipeTo(client.openWritableStream("/ALPHABET.txt"));
console.log(`copied: ${(await client.readFile("/ALPHABET.txt", "utf8")).slice(0, 26)}…`);

// An upload aborted half-way: nothing appears at the path.
const controller = new AbortController();
async function* slowSource() {
  yield new Uint8Array(1024 * 1024);
  controller.abort();
  yield new Uint8Array(1024 * 1024);
}
try {
  await client.writeFile("/partial.bin", slowSource(), { signal: controller.signal });
} catch (err) {
  if (isStrataError(err, "EABORTED")) console.log(`upload aborted: ${err.code} at ${err.details.path}`);
}
console.log(`files: ${JSON.stringify(await client.readdir("/"))}`);

await client.close();
await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
