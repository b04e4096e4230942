/**
 * `createDataPlane(options)`: file contents as fixed-size, SHA-256-addressed, CRC32C-checked chunks
 * on volumes, referenced by one namespace commit per write (the protocol is in docs/data.md).
 *
 * Write: body → (≤ inlineThreshold bytes: inline in the commit, no object PUT) → fixed chunks →
 * intent item (chunk hashes announced before each upload) → per chunk and target volume: skip if a
 * present instance is recorded (dedup), else create-only put → instance record → one engine commit
 * (`create` / `writeContent`) → intent deleted (best effort).
 *
 * Read: stat (as-of through the view given) → extents → instances (one BatchGetItem for every
 * chunk × configured volume) → per chunk the best instance (reader's site, then cost, then recent
 * health) → the whole chunk read, its size and CRC32C checked → on ECORRUPT / ENOENT / unreachable
 * the next instance, the bad one reported (recorded as corrupt / missing, `onBadInstance`).
 */

import { concatBytes } from "../bytes.ts";
import { crc32c } from "../crc32c.ts";
import { isStrataError, StrataError } from "../errors.ts";
import type { Item, MetadataStore } from "../metadata/port.ts";
import type { FileContent } from "../namespace/api.ts";
import type { Volume } from "../volume/volume.ts";
import type {
  BadInstanceReport,
  ChunkPlacement,
  DataBody,
  DataPlane,
  FileSystem,
  InstanceState,
  ReadableFileSystem,
  ReadOptions,
  Sha256,
  Stat,
  WriteFileOptions,
} from "./api.ts";
import { copyOf, fixedChunks, prepend, zeros } from "./chunker.ts";
import { ensureInstance, Intent, markBad, orderCopies, recordAfterSettle, recordPresent } from "./chunks.ts";
import { chunkObjectKey, chunkPk, configKey, decodeInstance, instanceKey } from "./records.ts";

const MiB = 1024 * 1024;

/** One extent of a file: always one whole chunk. */
export type Extent = NonNullable<FileContent["extents"]>[number];

/** A volume in the registry, with what the reader weighs when choosing an instance. */
export interface VolumeEntry {
  volume: Volume;
  /** Site the volume is in ("aws-eu-west-1", "onprem-a", …); readers prefer their own site. */
  site?: string;
  /** Relative cost of reading from it (egress, request price); lower is preferred. Default 1. */
  cost?: number;
}

/** What `chooseVolumes` is told about the file being written. */
export interface FileToPlace {
  pfs: string;
  path: string;
  /** The PFS's default volume (its config record, else the plane's `defaultVolume`). */
  defaultVolume: string;
}

export interface DataPlaneOptions {
  store: MetadataStore;
  /** Every volume this process can reach, by the name recorded in instance records. */
  volumes: Record<string, Volume | VolumeEntry>;
  /** Where chunks go when the PFS has no default of its own and `chooseVolumes` is absent. */
  defaultVolume: string;
  /** The reader's site: instances on volumes of this site are read first. */
  site?: string;
  /** Chunk size in bytes (default 8 MiB; 64 KiB .. 512 MiB). A file holds at most 1,000 chunks. */
  chunkSize?: number;
  /** Files of at most this many bytes live inline in the file's metadata (default 4 KiB, max 64 KiB). */
  inlineThreshold?: number;
  /** Chunks uploaded (and read ahead) at once per call (default 4): memory ≈ parallelism × chunkSize. */
  parallelism?: number;
  /** SHA-256 as lowercase hex (default WebCrypto `crypto.subtle`). */
  sha256?: Sha256;
  /**
   * Placement hook (objectives: adapters/workflows/placement.ts passes the planner's choice): the volumes a new file's chunks go to, one
   * instance each. Default: `[file.defaultVolume]`.
   */
  chooseVolumes?: (file: FileToPlace) => string[] | Promise<string[]>;
  /** Called for every bad instance a read met (after the record was updated). Must not throw. */
  onBadInstance?: (report: BadInstanceReport) => void;
  /** An intent's lifetime, renewed with every chunk announced (default 1 hour). */
  intentTtlMs?: number;
  /** How long a volume's read failures count against it (default 60 s). */
  healthWindowMs?: number;
  /** How long a PFS's config record is cached (default 30 s). */
  configTtlMs?: number;
  /**
   * A dynamic volume set (volume records, core/placement/volumes.ts): asked before a write chooses its volumes and
   * before a read looks up instances, at most once per `volumesTtlMs` (default 5 s). Its volumes
   * are added to those in `volumes` (same name: the source's wins); a name it stops returning is
   * dropped unless `volumes` has it.
   */
  volumeSource?: () => Promise<Record<string, Volume | VolumeEntry>>;
  volumesTtlMs?: number;
  /**
   * Attempts of an append or truncate that keeps losing the race to concurrent changes of the same
   * file before it fails with ECONFLICT (default 16).
   */
  appendAttempts?: number;
  /** Injectable clock (ms since epoch). */
  clock?: () => number;
  /** Injectable pause while a vacuum `deleting` lease is waited out (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
}

/** Operations beyond `DataPlane` for operators and tests. */
export interface DataPlaneAdmin {
  /** Set the volume new chunks of `pfs` go to (its `datacfg#<pfs>` record). */
  setDefaultVolume(pfs: string, volume: string): Promise<void>;
  /** The PFS's default volume. */
  defaultVolume(pfs: string): Promise<string>;
  readonly chunkSize: number;
  readonly inlineThreshold: number;
}

export const DATA_DEFAULTS = {
  chunkSize: 8 * MiB,
  inlineThreshold: 4096,
  parallelism: 4,
  intentTtlMs: 60 * 60 * 1000,
  healthWindowMs: 60 * 1000,
  configTtlMs: 30 * 1000,
  appendAttempts: 16,
  /** The namespace engine's limit on extents per version: the largest file is this × chunkSize. */
  maxChunksPerFile: 1000,
} as const;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += HEX[b];
  return out;
}

