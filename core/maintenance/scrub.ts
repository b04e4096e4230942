/**
 * Scrub: read every chunk object on every volume in full, check it against its instance record
 * (size, CRC32C — the Volume also checks the object's own stored CRC while streaming — and, when a
 * `sha256` is given, the chunk's address), record what it found, and repair a corrupt or missing
 * instance from a good instance on another volume. Rate-limited (bytes/s), time-boxed, resumable:
 * the cursor is stored in `maint` / `scrub` after every listing page and every inode of pass 2.
 *
 * Pass 1 (listings): chunks are found by listing the volumes, so an instance is checked when its
 * object exists on its volume, and every other instance of a chunk met that way is checked with it
 * (a missing object there is found by a HEAD and repaired).
 *
 * Pass 2 (references): a chunk whose objects are gone from *every* volume it is recorded on is
 * listed nowhere, so pass 1 cannot meet it. Pass 2 walks every PFS's tree through its entry history
 * (`walkInodes`: live and deleted files whose versions vacuum has not pruned) and, for every chunk
 * some version references — the live one and old ones alike — HEADs each recorded instance: a
 * missing object is recorded `missing` and repaired from another copy when one reads back good;
 * otherwise the finding names the files and versions that lost their bytes (`files`). Cost of
 * pass 2: one Query per directory page and per inode, one Query per distinct chunk, one HEAD per
 * instance (no object bytes; a repair reads one good copy and writes one); chunks already checked
 * in the run are remembered (up to 100,000 at a time) and not checked again. `references: false`
 * skips it.
 */
import { collectBytes } from "../bytes.ts";
import type { Sha256 } from "../data/api.ts";
import { chunkObjectKey, chunkPk, chunkRefsOf, decodeInstance } from "../data/chunk-items.ts";
import { repairInstance, setCheckedState } from "../data/chunks.ts";
import { isStrataError } from "../errors.ts";
import type { MetadataStore } from "../metadata/port.ts";
import { inoPk, VERSION_PREFIX } from "../namespace/records.ts";
import type { VolumeRegistry } from "../volume/registry.ts";
import type { Volume } from "../volume/volume.ts";
import { queryAll, scrubStateKey, TimeBox, walkInodes } from "./common.ts";

export interface ScrubParams {
  store: MetadataStore;
  /**
   * THE volume registry (by the names instance records use), asked at each step: a volume added
   * while the run goes on is listed when pass 1 reaches its name, a removed one is not read.
   */
  volumes: VolumeRegistry;
  /** Read rate limit, bytes per second (default 50 MiB/s). */
  bytesPerSecond?: number;
  timeBudgetMs?: number;
  /** Check each chunk's SHA-256 address too (default: CRC32C and size only). */
  sha256?: Sha256;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Start from the beginning instead of the stored cursor. */
  restart?: boolean;
  /** Pass 2: check every chunk some version references, by HEAD (default true). */
  references?: boolean;
  log?: (entry: ScrubFinding) => void;
}

/** A version that references a chunk scrub could not repair: its bytes are lost. */
export interface LostReference {
  pfs: string;
  /** A path the file had (from the entry history: the current one for a live file). */
  path: string;
  ino: string;
  /** The version's TID (its `ctid`). */
  version: string;
  /** True for the file's live version, false for an old one. */
  live: boolean;
}

export interface ScrubFinding {
  chunk: string;
  volume: string;
  /** What was found, and what became of it. */
  found: "corrupt" | "missing";
  repaired: boolean;
  /** Why it could not be repaired. */
  reason?: string;
  /** Pass 2, unrepaired: the versions met in this run that reference the chunk. */
  files?: LostReference[];
}

export interface ScrubReport {
  objects: number;
  bytes: number;
  findings: ScrubFinding[];
  /** Chunk objects with no instance record (left by uploads that died before recording; vacuum collects them via their expired intents). */
  unrecorded: number;
  /** Existence checks (HEAD requests) of both passes. */
  heads: number;
  /** Pass 2: inodes walked and distinct referenced chunks checked in this run. */
  references: { inodes: number; chunks: number };
  /** True when every volume was listed to its end in this run (the cursor was reset). */
  complete: boolean;
  aborted?: { code: string; message: string };
}

