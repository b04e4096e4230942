/**
 * `LocalVolumeDriver`: a volume in a local directory.
 *
 * Layout under `root`:
 *   objects/   one file per object; key segments become directories: key `a/b/c` is
 *              `objects/a.d/b.d/c.o` (the suffixes let key `a` and keys under `a/` coexist)
 *   tmp/       uploads in progress (never listed; safe to empty while no put runs)
 *
 * Object file format — one file, so bytes, CRC32C and metadata can never disagree:
 *   [0, 8)    magic "STRATA01"
 *   [8, 12)   CRC32C of the data, uint32 BE
 *   [12, 20)  data size, float64 BE (exact below 2^53)
 *   [20, 24)  metadata length M, uint32 BE
 *   [24, 24+M) metadata, JSON
 *   then zero padding to the next multiple of 4,096 bytes, where the data starts (aligned writes
 *   are much faster here; disks allocate 4 KiB blocks anyway)
 *
 * Put: write the file in `tmp/` (CRC and size filled in after the last byte), fsync, then rename
 * it into place — or `link()` it for a create-only put, which fails atomically with EEXIST, so
 * racing create-only puts have exactly one winner — and fsync the directory. A crash leaves at
 * most a stray temp file, never a partial or mislabelled object. Readers hold the file open, so
 * a concurrent overwrite never mixes two versions in one read.
 *
 * Limits: a key segment may not exceed 253 UTF-8 bytes (the file system's 255-byte name limit
 * minus the suffix): ENAMETOOLONG. On case- or normalisation-insensitive file systems (macOS
 * default), keys differing only in case or Unicode normalisation collide: use Linux or a
 * case-sensitive volume.
 */
import { constants } from "node:fs";
import {
  copyFile,
  type FileHandle,
  link,
  mkdir,
  open,
  readdir,
  rename,
  rmdir,
  stat,
  unlink,
} from "node:fs/promises";
import { join } from "node:path";
import { StrataError } from "../../core/errors.ts";
import type {
  DriverGetOptions,
  DriverPutOptions,
  GetResult,
  ListEntry,
  ListPage,
  ObjectInfo,
  PutBody,
  VolumeCapabilities,
  VolumeDriver,
} from "../../core/volume/port.ts";

const MAGIC = Buffer.from("STRATA01", "latin1");
const FIXED = 24;
const MAX_SEGMENT_BYTES = 253;
const LIST_MAX = 1000;
/** Small writes are gathered up to this size before a write() call. */
const WRITE_BATCH = 1024 * 1024;
/** First read of a get: header and, for objects up to ~60 KiB, all the data in one system call. */
const SMALL_READ = 64 * 1024;
/** First read of a head: the fixed header and typical metadata. */
const HEADER_READ = 4096;
/** Temp files older than this are leftovers of crashed puts, swept when the driver starts. */
const STALE_TEMP_MS = 60 * 60 * 1000;

export interface LocalVolumeOptions {
  /** Volume name used in error messages. */
  name: string;
  /** Directory holding the volume (created if missing). */
  root: string;
}

interface Header {
  crc32c: number;
  size: number;
  metadata: Record<string, string>;
  /** Offset of the first data byte in the file. */
  dataOffset: number;
}

export class LocalVolumeDriver implements VolumeDriver {
  readonly name: string;
  readonly root: string;
  readonly capabilities: VolumeCapabilities = {
    atomicCreateOnly: true,
    serverSideCopy: true,
    nativeCrc32c: false,
    maxObjectSize: Number.MAX_SAFE_INTEGER,
    listOrder: "utf8",
  };
  private readonly objects: string;
  private readonly tmp: string;
  private ready: Promise<void> | undefined;
  private tmpCounter = 0;

  constructor(options: LocalVolumeOptions) {
    this.name = options.name;
    this.root = options.root;
    this.objects = join(options.root, "objects");
    this.tmp = join(options.root, "tmp");
  }

  private async init(): Promise<void> {
    this.ready ??= (async () => {
      // Private: 0700 directories, 0600 objects (the bytes are the deployment's, not the machine's).
      await mkdir(this.objects, { recursive: true, mode: 0o700 });
      await mkdir(this.tmp, { recursive: true, mode: 0o700 });
      await this.sweepTemp();
    })().catch((err) => {
      this.ready = undefined;
      throw this.mapError(err, "prepare the volume directory", "");
    });
    await this.ready;
  }

