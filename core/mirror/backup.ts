/**
 * Backups: the stream written as a bundle of checksummed objects on any volume, restored by
 * applying it to a new PFS (a mirror of the bundle chain, then promoted). Layout under `prefix`:
 *
 *   <prefix>/<bundle>/part-<nnnnnn>.json   one stream page each: {since, upto, commits, records}
 *   <prefix>/<bundle>/manifest.json        written LAST: {format, id, source, since, upto, base,
 *                                          parts: [{key, since, upto, size, crc32c, records}]}
 *   <prefix>/chunks/<sha256>               file chunks, shared by every bundle of the prefix
 *
 * A bundle id is `<since>-<upto>`. A full bundle has since = 0; an incremental one names its base
 * (`base` = the base's id) and starts where it ended (since = base.upto). Restoring walks the
 * chain back to a full bundle and refuses a broken one (a missing bundle: ENOENT; a bundle that
 * does not start where its base ended, or a part whose size or CRC32C differs: ECORRUPT) before
 * anything is written. Every object is put create-only with its size and CRC32C.
 */
import { crc32c } from "../crc32c.ts";
import { isStrataError, strataError } from "../errors.ts";
import type { Tid } from "../namespace/api.ts";
import { isTid, ZERO_TID } from "../namespace/tid.ts";
import type { Volume } from "../volume/volume.ts";
import { recordChunks } from "./chunks.ts";
import {
  checkRecord,
  fromJsonValue,
  type SourceInfo,
  STREAM_FORMAT,
  type StreamPage,
  type StreamRecord,
  toJsonValue,
} from "./format.ts";
import { createMirror, type MirrorRunReport, mirrorStatus, promoteMirror, runMirror } from "./mirror.ts";
import type { ChunkRef, MirrorTarget, StreamSource } from "./port.ts";

export interface BundlePart {
  key: string;
  since: Tid;
  upto: Tid;
  size: number;
  crc32c: number;
  records: number;
}