const CHUNK_KEY = /^chunks\/[0-9a-f]{2}\/([0-9a-f]{64})$/;

export async function scrub(params: ScrubParams): Promise<ScrubReport> {
  const clock = params.clock ?? Date.now;
  const sleep = params.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const rate = params.bytesPerSecond ?? 50 * 1024 * 1024;
  const box = new TimeBox(clock, params.timeBudgetMs ?? 10 * 60_000);
  const report: ScrubReport = {
    objects: 0,
    bytes: 0,
    findings: [],
    unrecorded: 0,
    heads: 0,
    references: { inodes: 0, chunks: 0 },
    complete: false,
  };
  // Pass 1 goes through the volumes in name order; the next name is taken from the registry now.
  const nextVolume = async (after: string | undefined, inclusive: boolean) =>
    Object.keys(await params.volumes.handles())
      .sort()
      .find((n) => after === undefined || (inclusive ? n >= after : n > after));
  const note = (f: ScrubFinding) => {
    report.findings.push(f);
    params.log?.(f);
  };
  const pace = async () => {
    // Keep the average read rate at or below `rate` since the start of the run.
    const due = box.start + (report.bytes / rate) * 1000;
    const wait = due - clock();
    if (wait > 0) await sleep(wait);
  };
  try {
    const saved = params.restart ? undefined : await params.store.get(scrubStateKey);
    const inPass2 = saved?.phase === "references";
    let name = inPass2 ? undefined : await nextVolume(saved ? String(saved.volume) : undefined, true);
    // Resume inside the saved volume only while it is still there.
    let cursor =
      saved?.cursor === undefined || inPass2 || name !== String(saved.volume)
        ? undefined
        : String(saved.cursor);
    while (name !== undefined) {
      const volume = (await params.volumes.lookup(name))?.volume;
      while (volume) {
        if (box.over) return report;
        const page = await volume.list("chunks/", { ...(cursor ? { cursor } : {}), limit: 100 });
        for (const entry of page.entries) {
          const m = CHUNK_KEY.exec(entry.key);
          if (!m) continue;
          await checkChunk(params, m[1]!, name, note, report, clock);
          await pace();
        }
        cursor = page.cursor;
        await params.store.put({
          ...scrubStateKey,
          volume: cursor ? name : ((await nextVolume(name, false)) ?? ""),
          ...(cursor ? { cursor } : {}),
          time: clock(),
        });
        if (!cursor) break;
      }
      name = await nextVolume(name, false);
      cursor = undefined;
    }
    if (params.references !== false) {
      const done = await referencesPass(
        params,
        inPass2 ? { pfs: String(saved?.pfs ?? ""), skip: Number(saved?.skip ?? 0) } : undefined,
        box,
        note,
        report,
        clock,
      );
      if (!done) return report;
    }
    await params.store.delete(scrubStateKey);
    report.complete = true;
  } catch (err) {
    if (!isStrataError(err)) throw err;
    report.aborted = { code: err.code, message: err.message };
  }
  return report;
}

/** Chunks remembered as checked in one pass-2 run (then forgotten, and checked again if met). */
const REMEMBERED_CHUNKS = 100_000;

/**
 * Pass 2: every chunk referenced by a version of a walked inode, checked by HEAD (checkChunk with
 * no listed volume). Resumes at `from` (PFS name + inodes of it already done: the walk is repeated
 * and skips them, so a namespace changed in between may shift a few inodes to the next full run).
 * Returns false when the time box ran out (the position is stored).
 */