/** SHA-256 through WebCrypto (a global in Node ≥ 20 and in browsers/workers). */
export const webCryptoSha256: Sha256 = async (bytes) =>
  toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));

export function createDataPlane(options: DataPlaneOptions): DataPlane & DataPlaneAdmin {
  return new StrataDataPlane(options);
}

interface Candidate {
  name: string;
  entry: Required<Pick<VolumeEntry, "cost">> & VolumeEntry;
  state: InstanceState | undefined;
}

/** Per-call context: where errors point and what cancels. */
interface Call {
  pfs: string;
  path: string;
  signal: AbortSignal | undefined;
}

/** Attach the path (and PFS) to an error on its way out; turn an abort into EABORTED. */
function located(err: unknown, call: Call): unknown {
  if (call.signal?.aborted && !isStrataError(err, "EABORTED")) {
    return new StrataError("EABORTED", `${call.pfs}:${call.path}: the caller aborted`, {
      cause: call.signal.reason,
      details: { path: call.path, pfs: call.pfs },
    });
  }
  if (err instanceof StrataError) {
    if (err.details.path === undefined) err.details.path = call.path;
    if (err.details.pfs === undefined) err.details.pfs = call.pfs;
    return err;
  }
  return new StrataError("EIO", `${call.pfs}:${call.path}: ${String(err)}`, {
    cause: err,
    details: { path: call.path, pfs: call.pfs },
  });
}

function checkAbort(call: Call): void {
  if (call.signal?.aborted) throw located(call.signal.reason, call);
}

/** The first `limit + 1` bytes of a body (or all of it if shorter), and the rest of it. */
async function peek(
  body: DataBody,
  limit: number,
): Promise<{ head: Uint8Array; done: boolean; rest: AsyncIterable<Uint8Array> }> {
  if (body instanceof Uint8Array) {
    const done = body.byteLength <= limit;
    return { head: body, done, rest: (async function* () {})() };
  }
  const iterator = body[Symbol.asyncIterator]();
  const parts: Uint8Array[] = [];
  let size = 0;
  while (size <= limit) {
    const next = await iterator.next();
    if (next.done) return { head: concatBytes(parts, size), done: true, rest: (async function* () {})() };
    if (next.value.byteLength === 0) continue;
    parts.push(copyOf(next.value));
    size += next.value.byteLength;
  }
  const rest: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => iterator,
  };
  return { head: concatBytes(parts, size), done: false, rest };
}

class StrataDataPlane implements DataPlane, DataPlaneAdmin {
  readonly chunkSize: number;
  readonly inlineThreshold: number;
  private readonly store: MetadataStore;
  private readonly volumes = new Map<string, Candidate["entry"]>();
  private readonly fallbackVolume: string;
  private readonly site: string | undefined;
  private readonly parallelism: number;
  private readonly sha256: Sha256;
  private readonly chooseVolumes: DataPlaneOptions["chooseVolumes"];
  private readonly onBadInstance: DataPlaneOptions["onBadInstance"];
  private readonly intentTtlMs: number;
  private readonly healthWindowMs: number;
  private readonly configTtlMs: number;
  private readonly clock: () => number;
  private readonly sleep: ((ms: number) => Promise<void>) | undefined;
  private readonly appendAttempts: number;
  /** Recent read failures per volume (times), for the health tie-break. */
  private readonly failures = new Map<string, number[]>();
  private readonly configCache = new Map<string, { volume: string; until: number }>();
  private readonly volumeSource: DataPlaneOptions["volumeSource"];
  private readonly volumesTtlMs: number;
  private readonly staticVolumes = new Map<string, Candidate["entry"]>();
  private volumesUntil = 0;
  private volumesLoading: Promise<void> | undefined;

