/**
 * The data plane's public contract: file contents as chunked, content-addressed (SHA-256),
 * CRC32C-checked objects on volumes, referenced by one namespace commit per write, readable as of
 * any time. The SDK (sdk/) and the HTTP API are built on this; docs/data.md describes the
 * protocol (chunk keys, chunk-instance records, intents, the read order).
 *
 * ```ts
 * const data = createDataPlane({ store, volumes: { local: new Volume(driver) }, defaultVolume: "local" });
 * const fs = createNamespace({ store }).pfs("main");
 * await data.writeFile(fs, "/a.bin", bytes);
 * const again = await data.readFile(fs, "/a.bin");
 * const before = await data.readFile(fs.asOf(tid), "/a.bin");   // the bytes as of `tid`
 * ```
 *
 * Errors are `StrataError`s with `details.path` (and `details.pfs`): the namespace engine's codes
 * (ENOENT, EISDIR, EEXIST, …), EINVAL for bad arguments (before anything is written), ECORRUPT
 * when no instance of a chunk has the right bytes, EUNAVAIL when no instance is reachable,
 * EABORTED when the caller's signal fired.
 */
import type { FileSystem, ReadableFileSystem, Stat } from "../namespace/api.ts";

export type { FileSystem, ReadableFileSystem, Stat } from "../namespace/api.ts";

/** A body to write: one buffer or a stream of buffers (a Node `Readable` is one). */
export type DataBody = Uint8Array | AsyncIterable<Uint8Array>;

export interface WriteFileOptions {
  /** Permission bits for a newly created file (default 0o644); ignored when replacing. */
  mode?: number;
  /** Fail with EEXIST when the path already exists (O_EXCL). */
  exclusive?: boolean;
  signal?: AbortSignal;
}

export interface ReadOptions {
  /** First byte (default 0). */
  start?: number;
  /** End, exclusive (default the file's size; clipped to it). */
  end?: number;
  signal?: AbortSignal;
}

/**
 * State of one chunk instance, as last recorded (scrub, core/maintenance/scrub.ts, repairs non-present ones).
 * `deleting`: vacuum is removing this instance (a lease; writers wait it out, readers try it last).
 */
export type InstanceState = "present" | "corrupt" | "missing" | "deleting";

/** Where one extent of a file lives. */
export interface ChunkPlacement {
  /** Byte offset of the extent in the file. */
  offset: number;
  length: number;
  /** SHA-256 of the chunk, lowercase hex. */
  chunk: string;
  crc32c: number;
  /** Every recorded instance of the chunk, one per volume. Empty for a chunk nobody recorded. */
  instances: Array<{ volume: string; state: InstanceState; site?: string }>;
}

/** Reported when a read met a bad instance and moved on to the next one. */
export interface BadInstanceReport {
  chunk: string;
  volume: string;
  /**
   * corrupt: the bytes failed their CRC (recorded on the instance); missing: the volume has no
   * such object (recorded); unavailable: the volume did not answer (in-memory health only).
   */
  state: "corrupt" | "missing" | "unavailable";
  /** The path being read when the instance failed. */
  path: string;
  pfs: string;
  error: unknown;
}

export interface DataPlane {
  /** Write a whole file (create or replace) from bytes or a stream; returns the new stat. */
  writeFile(fs: FileSystem, path: string, body: DataBody, options?: WriteFileOptions): Promise<Stat>;
  /** Append to a file (created when missing, as node:fs does); its full chunks are reused, not copied. */
  appendFile(fs: FileSystem, path: string, body: DataBody, options?: { signal?: AbortSignal }): Promise<Stat>;
  /** Cut or extend (with zeros) to `length` bytes; chunks below the cut are reused. */
  truncate(fs: FileSystem, path: string, length: number, options?: { signal?: AbortSignal }): Promise<Stat>;
  /** Stream a file or a byte range [start, end); as-of via a ReadableFileSystem from fs.asOf(t). */
  read(
    fs: ReadableFileSystem,
    path: string,
    options?: ReadOptions,
  ): Promise<{ stat: Stat; body: AsyncIterable<Uint8Array> }>;
  /** The whole file in memory. */
  readFile(fs: ReadableFileSystem, path: string, options?: { signal?: AbortSignal }): Promise<Uint8Array>;
  /** Which volumes hold which chunks of the file (as of the view given), and their state; `[]` for an inline file. */
  placement(fs: ReadableFileSystem, path: string): Promise<ChunkPlacement[]>;
  /**
   * Copy by reference (core/data/copy.ts): `to` gets the content of `from` — read through
   * `fromFs`, a live or an as-of view — in one commit that references the same chunks; no byte
   * moves. Replaces an existing file unless `exclusive` (EEXIST); EISDIR for a directory.
   */
  copyFile(
    fromFs: ReadableFileSystem,
    from: string,
    toFs: FileSystem,
    to: string,
    options?: { exclusive?: boolean; signal?: AbortSignal },
  ): Promise<Stat>;
}

/** The SHA-256 used for chunk addresses: lowercase hex of the digest. */
export type Sha256 = (bytes: Uint8Array) => Promise<string> | string;