  /**
   * Remove temp files left by puts that crashed (older than STALE_TEMP_MS, so that a put still
   * running in another process sharing this root is not disturbed). They were never visible.
   */
  private async sweepTemp(): Promise<void> {
    const cutoff = Date.now() - STALE_TEMP_MS;
    for (const name of await readdir(this.tmp)) {
      const path = join(this.tmp, name);
      try {
        if ((await stat(path)).mtimeMs < cutoff) await unlink(path);
      } catch {
        // Gone already, or not ours to remove: harmless either way.
      }
    }
  }

  /** Path of the object file for `key` (also checks segment lengths). */
  pathOf(key: string): string {
    const segments = key.split("/");
    const parts = segments.map((segment, i) => {
      if (Buffer.byteLength(segment, "utf8") > MAX_SEGMENT_BYTES) {
        throw new StrataError(
          "ENAMETOOLONG",
          `volume \`${this.name}\` (local directory) cannot store key ${JSON.stringify(key)}: a segment is longer than ` +
            `${MAX_SEGMENT_BYTES} UTF-8 bytes, the file system's limit. Use shorter segments between '/'`,
          { details: { volume: this.name, key } },
        );
      }
      return i === segments.length - 1 ? `${segment}.o` : `${segment}.d`;
    });
    return join(this.objects, ...parts);
  }

  async put(key: string, body: PutBody, options: DriverPutOptions): Promise<ObjectInfo> {
    await this.init();
    const target = this.pathOf(key);
    const metadata = Buffer.from(JSON.stringify(options.metadata), "utf8");
    const temp = join(this.tmp, `${process.pid}-${Date.now().toString(36)}-${this.tmpCounter++}`);
    let handle: FileHandle | undefined;
    try {
      handle = await open(temp, "wx", 0o600);
      // The header (with CRC and size zero until the end) goes out with the first data write;
      // a body smaller than WRITE_BATCH becomes a single write of the whole file.
      const header = Buffer.alloc(dataOffsetFor(metadata.length));
      MAGIC.copy(header, 0);
      header.writeUInt32BE(metadata.length, 20);
      metadata.copy(header, FIXED);
      let headerWritten = false;
      let at = header.length;
      let batch: Uint8Array[] = [];
      let batched = 0;
      // One write in flight while the body yields (and the wrapper checksums) the next chunk.
      let pending: Promise<unknown> | undefined;
      const write = async (data: Uint8Array) => {
        await pending;
        if (!headerWritten) {
          headerWritten = true;
          await handle!.write(header, 0, header.length, 0);
        }
        pending = handle!.write(data, 0, data.byteLength, at);
        pending.catch(() => {}); // awaited below; never an unhandled rejection meanwhile
        at += data.byteLength;
      };
      const flush = async () => {
        if (batched === 0) return;
        const data = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
        batch = [];
        batched = 0;
        await write(data);
      };
      try {
        for await (const chunk of body) {
          options.signal?.throwIfAborted();
          if (chunk.byteLength >= WRITE_BATCH) {
            await flush();
            await write(chunk);
            continue;
          }
          batch.push(chunk);
          batched += chunk.byteLength;
          if (batched >= WRITE_BATCH) await flush();
        }
        if (headerWritten) await flush();
      } finally {
        await pending?.catch(() => {});
      }
      await pending;
      const crc = body.crc32c() >>> 0;
      const size = body.size();
      if (headerWritten) {
        const sums = Buffer.alloc(12);
        sums.writeUInt32BE(crc, 0);
        sums.writeDoubleBE(size, 4);
        await handle.write(sums, 0, 12, 8);
      } else {
        header.writeUInt32BE(crc, 8);
        header.writeDoubleBE(size, 12);
        const whole = batched === 0 ? header : Buffer.concat([header, ...batch]);
        await handle.write(whole, 0, whole.length, 0);
      }
      await handle.datasync();
      await handle.close();
      handle = undefined;
      await this.place(temp, target, key, options.ifNoneMatch);
      return { key, size, crc32c: crc, metadata: { ...options.metadata }, lastModified: new Date() };
    } catch (err) {
      await handle?.close().catch(() => {});
      await unlink(temp).catch(() => {});
      throw this.mapError(err, "store", key);
    }
  }

