/**
 * Scrub: read every chunk object on every volume in full, check it against its instance record
 * (size, CRC32C — the Volume also checks the object's own stored CRC while streaming — and, when a
 * `sha256` is given, the chunk's address), record what it found, and repair a corrupt or missing
 * instance from a good instance on another volume. Rate-limited (bytes/s), time-boxed, resumable:
 * the cursor (volume, listing cursor) is stored in `maint` / `scrub` after every listing page.
 *
 * Coverage: chunks are found by listing the volumes, so an instance is checked when its object
 * exists on its volume, and every other instance of a chunk met that way is checked with it (a
 * missing object there is found and repaired). A chunk whose objects are gone from *every* volume
 * is not listed anywhere: fsck reports it ("chunk-unavailable").
 */
import { collectBytes } from "../bytes.ts";
import type { Sha256 } from "../data/api.ts";
import { rewriteChunkObject, setCheckedState } from "../data/chunks.ts";
import { chunkObjectKey, chunkPk, decodeInstance } from "../data/records.ts";
import { isStrataError } from "../errors.ts";
import type { MetadataStore } from "../metadata/port.ts";
import type { Volume } from "../volume/volume.ts";
import { queryAll, scrubStateKey, TimeBox } from "./common.ts";

export interface ScrubParams {
  store: MetadataStore;
  /** Volumes to scrub, by the names instance records use. */
  volumes: Record<string, Volume>;
  /** Read rate limit, bytes per second (default 50 MiB/s). */
  bytesPerSecond?: number;
  timeBudgetMs?: number;
  /** Check each chunk's SHA-256 address too (default: CRC32C and size only). */
  sha256?: Sha256;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Start from the beginning instead of the stored cursor. */
  restart?: boolean;
  log?: (entry: ScrubFinding) => void;
}

export interface ScrubFinding {
  chunk: string;
  volume: string;
  /** What was found, and what became of it. */
  found: "corrupt" | "missing";
  repaired: boolean;
  /** Why it could not be repaired. */
  reason?: string;
}

export interface ScrubReport {
  objects: number;
  bytes: number;
  findings: ScrubFinding[];
  /** Chunk objects with no instance record (left by uploads that died before recording; vacuum collects them via their expired intents). */
  unrecorded: number;
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
  const report: ScrubReport = { objects: 0, bytes: 0, findings: [], unrecorded: 0, complete: false };
  const names = Object.keys(params.volumes).sort();
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
    let vi = saved ? names.indexOf(String(saved.volume)) : 0;
    let cursor = saved?.cursor === undefined ? undefined : String(saved.cursor);
    if (vi < 0) {
      vi = 0;
      cursor = undefined;
    }
    for (; vi < names.length; vi++) {
      const name = names[vi]!;
      const volume = params.volumes[name]!;
      do {
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
          volume: cursor ? name : (names[vi + 1] ?? ""),
          ...(cursor ? { cursor } : {}),
          time: clock(),
        });
      } while (cursor);
    }
    await params.store.delete(scrubStateKey);
    report.complete = true;
  } catch (err) {
    if (!isStrataError(err)) throw err;
    report.aborted = { code: err.code, message: err.message };
  }
  return report;
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

async function checkChunk(
  params: ScrubParams,
  sha: string,
  listedOn: string,
  note: (f: ScrubFinding) => void,
  report: ScrubReport,
  clock: () => number,
): Promise<void> {
  const records = (
    await queryAll(params.store, chunkPk(sha), { sk: { op: "beginsWith", value: "inst#" } })
  ).map((item) => ({ item, r: decodeInstance(item) }));
  // Vacuum owns instances it is deleting; scrub leaves them alone.
  if (records.some((x) => x.r.state === "deleting")) return;
  const listed = records.find((x) => x.r.volume === listedOn);
  if (!listed) {
    report.unrecorded++;
    return;
  }
  // This listing checks the listed instance and every instance on volumes listed after it that it
  // did not see yet is checked when that volume's listing reaches it; missing objects elsewhere are
  // checked here (they are never listed).
  const results = new Map<string, { ok: boolean; bytes?: Uint8Array; code?: string }>();
  for (const x of records) {
    const volume = params.volumes[x.r.volume];
    if (!volume) continue;
    if (x.r.volume !== listedOn) {
      // Only look for a missing object elsewhere (a full read happens when that volume is listed).
      try {
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
    const source = await goodCopy(params, sha, records, results, x.r.volume);
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
    const target = params.volumes[x.r.volume]!;
    await rewriteChunkObject(target, { chunk: sha, size: x.r.size, crc32c: x.r.crc32c }, source);
    const again = await readVerified(target, sha, { size: x.r.size, crc32c: x.r.crc32c }, params.sha256);
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
    const volume = params.volumes[x.r.volume];
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