export interface BundleManifest {
  format: typeof STREAM_FORMAT;
  kind: "strata-backup";
  id: string;
  source: SourceInfo;
  since: Tid;
  upto: Tid;
  /** The bundle this one continues (its id), or null for a full bundle. */
  base: string | null;
  parts: BundlePart[];
  chunks: number;
  created: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const manifestKey = (prefix: string, id: string) => `${prefix}/${id}/manifest.json`;
const chunkKey = (prefix: string, sha: string) => `${prefix}/chunks/${sha}`;

async function putChecked(
  volume: Volume,
  key: string,
  bytes: Uint8Array,
): Promise<{ size: number; crc32c: number }> {
  const crc = crc32c(bytes);
  await volume.put(key, bytes, { size: bytes.length, crc32c: crc, ifNoneMatch: true });
  return { size: bytes.length, crc32c: crc };
}

export async function readManifest(volume: Volume, prefix: string, id: string): Promise<BundleManifest> {
  let bytes: Uint8Array;
  try {
    bytes = await volume.getBytes(manifestKey(prefix, id));
  } catch (err) {
    if (isStrataError(err, "ENOENT"))
      throw strataError("ENOENT", `backup bundle ${id} is missing under ${prefix} on volume ${volume.name}`, {
        bundle: id,
        prefix,
        volume: volume.name,
      });
    throw err;
  }
  const m = JSON.parse(decoder.decode(bytes)) as BundleManifest;
  if (m?.kind !== "strata-backup" || m.format !== STREAM_FORMAT || m.id !== id || !Array.isArray(m.parts))
    throw strataError("ECORRUPT", `backup manifest ${id} under ${prefix} is not a format-1 strata bundle`, {
      bundle: id,
      prefix,
    });
  return m;
}

/**
 * Write the stream of `source` as one bundle: from the beginning, or (with `base`) from where that
 * bundle ended. Returns its manifest.
 */
export async function writeBackup(params: {
  source: StreamSource;
  volume: Volume;
  prefix: string;
  base?: string;
  limit?: number;
  clock?: () => number;
}): Promise<BundleManifest> {
  const { source, volume, prefix } = params;
  const base = params.base === undefined ? undefined : await readManifest(volume, prefix, params.base);
  const since = base ? base.upto : ZERO_TID;
  const info = await source.info();
  if (base && base.source.rootIno !== info.rootIno)
    throw strataError("EINVAL", `bundle ${base.id} is a backup of another PFS (${base.source.pfs})`, {
      bundle: base.id,
    });
  const upto = info.closed;
  const id = `${since}-${upto}`;
  const parts: BundlePart[] = [];
  const chunksDone = new Set<string>();
  let token: string | undefined;
  let n = 0;
  do {
    const page = await source.read(
      token ? { token } : { since, upto, ...(params.limit ? { limit: params.limit } : {}) },
    );
    for (const ref of recordChunks(page.records)) {
      if (chunksDone.has(ref.chunk)) continue;
      chunksDone.add(ref.chunk);
      const bytes = await source.chunk(ref);
      try {
        await volume.put(chunkKey(prefix, ref.chunk), bytes, {
          size: ref.size,
          crc32c: ref.crc32c,
          ifNoneMatch: true,
        });
      } catch (err) {
        if (!isStrataError(err, "EEXIST")) throw err; // content-addressed: a base bundle stored it
      }
    }
    const key = `${prefix}/${id}/part-${String(n++).padStart(6, "0")}.json`;
    const body = encoder.encode(
      JSON.stringify({
        since: page.since,
        upto: page.upto,
        commits: page.commits,
        records: toJsonValue(page.records),
      }),
    );
    const sum = await putChecked(volume, key, body);
    parts.push({ key, since: page.since, upto: page.upto, ...sum, records: page.records.length });
    token = page.next;
  } while (token);
  const manifest: BundleManifest = {
    format: STREAM_FORMAT,
    kind: "strata-backup",
    id,
    source: { ...info, closed: upto },
    since,
    upto,
    base: base ? base.id : null,
    parts,
    chunks: chunksDone.size,
    created: (params.clock ?? Date.now)(),
  };
  await putChecked(volume, manifestKey(prefix, id), encoder.encode(JSON.stringify(manifest)));
  return manifest;
}

/** The chain ending at `bundle`, oldest first; refuses a broken one (see the module header). */
export async function bundleChain(volume: Volume, prefix: string, bundle: string): Promise<BundleManifest[]> {
  const chain: BundleManifest[] = [];
  let id: string | null = bundle;
  while (id !== null) {
    if (chain.length > 10_000)
      throw strataError("ECORRUPT", `backup chain under ${prefix} loops`, { prefix });
    const m = await readManifest(volume, prefix, id);
    const child = chain[0];
    if (child && child.since !== m.upto)
      throw strataError(
        "ECORRUPT",
        `backup chain broken: bundle ${child.id} starts at ${child.since} but its base ${m.id} ends at ${m.upto}`,
        { bundle: child.id, base: m.id, prefix },
      );
    if (m.base === null && m.since !== ZERO_TID)
      throw strataError("ECORRUPT", `bundle ${m.id} has no base but does not start at 0`, {
        bundle: m.id,
        prefix,
      });
    chain.unshift(m);
    id = m.base;
  }
  return chain;
}

/**
 * A chain of bundles as a stream source: pages are the bundles' parts, chunks come from
 * `<prefix>/chunks/`. The chain is checked when the source is opened.
 */
export async function bundleSource(volume: Volume, prefix: string, bundle: string): Promise<StreamSource> {
  const chain = await bundleChain(volume, prefix, bundle);
  const parts = chain.flatMap((m) => m.parts);
  // Every part present with its manifest's size and CRC32C (one HEAD each) before anyone applies
  // the first: a restore must not start on a chain it cannot finish.
  for (const part of parts) {
    let info: { size: number; crc32c: number };
    try {
      info = await volume.head(part.key);
    } catch (err) {
      if (!isStrataError(err, "ENOENT")) throw err;
      throw strataError("ENOENT", `backup part ${part.key} is missing`, { key: part.key, prefix });
    }
    if (info.size !== part.size || info.crc32c !== part.crc32c)
      throw strataError("ECORRUPT", `backup part ${part.key} does not match its manifest (size or CRC32C)`, {
        key: part.key,
        prefix,
      });
  }
  const last = chain[chain.length - 1]!;
  const label = `bundle:${volume.name}/${prefix}/${bundle}`;
  const info: SourceInfo = { ...last.source, closed: last.upto };
  const pageAt = async (index: number, since: Tid): Promise<StreamPage> => {
    const part = parts[index]!;
    const bytes = await volume.getBytes(part.key);
    if (bytes.length !== part.size || crc32c(bytes) !== part.crc32c)
      throw strataError("ECORRUPT", `backup part ${part.key} does not match its manifest (size or CRC32C)`, {
        key: part.key,
        prefix,
      });
    const body = JSON.parse(decoder.decode(bytes)) as { commits: number; records: unknown };
    const records = (fromJsonValue(body.records) as StreamRecord[])
      .map((r) => checkRecord(r, label))
      .filter((r) => r.tid > since);
    return {
      format: STREAM_FORMAT,
      source: info,
      since: part.since > since ? part.since : since,
      upto: part.upto,
      records,
      commits: body.commits,
      ...(index + 1 < parts.length ? { next: `b1.${index + 1}` } : {}),
    };
  };
  return {
    label,
    info: async () => info,
    read: async (request) => {
      if (request.token !== undefined) {
        const m = /^b1\.(\d+)$/.exec(request.token);
        const index = m ? Number(m[1]) : -1;
        if (index < 0 || index >= parts.length)
          throw strataError("EINVAL", `token ${request.token} is not one this bundle source produced`);
        return pageAt(index, ZERO_TID);
      }
      const since = request.since ?? ZERO_TID;
      if (!isTid(since)) throw strataError("EINVAL", `since ${String(since)} is not a TID`);
      const index = parts.findIndex((p) => p.upto > since);
      if (index < 0)
        return {
          format: STREAM_FORMAT,
          source: info,
          since,
          upto: since > last.upto ? since : last.upto,
          records: [],
          commits: 0,
        };
      return pageAt(index, since);
    },
    chunk: async (ref: ChunkRef) => {
      const bytes = await volume.getBytes(chunkKey(prefix, ref.chunk));
      if (bytes.length !== ref.size || crc32c(bytes) !== ref.crc32c)
        throw strataError("ECORRUPT", `backup chunk ${ref.chunk} under ${prefix} has the wrong bytes`, {
          chunk: ref.chunk,
          prefix,
        });
      return bytes;
    },
  };
}

/**
 * Restore the chain ending at `bundle` into a new PFS `name` on the target: a mirror of the
 * bundles (chunks onto `volumes`), run to the end, then promoted to a writable PFS unless
 * `keepMirror` (then further bundles can be applied with runMirror + bundleSource).
 */
export async function restoreBackup(
  target: MirrorTarget,
  params: {
    name: string;
    volume: Volume;
    prefix: string;
    bundle: string;
    volumes: string[];
    keepMirror?: boolean;
    /** The PFS exists, restored from this bundle (a retried call): finish it instead of EEXIST. */
    resume?: boolean;
  },
): Promise<MirrorRunReport & { resumed?: true }> {
  const source = await bundleSource(params.volume, params.prefix, params.bundle);
  try {
    await createMirror(target, { name: params.name, source, volumes: params.volumes });
  } catch (err) {
    if (!params.resume || !isStrataError(err, "EEXIST")) throw err;
    // A retry of a restore that may have run (functions/api afterCrash): finish the PFS made from
    // this very bundle; any other PFS of that name stays EEXIST.
    const [status] = await mirrorStatus(target, params.name);
    if (!status || status.source !== source.label) throw err;
    if (status.role !== "mirror")
      return { ...emptyRun(params.name, source.label, status.sync), resumed: true };
    const report = await runMirror(target, params.name, source);
    if (!params.keepMirror) await promoteMirror(target, params.name);
    return { ...report, resumed: true };
  }
  const report = await runMirror(target, params.name, source);
  if (!params.keepMirror) await promoteMirror(target, params.name);
  return report;
}

function emptyRun(name: string, source: string, sync: string): MirrorRunReport {
  return {
    name,
    source,
    mode: "incremental",
    from: sync,
    to: sync,
    pages: 0,
    commits: 0,
    records: 0,
    transactions: 0,
    chunksCopied: 0,
    bytesCopied: 0,
  };
}