  /** Move a finished temp file into place: link (create-only) or rename; then fsync the directory. */
  private async place(temp: string, target: string, key: string, createOnly: boolean): Promise<void> {
    const dir = join(target, "..");
    // A concurrent delete may remove an empty parent between mkdir and rename: retry a few times.
    for (let tries = 0; ; tries++) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      try {
        if (createOnly) {
          await link(temp, target);
          await unlink(temp);
        } else {
          await rename(temp, target);
        }
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EEXIST" && createOnly) {
          throw new StrataError(
            "EEXIST",
            `volume \`${this.name}\`: key ${JSON.stringify(key)} already exists and the put was create-only; nothing was changed`,
            { details: { volume: this.name, key } },
          );
        }
        if (code !== "ENOENT" || tries >= 5) throw err;
      }
    }
    await fsyncDir(dir);
  }

  async get(key: string, options: DriverGetOptions): Promise<GetResult> {
    await this.init();
    const { handle, header, first } = await this.openObject(key, SMALL_READ);
    const start = Math.min(options.range?.start ?? 0, header.size);
    const end = Math.min(options.range?.end ?? header.size, header.size);
    const info: ObjectInfo = { key, size: header.size, crc32c: header.crc32c, metadata: header.metadata };
    if (end <= start || header.dataOffset + end <= first.length) {
      // Empty, or small enough to be in the first read already: no stream, the file is closed now.
      await handle.close();
      const bytes = first.subarray(header.dataOffset + start, header.dataOffset + end);
      return { info, body: oneChunk(bytes) };
    }
    const stream = handle.createReadStream({
      start: header.dataOffset + start,
      end: header.dataOffset + end - 1,
      highWaterMark: 1024 * 1024,
      autoClose: true,
      signal: options.signal,
    });
    const mapError = (err: unknown) => this.mapError(err, "read", key);
    async function* body(): AsyncGenerator<Uint8Array> {
      try {
        for await (const chunk of stream) yield chunk as Buffer;
      } catch (err) {
        throw mapError(err);
      } finally {
        stream.destroy();
      }
    }
    return { info, body: body() };
  }

  async head(key: string): Promise<ObjectInfo> {
    await this.init();
    const { handle, header } = await this.openObject(key, HEADER_READ);
    await handle.close();
    return { key, size: header.size, crc32c: header.crc32c, metadata: header.metadata };
  }

  /** Open the object and parse its header from one read of `prefetch` bytes (returned as `first`). */
  private async openObject(
    key: string,
    prefetch: number,
  ): Promise<{ handle: FileHandle; header: Header; first: Buffer }> {
    const path = this.pathOf(key);
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (err) {
      throw this.mapError(err, "read", key);
    }
    try {
      const buffer = Buffer.allocUnsafe(prefetch);
      const { bytesRead } = await handle.read(buffer, 0, prefetch, 0);
      const first = buffer.subarray(0, bytesRead);
      return { handle, header: await this.parseHeader(handle, key, first), first };
    } catch (err) {
      await handle.close().catch(() => {});
      throw this.mapError(err, "read", key);
    }
  }

  /** Parse the header at the start of `first`; reads the rest of the metadata if it is longer. */
  private async parseHeader(handle: FileHandle, key: string, first: Buffer): Promise<Header> {
    if (first.length < FIXED || !first.subarray(0, 8).equals(MAGIC)) {
      throw new StrataError(
        "ECORRUPT",
        `volume \`${this.name}\`: the file of key ${JSON.stringify(key)} has no valid strata header; it was changed ` +
          `outside strata. Restore it from another copy`,
        { details: { volume: this.name, key } },
      );
    }
    const metadataLength = first.readUInt32BE(20);
    let raw = first.subarray(FIXED, FIXED + metadataLength);
    if (raw.length < metadataLength) {
      raw = Buffer.alloc(metadataLength);
      await handle.read(raw, 0, metadataLength, FIXED);
    }
    let metadata: Record<string, string>;
    try {
      metadata = JSON.parse(raw.toString("utf8")) as Record<string, string>;
    } catch (cause) {
      throw new StrataError(
        "ECORRUPT",
        `volume \`${this.name}\`: the metadata of key ${JSON.stringify(key)} is unreadable; restore it from another copy`,
        { details: { volume: this.name, key }, cause },
      );
    }
    return {
      crc32c: first.readUInt32BE(8),
      size: first.readDoubleBE(12),
      metadata,
      dataOffset: dataOffsetFor(metadataLength),
    };
  }

  async list(prefix: string, options: { cursor?: string; limit?: number } = {}): Promise<ListPage> {
    await this.init();
    const limit = Math.min(Math.max(1, options.limit ?? LIST_MAX), LIST_MAX);
    let after: Buffer | undefined;
    if (options.cursor !== undefined) {
      after = Buffer.from(options.cursor, "base64url");
      if (after.length === 0) {
        throw new StrataError(
          "EINVAL",
          `volume \`${this.name}\`: list cursor ${JSON.stringify(options.cursor)} is not valid`,
          {
            details: { volume: this.name, prefix },
          },
        );
      }
    }
    const wanted = Buffer.from(prefix, "utf8");
    const found: ListEntry[] = [];
    try {
      await this.walk(this.objects, "", wanted, after, limit + 1, found);
    } catch (err) {
      throw this.mapError(err, "list", prefix);
    }
    if (found.length > limit) {
      const entries = found.slice(0, limit);
      return { entries, cursor: Buffer.from(entries[entries.length - 1]!.key, "utf8").toString("base64url") };
    }
    return { entries: found };
  }

  /**
   * Depth-first walk in UTF-8 byte order of the keys. A directory `x.d` holds keys starting with
   * `x/`, a file `x.o` is key `x`; sorting entries by those key fragments sorts the keys.
   */
  private async walk(
    dir: string,
    keyPrefix: string,
    wanted: Buffer,
    after: Buffer | undefined,
    max: number,
    out: ListEntry[],
  ): Promise<void> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    const entries: { name: string; key: string; bytes: Buffer; isDir: boolean }[] = [];
    for (const name of names) {
      const isDir = name.endsWith(".d");
      if (!isDir && !name.endsWith(".o")) continue;
      const key = keyPrefix + name.slice(0, -2) + (isDir ? "/" : "");
      const bytes = Buffer.from(key, "utf8");
      // Prefix filter: a file must start with the prefix; a directory must be on its path.
      const n = Math.min(bytes.length, wanted.length);
      if (bytes.compare(wanted, 0, n, 0, n) !== 0) continue;
      if (!isDir && bytes.length < wanted.length) continue;
      if (after) {
        // Skip what is at or before the cursor: a file ≤ cursor, a directory whose keys are all < cursor.
        if (!isDir && Buffer.compare(bytes, after) <= 0) continue;
        if (isDir && Buffer.compare(bytes, after) < 0 && !startsWith(after, bytes)) continue;
      }
      entries.push({ name, key, bytes, isDir });
    }
    entries.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
    for (const entry of entries) {
      if (out.length >= max) return;
      const path = join(dir, entry.name);
      if (entry.isDir) {
        await this.walk(path, entry.key, wanted, after, max, out);
      } else {
        const size = await this.sizeOf(path);
        if (size !== undefined) out.push({ key: entry.key, size });
      }
    }
  }

  /** Data size from the header; undefined if the file vanished meanwhile. */
  private async sizeOf(path: string): Promise<number | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    try {
      const fixed = Buffer.alloc(FIXED);
      await handle.read(fixed, 0, FIXED, 0);
      return fixed.readDoubleBE(12);
    } finally {
      await handle.close();
    }
  }

  async delete(key: string): Promise<void> {
    await this.init();
    const path = this.pathOf(key);
    try {
      await unlink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw this.mapError(err, "delete", key);
    }
    // Remove parents left empty; stop at the first that is not (cheap: one rmdir per level).
    let dir = join(path, "..");
    while (dir.length > this.objects.length && dir.startsWith(this.objects)) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
      dir = join(dir, "..");
    }
  }

  /** Server-side copy: the file system copies the object file (header included), then it is placed like a put. */
  async copy(sourceKey: string, targetKey: string, options: { ifNoneMatch: boolean }): Promise<ObjectInfo> {
    await this.init();
    const source = this.pathOf(sourceKey);
    const target = this.pathOf(targetKey);
    const temp = join(this.tmp, `${process.pid}-${Date.now().toString(36)}-${this.tmpCounter++}`);
    try {
      await copyFile(source, temp, constants.COPYFILE_FICLONE);
      const handle = await open(temp, "r+");
      let header: Header;
      try {
        const first = Buffer.allocUnsafe(HEADER_READ);
        const { bytesRead } = await handle.read(first, 0, HEADER_READ, 0);
        header = await this.parseHeader(handle, sourceKey, first.subarray(0, bytesRead));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.place(temp, target, targetKey, options.ifNoneMatch);
      return { key: targetKey, size: header.size, crc32c: header.crc32c, metadata: header.metadata };
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw this.mapError(err, "copy", sourceKey);
    }
  }

  /** Translate a node:fs error into a StrataError naming the volume, the key and what to do. */
  private mapError(err: unknown, doing: string, key: string): StrataError {
    if (err instanceof StrataError) return err;
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    const where = `volume \`${this.name}\` (directory ${this.root})`;
    const details = { volume: this.name, key };
    const what = key === "" ? doing : `${doing} key ${JSON.stringify(key)}`;
    const make = (c: ConstructorParameters<typeof StrataError>[0], text: string) =>
      new StrataError(c, `${where} could not ${what}: ${text}`, { details, cause: err });
    switch (code) {
      case "ENOENT":
      case "ENOTDIR":
        return make("ENOENT", "no such object");
      case "EACCES":
      case "EPERM":
        return make(
          "EACCES",
          "permission denied. Give the strata process read/write access to the directory",
        );
      case "ENOSPC":
      case "EDQUOT":
        return make("EUNAVAIL", "the disk is full. Free space on it or move the volume to a larger disk");
      case "EMFILE":
      case "ENFILE":
        return make(
          "ETHROTTLED",
          "too many open files. Lower concurrency or raise the open-file limit (ulimit -n)",
        );
      case "ENAMETOOLONG":
        return make("ENAMETOOLONG", "a path is too long for the file system. Use shorter keys");
      case "EROFS":
        return make("EUNAVAIL", "the file system is read-only. Remount it read-write");
      case "EIO":
        return make("EIO", "the disk reported an I/O error. Check the device");
      case "ABORT_ERR":
        return make("EABORTED", "the caller aborted");
      default:
        if ((err as Error | undefined)?.name === "AbortError") return make("EABORTED", "the caller aborted");
        return make("EIO", `unexpected file-system error ${code ?? String(err)}`);
    }
  }
}