  constructor(options: DataPlaneOptions) {
    const invalid = (message: string) => new StrataError("EINVAL", `data plane: ${message}`);
    this.store = options.store;
    for (const [name, given] of Object.entries(options.volumes)) {
      const entry = "volume" in given ? given : { volume: given };
      this.volumes.set(name, { ...entry, cost: entry.cost ?? 1 });
    }
    // With a volume source the default may be a record only (checked when a write chooses it).
    if (!this.volumes.has(options.defaultVolume) && !options.volumeSource)
      throw invalid(`defaultVolume \`${options.defaultVolume}\` is not among the volumes given`);
    this.fallbackVolume = options.defaultVolume;
    this.site = options.site;
    this.chunkSize = options.chunkSize ?? DATA_DEFAULTS.chunkSize;
    if (!Number.isSafeInteger(this.chunkSize) || this.chunkSize < 64 * 1024 || this.chunkSize > 512 * MiB)
      throw invalid(`chunkSize ${this.chunkSize} is not an integer in 64 KiB .. 512 MiB`);
    this.inlineThreshold = options.inlineThreshold ?? DATA_DEFAULTS.inlineThreshold;
    if (
      !Number.isSafeInteger(this.inlineThreshold) ||
      this.inlineThreshold < 0 ||
      this.inlineThreshold > 64 * 1024
    )
      throw invalid(`inlineThreshold ${this.inlineThreshold} is not an integer in 0 .. 64 KiB`);
    this.parallelism = options.parallelism ?? DATA_DEFAULTS.parallelism;
    if (!Number.isSafeInteger(this.parallelism) || this.parallelism < 1 || this.parallelism > 64)
      throw invalid(`parallelism ${this.parallelism} is not an integer in 1..64`);
    this.sha256 = options.sha256 ?? webCryptoSha256;
    this.chooseVolumes = options.chooseVolumes;
    this.onBadInstance = options.onBadInstance;
    this.intentTtlMs = options.intentTtlMs ?? DATA_DEFAULTS.intentTtlMs;
    this.healthWindowMs = options.healthWindowMs ?? DATA_DEFAULTS.healthWindowMs;
    this.configTtlMs = options.configTtlMs ?? DATA_DEFAULTS.configTtlMs;
    this.volumeSource = options.volumeSource;
    this.volumesTtlMs = options.volumesTtlMs ?? 5_000;
    for (const [name, entry] of this.volumes) this.staticVolumes.set(name, entry);
    this.clock = options.clock ?? Date.now;
    this.sleep = options.sleep;
    this.appendAttempts = options.appendAttempts ?? DATA_DEFAULTS.appendAttempts;
    if (!Number.isSafeInteger(this.appendAttempts) || this.appendAttempts < 1)
      throw invalid(`appendAttempts ${this.appendAttempts} is not an integer ≥ 1`);
  }

  // ---- configuration ----

  /** Merge the dynamic volume set in, when its cache expired (one load at a time). */
  private async refreshVolumes(): Promise<void> {
    if (!this.volumeSource || this.clock() < this.volumesUntil) return;
    this.volumesLoading ??= (async () => {
      try {
        const loaded = await this.volumeSource!();
        for (const name of [...this.volumes.keys()])
          if (!(name in loaded) && !this.staticVolumes.has(name)) this.volumes.delete(name);
        for (const name of this.staticVolumes.keys())
          if (!(name in loaded)) this.volumes.set(name, this.staticVolumes.get(name)!);
        for (const [name, given] of Object.entries(loaded)) {
          const entry = "volume" in given ? given : { volume: given };
          this.volumes.set(name, { ...entry, cost: entry.cost ?? 1 });
        }
        this.volumesUntil = this.clock() + this.volumesTtlMs;
      } finally {
        this.volumesLoading = undefined;
      }
    })();
    await this.volumesLoading;
  }

  async setDefaultVolume(pfs: string, volume: string): Promise<void> {
    await this.refreshVolumes();
    if (!this.volumes.has(volume))
      throw new StrataError("EINVAL", `data plane: volume \`${volume}\` is not configured`, {
        details: { pfs, volume },
      });
    await this.store.put({ ...configKey(pfs), defaultVolume: volume, time: this.clock() });
    this.configCache.set(pfs, { volume, until: this.clock() + this.configTtlMs });
  }

  async defaultVolume(pfs: string): Promise<string> {
    const cached = this.configCache.get(pfs);
    if (cached && cached.until > this.clock()) return cached.volume;
    const item = await this.store.get(configKey(pfs));
    const volume = typeof item?.defaultVolume === "string" ? item.defaultVolume : this.fallbackVolume;
    this.configCache.set(pfs, { volume, until: this.clock() + this.configTtlMs });
    return volume;
  }

  private async targetVolumes(call: Call): Promise<string[]> {
    await this.refreshVolumes();
    const defaultVolume = await this.defaultVolume(call.pfs);
    const chosen = this.chooseVolumes
      ? await this.chooseVolumes({ pfs: call.pfs, path: call.path, defaultVolume })
      : [defaultVolume];
    const names = [...new Set(chosen)];
    if (names.length === 0)
      throw new StrataError("EINVAL", `${call.pfs}:${call.path}: chooseVolumes returned no volume`, {
        details: { path: call.path, pfs: call.pfs },
      });
    for (const name of names) {
      if (!this.volumes.has(name))
        throw new StrataError(
          "EINVAL",
          `${call.pfs}:${call.path}: volume \`${name}\` is chosen for the data but not configured in this data plane. Add it to \`volumes\``,
          { details: { path: call.path, pfs: call.pfs, volume: name } },
        );
    }
    return names;
  }

  // ---- write ----