async function referencesPass(
  params: ScrubParams,
  from: { pfs: string; skip: number } | undefined,
  box: TimeBox,
  note: (f: ScrubFinding) => void,
  report: ScrubReport,
  clock: () => number,
): Promise<boolean> {
  let checked = new Set<string>();
  /** Unrepaired findings of this pass by chunk: where later references are added. */
  const lost = new Map<string, ScrubFinding[]>();
  let pfs = "";
  let index = 0;
  for await (const inode of walkInodes(params.store)) {
    if (inode.pfs !== pfs) {
      pfs = inode.pfs;
      index = 0;
    }
    index++;
    if (from && (inode.pfs < from.pfs || (inode.pfs === from.pfs && index <= from.skip))) continue;
    if (box.over) {
      await params.store.put({
        ...scrubStateKey,
        phase: "references",
        pfs: inode.pfs,
        skip: index - 1,
        time: clock(),
      });
      return false;
    }
    report.references.inodes++;
    const versions = await queryAll(params.store, inoPk(inode.pfsId, inode.ino), {
      sk: { op: "beginsWith", value: VERSION_PREFIX },
    });
    for (const v of versions)
      for (const { chunk: sha } of chunkRefsOf(v)) {
        if (!checked.has(sha)) {
          if (checked.size >= REMEMBERED_CHUNKS) checked = new Set();
          checked.add(sha);
          report.references.chunks++;
          const before = report.findings.length;
          await checkChunk(params, sha, undefined, note, report, clock);
          const bad = report.findings.slice(before).filter((f) => !f.repaired);
          if (bad.length > 0) lost.set(sha, bad);
        }
        for (const f of lost.get(sha) ?? []) {
          f.files ??= [];
          f.files.push({
            pfs: inode.pfs,
            path: inode.path,
            ino: inode.ino,
            version: String(v.ctid),
            live: v.dtid === undefined,
          });
        }
      }
  }
  return true;
}

/** Read the object in full; ok when size, stored CRC, the record's CRC and (optionally) the hash agree. */
async function readVerified(
  volume: Volume,
  sha: string,
  expect: { size: number; crc32c: number } | undefined,
  sha256: Sha256 | undefined,
): Promise<{ ok: true; bytes: Uint8Array } | { ok: false; code: string }> {
  try {
    // The Volume checks the bytes against the object's stored CRC32C as they stream (full read).
    const { info, body } = await volume.get(chunkObjectKey(sha));
    const bytes = await collectBytes(body);
    if (expect && (info.size !== expect.size || info.crc32c !== expect.crc32c))
      return { ok: false, code: "ECORRUPT" };
    if (sha256 && (await sha256(bytes)) !== sha) return { ok: false, code: "ECORRUPT" };
    return { ok: true, bytes };
  } catch (err) {
    if (isStrataError(err, "ECORRUPT") || isStrataError(err, "ENOENT")) return { ok: false, code: err.code };
    throw err;
  }
}

/**
 * Check one chunk's instances: the one on `listedOn` by a full read, the others by HEAD (pass 2
 * passes no `listedOn`: every instance by HEAD); record and repair what is bad.
 */