/** Data starts at the first 4 KiB boundary after the header: aligned writes are markedly faster. */
function dataOffsetFor(metadataLength: number): number {
  return Math.ceil((FIXED + metadataLength) / 4096) * 4096;
}

function startsWith(bytes: Buffer, prefix: Buffer): boolean {
  return bytes.length >= prefix.length && bytes.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

async function* oneChunk(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  if (bytes.length > 0) yield bytes;
}

async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch {
    // Some platforms cannot fsync a directory; the rename itself is still atomic.
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * Flip one stored data byte of `key` in place, keeping the recorded CRC32C: for tests of
 * corruption detection (the conformance suite's `corruptAtRest`). Objects of 0 bytes are left alone.
 */
export async function corruptLocalObject(driver: LocalVolumeDriver, key: string, offset = 0): Promise<void> {
  const handle = await open(driver.pathOf(key), "r+");
  try {
    const fixed = Buffer.alloc(FIXED);
    await handle.read(fixed, 0, FIXED, 0);
    const size = fixed.readDoubleBE(12);
    if (size === 0) return;
    const at = dataOffsetFor(fixed.readUInt32BE(20)) + Math.min(offset, size - 1);
    const one = Buffer.alloc(1);
    await handle.read(one, 0, 1, at);
    one[0] = one[0]! ^ 0xff;
    await handle.write(one, 0, 1, at);
  } finally {
    await handle.close();
  }
}