  async writeFile(
    fs: FileSystem,
    path: string,
    body: DataBody,
    options: WriteFileOptions = {},
  ): Promise<Stat> {
    const call: Call = { pfs: fs.pfs, path, signal: options.signal };
    try {
      checkAbort(call);
      // A small file is one engine commit, with no look first (nothing to upload in vain).
      const { head, done, rest } = await peek(body, this.inlineThreshold);
      if (done)
        return await this.commitWhole(fs, path, { size: head.byteLength, inline: head }, false, options);
      const existing = await statOrUndefined(fs, path);
      if (existing?.type === "dir")
        throw new StrataError("EISDIR", `${call.pfs}:${path} is a directory; write to a file path`, {
          details: { path, pfs: call.pfs },
        });
      if (existing && options.exclusive)
        throw new StrataError("EEXIST", `${call.pfs}:${path} already exists (exclusive write)`, {
          details: { path, pfs: call.pfs },
        });
      const source = body instanceof Uint8Array ? body : prepend(head, rest);
      const stored = await this.storeContent(call, [], 0, source);
      const stat = await this.commitWhole(fs, path, stored.content, existing !== undefined, options);
      await stored.done();
      return stat;
    } catch (err) {
      throw located(err, call);
    }
  }

  /**
   * Read-modify-write, safe under concurrency: each attempt reads the live version, stores the new
   * content and commits it only if that version is still live (`writeContent`'s `ifVersion`; a
   * create for a missing file). A lost race re-reads and re-plans, at most `appendAttempts` times.
   * The appended bytes are not held for a retry: they are read back from the chunks the lost
   * attempt uploaded (its intent stays, for vacuum, like any uncommitted upload's).
   */
  async appendFile(
    fs: FileSystem,
    path: string,
    body: DataBody,
    options: { signal?: AbortSignal } = {},
  ): Promise<Stat> {
    const call: Call = { pfs: fs.pfs, path, signal: options.signal };
    try {
      checkAbort(call);
      let source: DataBody = body;
      for (let attempt = 1; ; attempt++) {
        const existing = await statOrUndefined(fs, path);
        const content = existing ? fileContent(existing, call) : { size: 0 };
        const plan = await this.appendPlan(call, content, source);
        const stored = await this.storeContent(call, plan.kept, plan.base, plan.source);
        let stat: Stat;
        try {
          stat = existing
            ? await fs.writeContent(path, stored.content, { ifVersion: existing.tid })
            : await fs.create(path, { content: stored.content });
        } catch (err) {
          // Lost a race: the version changed, the file appeared, or it was unlinked (then it is created).
          const lost = existing
            ? isStrataError(err, "ECONFLICT") || isStrataError(err, "ENOENT")
            : isStrataError(err, "EEXIST");
          if (!lost || attempt >= this.appendAttempts) throw err;
          source = this.bytesFrom(call, stored.content, content.size);
          await this.backoff(attempt);
          continue;
        }
        await stored.done();
        return stat;
      }
    } catch (err) {
      throw located(err, call);
    }
  }

  /** What an append of `body` to `content` stores: full chunks kept, the partial tail re-chunked. */
  private async appendPlan(
    call: Call,
    content: FileContent,
    body: DataBody,
  ): Promise<{ kept: Extent[]; base: number; source: DataBody }> {
    if (content.inline !== undefined || !content.extents || content.extents.length === 0)
      return { kept: [], base: 0, source: prepend(content.inline ?? new Uint8Array(content.size), body) };
    const extents = sortedExtents(content);
    const last = extents.at(-1)!;
    if (last.length === this.chunkSize && last.offset + last.length === content.size)
      return { kept: extents, base: content.size, source: body };
    // The partial tail chunk is re-chunked with the new bytes; every full chunk is reused.
    const tail = await this.fetchExtents(call, [last]);
    return { kept: extents.slice(0, -1), base: last.offset, source: prepend(tail[0]!, body) };
  }

  /** Bytes [from, size) of content stored by this plane (a lost append's own bytes, for its retry). */
  private bytesFrom(call: Call, content: FileContent, from: number): DataBody {
    if (content.inline !== undefined || !content.extents)
      return copyOf(content.inline ?? new Uint8Array(content.size), from);
    const wanted = sortedExtents(content).filter((e) => e.offset + e.length > from);
    const plane = this;
    return (async function* () {
      const candidates = await plane.candidates(wanted.map((e) => e.chunk));
      yield* plane.stream(call, wanted, candidates, from, content.size);
    })();
  }

