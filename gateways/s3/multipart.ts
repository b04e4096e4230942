/**
 * Multipart uploads (docs/s3-gateway.md "Multipart"). Parts are kept by the gateway in its own
 * temporary directory until CompleteMultipartUpload streams them, in order, into one strata write
 * (one commit: the object appears whole or not at all). An upload belongs to the access key that
 * created it; another key gets NoSuchUpload. Uploads not completed within
 * {@link ABANDONED_AFTER_MS} are deleted by the next upload's start.
 *
 * Not done (listed in the docs): parts are not yet strata chunks (they are copied once more at
 * completion), uploads do not survive a gateway restart, and vacuum does not see them.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { S3Error } from "./errors.ts";
import type { ObjectMeta } from "./objects.ts";

export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PARTS = 10_000;
export const ABANDONED_AFTER_MS = 7 * 24 * 3600_000;

export interface Part {
  number: number;
  etag: string;
  size: number;
  lastModified: number;
  file: string;
}

export interface Upload {
  id: string;
  bucket: string;
  key: string;
  accessKeyId: string;
  initiated: number;
  meta: Pick<ObjectMeta, "headers" | "meta">;
  parts: Map<number, Part>;
}

export class Uploads {
  private readonly uploads = new Map<string, Upload>();
  constructor(
    private readonly dir: string,
    private readonly clock: () => number = Date.now,
  ) {}

  async create(bucket: string, key: string, accessKeyId: string, meta: Upload["meta"]): Promise<Upload> {
    await this.reclaim();
    const id = randomBytes(24).toString("base64url");
    await mkdir(join(this.dir, id), { recursive: true, mode: 0o700 });
    const upload: Upload = { id, bucket, key, accessKeyId, initiated: this.clock(), meta, parts: new Map() };
    this.uploads.set(id, upload);
    return upload;
  }

  /** The upload, if it is this key's and this caller's (NoSuchUpload otherwise). */
  get(id: string, bucket: string, key: string, accessKeyId: string): Upload {
    const upload = this.uploads.get(id);
    if (!upload || upload.bucket !== bucket || upload.key !== key || upload.accessKeyId !== accessKeyId)
      throw new S3Error(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
      );
    return upload;
  }

  list(bucket: string, accessKeyId: string): Upload[] {
    return [...this.uploads.values()]
      .filter((u) => u.bucket === bucket && u.accessKeyId === accessKeyId)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.initiated - b.initiated));
  }

  /** Store part `n` from `body` (already checked by the caller's pipeline); replaces an earlier part n. */
  async putPart(upload: Upload, n: number, body: AsyncIterable<Uint8Array>): Promise<Part> {
    if (!Number.isInteger(n) || n < 1 || n > MAX_PARTS)
      throw new S3Error(
        "InvalidArgument",
        `Part number must be an integer between 1 and ${MAX_PARTS}, inclusive`,
      );
    const file = join(this.dir, upload.id, `${n}.${randomBytes(6).toString("hex")}`);
    const md5 = createHash("md5");
    let size = 0;
    try {
      await pipeline(
        (async function* () {
          for await (const piece of body) {
            md5.update(piece);
            size += piece.length;
            yield piece;
          }
        })(),
        createWriteStream(file, { mode: 0o600 }),
      );
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
    if (!this.uploads.has(upload.id)) {
      await rm(file, { force: true });
      throw new S3Error("NoSuchUpload", "The specified upload does not exist (aborted meanwhile).");
    }
    const previous = upload.parts.get(n);
    const part: Part = { number: n, etag: md5.digest("hex"), size, lastModified: this.clock(), file };
    upload.parts.set(n, part);
    if (previous) await rm(previous.file, { force: true });
    return part;
  }

  /**
   * Check a CompleteMultipartUpload's list against the stored parts: ascending numbers
   * (InvalidPartOrder), known parts with the same ETag (InvalidPart), every part but the last at
   * least 5 MiB (EntityTooSmall). Returns the parts in order and the multipart ETag.
   */
  plan(upload: Upload, wanted: Array<{ number: number; etag: string }>): { parts: Part[]; etag: string } {
    if (wanted.length === 0)
      throw new S3Error(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema.",
      );
    const parts: Part[] = [];
    let last = 0;
    for (const w of wanted) {
      if (!(w.number > last))
        throw new S3Error(
          "InvalidPartOrder",
          "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
        );
      last = w.number;
      const part = upload.parts.get(w.number);
      if (!part || part.etag !== w.etag.replace(/^"|"$/g, ""))
        throw new S3Error(
          "InvalidPart",
          "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        );
      parts.push(part);
    }
    for (const part of parts.slice(0, -1))
      if (part.size < MIN_PART_SIZE)
        throw new S3Error(
          "EntityTooSmall",
          "Your proposed upload is smaller than the minimum allowed object size.",
        );
    const md5 = createHash("md5");
    for (const part of parts) md5.update(Buffer.from(part.etag, "hex"));
    return { parts, etag: `${md5.digest("hex")}-${parts.length}` };
  }

  /** The bytes of `parts`, in order (a range of one stored part for UploadPartCopy's reads is not needed). */
  async *bytes(parts: Part[]): AsyncGenerator<Uint8Array> {
    for (const part of parts) {
      const st = await stat(part.file);
      if (st.size !== part.size) throw new S3Error("InternalError", `part ${part.number} changed on disk`);
      for await (const chunk of createReadStream(part.file, { highWaterMark: 1024 * 1024 }))
        yield chunk as Buffer;
    }
  }

  async remove(upload: Upload): Promise<void> {
    this.uploads.delete(upload.id);
    await rm(join(this.dir, upload.id), { recursive: true, force: true });
  }

  /** Delete uploads started more than {@link ABANDONED_AFTER_MS} ago. */
  async reclaim(): Promise<number> {
    const cutoff = this.clock() - ABANDONED_AFTER_MS;
    const old = [...this.uploads.values()].filter((u) => u.initiated < cutoff);
    for (const u of old) await this.remove(u);
    return old.length;
  }

  async close(): Promise<void> {
    for (const u of [...this.uploads.values()]) await this.remove(u);
  }
}