async function checkChunk(
  params: ScrubParams,
  sha: string,
  listedOn: string | undefined,
  note: (f: ScrubFinding) => void,
  report: ScrubReport,
  clock: () => number,
): Promise<void> {
  const records = (
    await queryAll(params.store, chunkPk(sha), { sk: { op: "beginsWith", value: "inst#" } })
  ).map((item) => ({ item, r: decodeInstance(item) }));
  // Vacuum owns instances it is deleting; scrub leaves them alone.
  if (records.some((x) => x.r.state === "deleting")) return;
  if (listedOn === undefined && records.length === 0) {
    note({ chunk: sha, volume: "", found: "missing", repaired: false, reason: "no instance is recorded" });
    return;
  }
  const listed = records.find((x) => x.r.volume === listedOn);
  if (listedOn !== undefined && !listed) {
    report.unrecorded++;
    return;
  }
  // This listing checks the listed instance and every instance on volumes listed after it that it
  // did not see yet is checked when that volume's listing reaches it; missing objects elsewhere are
  // checked here (they are never listed).
  const volumes = await params.volumes.handles(); // the volumes now, for this chunk
  const results = new Map<string, { ok: boolean; bytes?: Uint8Array; code?: string }>();
  for (const x of records) {
    const volume = volumes[x.r.volume]?.volume;
    if (!volume) continue;
    if (x.r.volume !== listedOn) {
      // Only look for a missing object elsewhere (a full read happens when that volume is listed).
      try {
        report.heads++;
        await volume.head(chunkObjectKey(sha));
        continue;
      } catch (err) {
        // A missing object, or one whose stored header no longer parses (ECORRUPT from head), is a
        // bad instance to repair — not a reason to stop the run.
        if (!isStrataError(err, "ENOENT") && !isStrataError(err, "ECORRUPT")) throw err;
        results.set(x.r.volume, { ok: false, code: err.code });
        continue;
      }
    }
    const got = await readVerified(volume, sha, { size: x.r.size, crc32c: x.r.crc32c }, params.sha256);
    report.objects++;
    if (got.ok) report.bytes += got.bytes.byteLength;
    results.set(x.r.volume, got.ok ? { ok: true, bytes: got.bytes } : { ok: false, code: got.code });
  }
  // Instances checked by this visit; goodCopy may read others as repair sources (not judged here).
  const checked = new Map(results);
  for (const x of records) {
    const res = checked.get(x.r.volume);
    if (!res) continue;
    if (res.ok) {
      if (x.r.state !== "present") await record(params.store, x, "present", clock);
      continue;
    }
    const found = res.code === "ENOENT" ? "missing" : "corrupt";
    await record(params.store, x, found, clock);
    const source = await goodCopy(params, volumes, sha, records, results, x.r.volume);
    if (!source) {
      note({
        chunk: sha,
        volume: x.r.volume,
        found,
        repaired: false,
        reason: "no good instance on another volume",
      });
      continue;
    }
    const target = volumes[x.r.volume]!.volume;
    const ref = { chunk: sha, size: x.r.size, crc32c: x.r.crc32c };
    // The chunk lifecycle protects the chunk (a deployment-wide intent, left to expire) and re-reads the record.
    const rewritten = await repairInstance(params.store, { name: x.r.volume, volume: target }, ref, source, {
      clock,
    });
    if (!rewritten) continue; // vacuum is deleting (or has deleted) this instance: nothing to repair
    const again = await readVerified(target, sha, ref, params.sha256);
    if (again.ok) {
      await record(params.store, x, "present", clock);
      note({ chunk: sha, volume: x.r.volume, found, repaired: true });
    } else
      note({
        chunk: sha,
        volume: x.r.volume,
        found,
        repaired: false,
        reason: `the rewritten copy failed its check (${again.code})`,
      });
  }
}

/** Verified bytes of the chunk from another volume (already read, or read now). */
async function goodCopy(
  params: ScrubParams,
  volumes: Record<string, { volume: Volume }>,
  sha: string,
  records: Array<{ r: ReturnType<typeof decodeInstance> }>,
  results: Map<string, { ok: boolean; bytes?: Uint8Array }>,
  except: string,
): Promise<Uint8Array | undefined> {
  for (const x of records) {
    if (x.r.volume === except) continue;
    const known = results.get(x.r.volume);
    if (known?.ok && known.bytes) return known.bytes;
    if (known) continue;
    const volume = volumes[x.r.volume]?.volume;
    if (!volume) continue;
    const got = await readVerified(volume, sha, { size: x.r.size, crc32c: x.r.crc32c }, params.sha256);
    results.set(x.r.volume, got.ok ? { ok: true, bytes: got.bytes } : { ok: false });
    if (got.ok) return got.bytes;
  }
  return undefined;
}

/** Record an instance's state (and remember it in `x`), never over a vacuum's `deleting` mark. */
async function record(
  store: MetadataStore,
  x: { r: ReturnType<typeof decodeInstance> },
  state: "present" | "corrupt" | "missing",
  clock: () => number,
) {
  if (x.r.state === state) return;
  if (await setCheckedState(store, x.r, state, clock())) x.r = { ...x.r, state }; // the chunk lifecycle
}