  /** A short jittered pause before re-reading after a lost race (grows with the attempt). */
  private async backoff(attempt: number): Promise<void> {
    const ms = Math.random() * Math.min(2 ** attempt, 100);
    await new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Cut or extend, as a compare-and-swap on the version read, retried like appendFile. */
  async truncate(
    fs: FileSystem,
    path: string,
    length: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<Stat> {
    const call: Call = { pfs: fs.pfs, path, signal: options.signal };
    try {
      if (!Number.isSafeInteger(length) || length < 0)
        throw new StrataError(
          "EINVAL",
          `${call.pfs}:${path}: truncate length ${length} is not an integer ≥ 0`,
          {
            details: { path, pfs: call.pfs },
          },
        );
      for (let attempt = 1; ; attempt++) {
        checkAbort(call);
        const existing = await fs.stat(path);
        const content = fileContent(existing, call);
        try {
          if (length === content.size)
            return await fs.writeContent(path, content, { ifVersion: existing.tid });
          const plan =
            length > content.size
              ? await this.appendPlan(call, content, zeros(length - content.size))
              : await this.truncatePlan(call, content, length);
          const stored = await this.storeContent(call, plan.kept, plan.base, plan.source);
          const stat = await fs.writeContent(path, stored.content, { ifVersion: existing.tid });
          await stored.done();
          return stat;
        } catch (err) {
          if (!isStrataError(err, "ECONFLICT") || attempt >= this.appendAttempts) throw err;
          await this.backoff(attempt);
        }
      }
    } catch (err) {
      throw located(err, call);
    }
  }

  /** What a truncate to `length` < size stores: chunks below the cut kept, the cut chunk re-stored. */
  private async truncatePlan(
    call: Call,
    content: FileContent,
    length: number,
  ): Promise<{ kept: Extent[]; base: number; source: DataBody }> {
    if (content.inline !== undefined || !content.extents || content.extents.length === 0)
      return { kept: [], base: 0, source: copyOf(content.inline ?? new Uint8Array(content.size), 0, length) };
    const extents = sortedExtents(content);
    let kept = extents.filter((e) => e.offset + e.length <= length);
    const cut = extents.find((e) => e.offset < length && e.offset + e.length > length);
    let base = kept.length > 0 ? kept.at(-1)!.offset + kept.at(-1)!.length : 0;
    let source: Uint8Array = new Uint8Array(0);
    if (cut) {
      const bytes = (await this.fetchExtents(call, [cut]))[0]!;
      source = bytes.subarray(0, length - cut.offset);
      base = cut.offset;
    }
    if (length <= this.inlineThreshold) {
      // Small again: back inline (the kept chunks are read, the file needs no object any more).
      const prefix = kept.length > 0 ? concatBytes(await this.fetchExtents(call, kept)) : new Uint8Array(0);
      source = concatBytes([prefix, source]).subarray(0, length);
      kept = [];
      base = 0;
    }
    return { kept, base, source };
  }

  /** create or writeContent, settling a race with a concurrent create/unlink of the same name. */
  private async commitWhole(
    fs: FileSystem,
    path: string,
    content: FileContent,
    exists: boolean,
    options: WriteFileOptions,
  ): Promise<Stat> {
    const create = () =>
      fs.create(path, { content, ...(options.mode !== undefined ? { mode: options.mode } : {}) });
    if (options.exclusive) return await create();
    // The path may flip between present and missing under us (a racing unlink or create): go back
    // and forth a few times, so a plain write never reports a lost race as ENOENT. A path that
    // keeps flipping is a dangling symlink (create: EEXIST, writeContent: ENOENT): its ENOENT.
    let present = exists;
    let missing: unknown;
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        return present ? await fs.writeContent(path, content) : await create();
      } catch (err) {
        if (!isStrataError(err, present ? "ENOENT" : "EEXIST")) throw err;
        if (present) missing = err;
        present = !present;
      }
    }
    throw missing;
  }

  /**
   * Turn `kept` extents + the bytes of `source` (starting at file offset `base`) into the content
   * to commit: inline when nothing is kept and the whole is ≤ inlineThreshold, else chunks stored
   * under an intent. `done()` deletes the intent once the commit succeeded (best effort).
   */
  private async storeContent(
    call: Call,
    kept: Extent[],
    base: number,
    source: DataBody,
  ): Promise<{ content: FileContent; done: () => Promise<void> }> {
    const nothing = async () => {};
    let body: DataBody = source;
    if (kept.length === 0 && base === 0) {
      const { head, done, rest } = await peek(source, this.inlineThreshold);
      if (done) return { content: { size: head.byteLength, inline: head }, done: nothing };
      body = source instanceof Uint8Array ? source : prepend(head, rest);
    }
    const intent = new Intent({
      store: this.store,
      pfs: call.pfs,
      path: call.path,
      volumes: await this.targetVolumes(call),
      ttlMs: this.intentTtlMs,
      clock: this.clock,
    });
    const added = await this.storeChunks(call, body, base, kept.length, intent);
    await intent.beforeCommit();
    const extents = [...kept, ...added];
    const last = extents.at(-1);
    const size = last ? last.offset + last.length : 0;
    return { content: size === 0 ? { size: 0 } : { size, extents }, done: () => intent.remove() };
  }

