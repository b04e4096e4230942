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
 *
 * Usage: node --openssl-legacy-provider s3rver-main.mjs <directory> <port>
 */
import fs from "node:fs";
import { createRequire } from "node:module";

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

const [directory, port] = process.argv.slice(2);
if (!directory || !port) {
  console.error("usage: s3rver-main.mjs <directory> <port>");
  process.exit(2);
}
const server = new S3rver({ address: "127.0.0.1", port: Number(port), directory, silent: true });
const { address, port: bound } = await server.run();
console.log(`s3rver listening on ${address}:${bound}`);
