/**
 * Child entry of the S3 stand-in: s3rver 3.7.1 on 127.0.0.1 with two bugs fixed where they make it
 * disagree with S3 itself (each a small override of its filesystem store):
 *
 * 1. ListObjects order. s3rver returns keys in directory-walk order (`a/1`, `a/b/c`, `a-1`, `a`);
 *    S3 returns them in ascending UTF-8 byte order, and pages continue after the last key by the
 *    same order. Here the page is chosen from every matching key sorted by UTF-8 bytes. Listings with
 *    a delimiter keep s3rver's own code (strata does not use them).
 * 2. Ranges ending at byte 0. s3rver reads the range end as `end || Infinity`, so `Range: bytes=0-0`
 *    returned the whole object instead of its first byte.
 * 3. Acknowledged before written. s3rver's putObject/putPart resolve when the bytes have passed its
 *    hashing Transform (or, for a Buffer body, at once), not when the file write stream finished:
 *    a PUT could be answered 200 while its bytes were still in the process, and a kill right after
 *    the answer left a short object. Here both wait for the file stream's `finish`.
 *
 * Lifeline (`--lifeline`, what `npm start` passes): the parent holds our stdin; when it closes (the
 * parent died, however) the server stops and the process exits. SIGTERM/SIGINT stop it the same
 * way. Every acknowledged PUT is in its files by then (fix 3), so this is a courtesy, not a flush.
 *
 * Usage: node --openssl-legacy-provider s3rver-main.mjs <directory> <port> [--lifeline]
 */
import crypto from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

const require = createRequire(import.meta.url);
const S3rver = require("s3rver");
const FilesystemStore = require("s3rver/lib/stores/filesystem.js");
const S3Object = require("s3rver/lib/models/object.js");

const originalListObjects = FilesystemStore.prototype.listObjects;
FilesystemStore.prototype.listObjects = async function listObjects(bucket, options = {}) {
  const { delimiter = "", startAfter = "", prefix = "", maxKeys = Number.POSITIVE_INFINITY } = options;
  if (delimiter) return await originalListObjects.call(this, bucket, options);
  const all = await originalListObjects.call(this, bucket, { prefix });
  const after = Buffer.from(startAfter, "utf8");
  const sorted = all.objects
    .map((object) => ({ object, bytes: Buffer.from(object.key, "utf8") }))
    .filter((entry) => Buffer.compare(entry.bytes, after) > 0)
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes));
  return {
    objects: sorted.slice(0, maxKeys).map((entry) => entry.object),
    commonPrefixes: [],
    isTruncated: sorted.length > maxKeys,
  };
};

FilesystemStore.prototype.getObject = async function getObject(bucket, key, options = {}) {
  try {
    const metadata = await this.getMetadata(bucket, key);
    const lastByte = Math.max(0, Number(metadata["content-length"]) - 1);
    const ranged = options.start !== undefined || options.end !== undefined;
    const range = {
      start: options.start ?? 0,
      end: Math.min(options.end ?? Number.POSITIVE_INFINITY, lastByte),
    };
    if (range.start < 0 || range.end < range.start) {
      const object = new S3Object(bucket, key, null, metadata);
      if (ranged) object.range = range;
      return object;
    }
    const content = await new Promise((resolve, reject) => {
      const stream = fs
        .createReadStream(this.getResourcePath(bucket, key, "object"), range)
        .on("error", reject)
        .on("open", () => resolve(stream));
    });
    const object = new S3Object(bucket, key, content, metadata);
    if (ranged) object.range = range;
    return object;
  } catch (err) {
    if (err.code === "ENOENT") return null;
    throw err;
  }
};

/** Write `content` (Buffer or stream) to `file`; resolves once the file stream finished: size and MD5. */
async function writeHashed(file, content) {
  const md5 = crypto.createHash("md5");
  let size = 0;
  const source = Buffer.isBuffer(content) ? [content] : content;
  await pipeline(
    source,
    new Transform({
      transform(chunk, _encoding, callback) {
        md5.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    }),
    fs.createWriteStream(file),
  );
  return { size, md5: md5.digest("hex") };
}

FilesystemStore.prototype.putObject = async function putObject(object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, "object");
  await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
  const { size, md5 } = await writeHashed(objectPath, object.content);
  await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size, md5 };
};

FilesystemStore.prototype.putPart = async function putPart(bucket, uploadId, partNumber, content) {
  const partPath = path.join(
    this.getResourcePath(bucket, undefined, "uploads"),
    uploadId,
    String(partNumber),
  );
  await fs.promises.mkdir(path.dirname(partPath), { recursive: true });
  const { size, md5 } = await writeHashed(partPath, content);
  await fs.promises.writeFile(`${partPath}.md5`, md5);
  return { size, md5 };
};

const args = process.argv.slice(2).filter((a) => a !== "--lifeline");
const [directory, port] = args;
if (!directory || !port) {
  console.error("usage: s3rver-main.mjs <directory> <port>");
  process.exit(2);
}
const server = new S3rver({ address: "127.0.0.1", port: Number(port), directory, silent: true });
const { address, port: bound } = await server.run();
console.log(`s3rver listening on ${address}:${bound}`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  process.stdin.destroy();
  // Idle keep-alive sockets of a client that is gone must not hold the exit up.
  setTimeout(() => process.exit(0), 2_000).unref();
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.stdout.on("error", () => {}); // the parent may be gone: nothing to tell it
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
if (process.argv.includes("--lifeline")) {
  process.stdin.on("end", stop);
  process.stdin.on("error", stop);
  process.stdin.resume();
}