  /**
   * Chunk, hash, announce and upload with at most `parallelism` chunks in flight (each task holds
   * its chunk until stored): hashing of one chunk overlaps the uploads of the ones before it.
   *
   * Never returns or throws while an upload of this write is still running: when the body throws,
   * the caller's signal fires or one upload fails, the others are cancelled through the signal the
   * uploads share and then awaited (a caller that retries or cleans up never races its own puts).
   */
  private async storeChunks(
    call: Call,
    body: DataBody,
    base: number,
    keptCount: number,
    intent: Intent,
  ): Promise<Extent[]> {
    const extents: Extent[] = [];
    const inflight = new Set<Promise<void>>();
    /** Chunks of this write already being stored, by hash (a file may repeat a chunk). */
    const stored = new Map<string, Promise<void>>();
    const recorded: Item[] = [];
    let failure: { error: unknown } | undefined;
    // Cancels the uploads still running once this write has failed (the caller's signal does too).
    const stop = new AbortController();
    const uploads: Call = {
      ...call,
      signal: call.signal ? AbortSignal.any([call.signal, stop.signal]) : stop.signal,
    };
    let offset = base;
    let index = 0;
    try {
      for await (const chunk of fixedChunks(body, this.chunkSize)) {
        checkAbort(call);
        if (failure) break;
        if (keptCount + index >= DATA_DEFAULTS.maxChunksPerFile)
          throw new StrataError(
            "E2BIG",
            `${call.pfs}:${call.path}: a file holds at most ${DATA_DEFAULTS.maxChunksPerFile} chunks of ${this.chunkSize} bytes; use a larger chunkSize`,
            { details: { path: call.path, pfs: call.pfs } },
          );
        const i = index++;
        const at = offset;
        offset += chunk.byteLength;
        const task = (async () => {
          const sha = await this.sha256(chunk);
          const extent: Extent = {
            offset: at,
            length: chunk.byteLength,
            chunk: sha,
            crc32c: crc32c(chunk),
          };
          extents[i] = extent;
          let storing = stored.get(sha);
          if (!storing) {
            storing = intent.announce(sha).then(() => {
              checkAbort(uploads);
              return this.storeChunk(uploads, intent.volumes, extent, chunk, recorded);
            });
            stored.set(sha, storing);
          }
          await storing;
        })()
          .catch((error: unknown) => {
            failure ??= { error };
            stop.abort(error);
          })
          .finally(() => inflight.delete(task));
        inflight.add(task);
        while (inflight.size >= this.parallelism) await Promise.race(inflight);
      }
    } catch (err) {
      stop.abort(err);
      await Promise.allSettled(inflight);
      throw err;
    }
    await Promise.all(inflight);
    if (failure) throw failure.error;
    checkAbort(call);
    await this.recordInstances(call, recorded);
    return extents;
  }

  /**
   * One chunk onto every target volume through the chunk lifecycle (`ensureInstance`: a `deleting`
   * instance waited out, a present one reused, else a create-only put). The new instance records
   * are collected in `recorded` and written together after the last upload (one metadata write
   * per 100 instead of one per chunk: on SQLite each write is an fsync), with their conditions.
   */
  private async storeChunk(
    call: Call,
    volumes: string[],
    extent: Extent,
    bytes: Uint8Array,
    recorded: Item[],
  ): Promise<void> {
    const records = await this.store.batchGet(volumes.map((v) => instanceKey(extent.chunk, v)));
    const ref = { chunk: extent.chunk, size: bytes.byteLength, crc32c: extent.crc32c };
    await Promise.all(
      volumes.map((name, i) =>
        ensureInstance(this.store, { name, volume: this.volumes.get(name)!.volume }, ref, () => bytes, {
          clock: this.clock,
          ...(this.sleep ? { sleep: this.sleep } : {}),
          signal: call.signal,
          defer: recorded,
          known: records[i] ?? null,
        }),
      ),
    );
  }

  /** The deferred instance records, conditionally; any a vacuum marked meanwhile settled and retried. */
  private async recordInstances(call: Call, items: Item[]): Promise<void> {
    const failed = await recordPresent(this.store, items, this.clock());
    if (failed.length > 0)
      await recordAfterSettle(this.store, failed, (name) => this.volumes.get(name)?.volume, {
        clock: this.clock,
        ...(this.sleep ? { sleep: this.sleep } : {}),
        signal: call.signal,
      });
  }

  // ---- read ----

  async read(
    fs: ReadableFileSystem,
    path: string,
    options: ReadOptions = {},
  ): Promise<{ stat: Stat; body: AsyncIterable<Uint8Array> }> {
    const call: Call = { pfs: fs.pfs, path, signal: options.signal };
    try {
      checkAbort(call);
      const stat = await fs.stat(path);
      const content = fileContent(stat, call);
      const start = options.start ?? 0;
      const end = Math.min(options.end ?? content.size, content.size);
      if (
        !Number.isSafeInteger(start) ||
        start < 0 ||
        !Number.isSafeInteger(options.end ?? 0) ||
        (options.end ?? 0) < 0
      )
        throw new StrataError("EINVAL", `${call.pfs}:${path}: range start/end must be integers ≥ 0`, {
          details: { path, pfs: call.pfs, start: options.start, end: options.end },
        });
      if (options.end !== undefined && options.end < start)
        throw new StrataError(
          "EINVAL",
          `${call.pfs}:${path}: range end ${options.end} is before start ${start}`,
          {
            details: { path, pfs: call.pfs, start, end: options.end },
          },
        );
      if (start >= end) return { stat, body: (async function* () {})() };
      if (content.inline !== undefined || !content.extents) {
        const inline = content.inline ?? new Uint8Array(content.size);
        return {
          stat,
          body: (async function* () {
            yield copyOf(inline, start, end);
          })(),
        };
      }
      const wanted = sortedExtents(content).filter((e) => e.offset < end && e.offset + e.length > start);
      const candidates = await this.candidates(wanted.map((e) => e.chunk));
      return { stat, body: this.stream(call, wanted, candidates, start, end) };
    } catch (err) {
      throw located(err, call);
    }
  }

  async readFile(
    fs: ReadableFileSystem,
    path: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<Uint8Array> {
    const { stat, body } = await this.read(fs, path, options);
    const size = stat.content?.size ?? 0;
    const out = new Uint8Array(size);
    let at = 0;
    for await (const piece of body) {
      out.set(piece, at);
      at += piece.byteLength;
    }
    return at === size ? out : out.subarray(0, at);
  }

  async placement(fs: ReadableFileSystem, path: string): Promise<ChunkPlacement[]> {
    const call: Call = { pfs: fs.pfs, path, signal: undefined };
    try {
      await this.refreshVolumes();
      const stat = await fs.stat(path);
      const content = fileContent(stat, call);
      if (content.inline !== undefined || !content.extents) return [];
      const extents = sortedExtents(content);
      const byChunk = new Map<string, ChunkPlacement["instances"]>();
      for (const sha of new Set(extents.map((e) => e.chunk))) {
        const instances: ChunkPlacement["instances"] = [];
        let cursor: string | undefined;
        do {
          const page = await this.store.query(chunkPk(sha), {
            sk: { op: "beginsWith", value: "inst#" },
            cursor,
          });
          for (const item of page.items) {
            const r = decodeInstance(item);
            const site = this.volumes.get(r.volume)?.site;
            instances.push({ volume: r.volume, state: r.state, ...(site !== undefined ? { site } : {}) });
          }
          cursor = page.cursor;
        } while (cursor !== undefined);
        byChunk.set(sha, instances);
      }
      return extents.map((e) => ({ ...e, instances: byChunk.get(e.chunk) ?? [] }));
    } catch (err) {
      throw located(err, call);
    }
  }

  /** Recorded instances of each chunk on the volumes this plane knows: one BatchGetItem per 100. */
  private async candidates(chunks: string[]): Promise<Map<string, Candidate[]>> {
    await this.refreshVolumes();
    const unique = [...new Set(chunks)];
    const names = [...this.volumes.keys()];
    const keys = unique.flatMap((sha) => names.map((v) => instanceKey(sha, v)));
    const items = keys.length > 0 ? await this.store.batchGet(keys) : [];
    const out = new Map<string, Candidate[]>();
    unique.forEach((sha, i) => {
      const recorded: Candidate[] = [];
      names.forEach((name, j) => {
        const item: Item | undefined = items[i * names.length + j];
        if (item) recorded.push({ name, entry: this.volumes.get(name)!, state: decodeInstance(item).state });
      });
      // No record at all (records lost, or written by a tool that skipped them): try every volume.
      out.set(
        sha,
        recorded.length > 0
          ? recorded
          : names.map((name) => ({ name, entry: this.volumes.get(name)!, state: undefined })),
      );
    });
    return out;
  }

  /** Instances in the order they are tried: the chunk lifecycle's one chooser (`orderCopies`). */
  private order(candidates: Candidate[]): Candidate[] {
    const now = this.clock();
    const recentFailures = (name: string) =>
      (this.failures.get(name) ?? []).filter((t) => now - t < this.healthWindowMs).length;
    return orderCopies(
      candidates.map((c) => ({
        c,
        volume: c.name,
        state: c.state,
        site: c.entry.site,
        cost: c.entry.cost,
        failures: recentFailures(c.name),
      })),
      { site: this.site },
    ).map((x) => x.c);
  }

  private async *stream(
    call: Call,
    wanted: Extent[],
    candidates: Map<string, Candidate[]>,
    start: number,
    end: number,
  ): AsyncGenerator<Uint8Array, void, undefined> {
    // Read-ahead of `parallelism` chunks; cancelled when the consumer stops early.
    const stop = new AbortController();
    const signal = call.signal ? AbortSignal.any([call.signal, stop.signal]) : stop.signal;
    const inner: Call = { ...call, signal };
    const window: Promise<Uint8Array[]>[] = [];
    let next = 0;
    const launch = () => {
      while (window.length < this.parallelism && next < wanted.length) {
        const extent = wanted[next++]!;
        const fetch = this.fetchChunk(inner, extent, candidates.get(extent.chunk) ?? []);
        fetch.catch(() => {});
        window.push(fetch);
      }
    };
    let pos = start;
    try {
      for (const extent of wanted) {
        launch();
        let pieces: Uint8Array[];
        try {
          pieces = await window.shift()!;
        } catch (err) {
          throw located(err, call);
        }
        if (extent.offset > pos) yield* zeros(extent.offset - pos);
        const from = Math.max(start, extent.offset) - extent.offset;
        const to = Math.min(end, extent.offset + extent.length) - extent.offset;
        yield* slicePieces(pieces, from, to);
        pos = extent.offset + to;
      }
      if (pos < end) yield* zeros(end - pos);
    } finally {
      stop.abort();
    }
  }

  /** The bytes of whole extents, in order (for append and truncate, which re-chunk a tail). */
  private async fetchExtents(call: Call, extents: Extent[]): Promise<Uint8Array[]> {
    const candidates = await this.candidates(extents.map((e) => e.chunk));
    const out: Uint8Array[] = [];
    for (const e of extents) {
      out.push(concatBytes(await this.fetchChunk(call, e, candidates.get(e.chunk) ?? []), e.length));
    }
    return out;
  }

  /**
   * One whole chunk as the pieces the volume streamed (not copied into one buffer: the read path
   * hands them on), verified twice before any is handed out: by the Volume (the object's own
   * CRC32C, on a full read) and here against the extent's CRC32C and length (so a wrong object
   * under the key is caught too). A volume failing mid-body with a retryable error is read once more.
   */
  private async fetchChunk(call: Call, extent: Extent, candidates: Candidate[]): Promise<Uint8Array[]> {
    const key = chunkObjectKey(extent.chunk);
    const tried: Array<{ volume: string; code: string }> = [];
    for (const c of this.order(candidates)) {
      checkAbort(call);
      try {
        let attempt = 0;
        for (;;) {
          try {
            return await this.readChunkFrom(c, key, extent, call.signal);
          } catch (err) {
            if (attempt++ > 0 || !isStrataError(err) || !err.retryable || call.signal?.aborted) throw err;
          }
        }
      } catch (err) {
        if (call.signal?.aborted) throw err;
        const code = isStrataError(err) ? err.code : "EIO";
        tried.push({ volume: c.name, code });
        const state = code === "ECORRUPT" ? "corrupt" : code === "ENOENT" ? "missing" : "unavailable";
        await this.reportBad(call, extent, c, state, err);
      }
    }
    const codes = new Set(tried.map((t) => t.code));
    const code = codes.has("ECORRUPT")
      ? "ECORRUPT"
      : codes.has("ENOENT") && codes.size === 1
        ? "EIO"
        : "EUNAVAIL";
    throw new StrataError(
      code,
      `${call.pfs}:${call.path}: no instance of chunk ${extent.chunk} (bytes ${extent.offset}..${extent.offset + extent.length}) could be read` +
        ` (${tried.map((t) => `${t.volume}: ${t.code}`).join(", ") || "no volume holds it"}). The scrub repairs from a mirror if one exists`,
      { details: { path: call.path, pfs: call.pfs, chunk: extent.chunk, tried } },
    );
  }

  private async readChunkFrom(
    c: Candidate,
    key: string,
    extent: Extent,
    signal: AbortSignal | undefined,
  ): Promise<Uint8Array[]> {
    const wrong = (size: number) =>
      new StrataError(
        "ECORRUPT",
        `volume \`${c.name}\`: chunk ${extent.chunk} has the wrong bytes (size ${size}${size > extent.length ? "+" : ""}, expected ${extent.length} with CRC32C ${extent.crc32c})`,
        { details: { volume: c.name, key, chunk: extent.chunk } },
      );
    // The Volume checks the bytes against the object's recorded size and CRC32C as they stream
    // (throwing ECORRUPT at the end); the object's record must in turn be the extent's.
    const { info, body } = await c.entry.volume.get(key, { signal });
    if (info.size !== extent.length || info.crc32c !== extent.crc32c) {
      await body[Symbol.asyncIterator]().return?.();
      throw wrong(info.size);
    }
    const pieces: Uint8Array[] = [];
    let size = 0;
    for await (const piece of body) {
      size += piece.byteLength;
      if (size > extent.length) throw wrong(size);
      pieces.push(piece);
    }
    if (size !== extent.length) throw wrong(size);
    return pieces;
  }

  private async reportBad(
    call: Call,
    extent: Extent,
    c: Candidate,
    state: BadInstanceReport["state"],
    error: unknown,
  ): Promise<void> {
    const list = this.failures.get(c.name) ?? [];
    list.push(this.clock());
    if (list.length > 64) list.shift();
    this.failures.set(c.name, list);
    if ((state === "corrupt" || state === "missing") && c.state !== undefined) {
      try {
        if (await markBad(this.store, instanceKey(extent.chunk, c.name), state, this.clock()))
          c.state = state;
      } catch {
        // Recording is advisory (the scrub re-checks); the read goes on with the next instance.
      }
    }
    try {
      this.onBadInstance?.({
        chunk: extent.chunk,
        volume: c.name,
        state,
        path: call.path,
        pfs: call.pfs,
        error,
      });
    } catch {
      // A reporting hook must not break the read.
    }
  }
}

/** Bytes [from, to) of a chunk held as consecutive pieces. */
function* slicePieces(pieces: Uint8Array[], from: number, to: number): Generator<Uint8Array> {
  let at = 0;
  for (const piece of pieces) {
    const end = at + piece.byteLength;
    if (end > from && at < to)
      yield piece.subarray(Math.max(from - at, 0), Math.min(to - at, piece.byteLength));
    at = end;
    if (at >= to) return;
  }
}

async function statOrUndefined(fs: ReadableFileSystem, path: string): Promise<Stat | undefined> {
  try {
    return await fs.stat(path);
  } catch (err) {
    if (isStrataError(err, "ENOENT")) return undefined;
    throw err;
  }
}

function fileContent(stat: Stat, call: Call): FileContent {
  if (stat.type === "dir")
    throw new StrataError("EISDIR", `${call.pfs}:${call.path} is a directory`, {
      details: { path: call.path, pfs: call.pfs },
    });
  return stat.content ?? { size: stat.size };
}

function sortedExtents(content: FileContent): Extent[] {
  return [...(content.extents ?? [])].sort((a, b) => a.offset - b.offset);
}
