/**
 * Uploads by presigned URL (the HTTP API's write path; docs/http-api.md "Bytes"), pure parts:
 * the session record, which chunks a client must upload and where, and the checks a commit must
 * pass. The server (functions/api/ops/data.ts) does the I/O.
 *
 * A session IS an intent (docs/data.md, `intent#<pfs>`): every chunk the client is told to upload
 * is announced in `chunks` before its URL is handed out, so vacuum treats it as live until the
 * intent expires. Extra attributes on the same item record the session:
 *
 *   upload: { tokenId, volume, direct: [sha…], staged: [sha…] }
 *
 * - direct: the chunk was on no volume; the client PUTs it to its canonical key
 *   `chunks/<sha[0..2]>/<sha>`.
 * - staged: the chunk is already stored (another file has it); the client PUTs it to
 *   `uploads/<uploadId>/<sha>` instead, so a bad upload can never overwrite the good, shared copy.
 *   Proving possession this way is what keeps a client from referencing someone else's chunk by
 *   guessing its hash.
 *
 * A commit accepts an extent only when its chunk is in the file's live version (an append or
 * truncate keeps those) or was uploaded in this session and read back VERIFIED (size, CRC32C by the
 * Volume, SHA-256 by the server).
 */
import { StrataError } from "../errors.ts";
import type { Item } from "../metadata/port.ts";
import type { FileContent } from "../namespace/api.ts";
import type { Extent } from "./plane.ts";
import { decodeIntent, type IntentRecord, intentItem } from "./records.ts";

export interface UploadSession extends IntentRecord {
  /** The token that began it: only that token may add chunks or commit. */
  tokenId: string;
  /** The volume chunks go to. */
  volume: string;
  direct: string[];
  staged: string[];
}

export function sessionItem(session: UploadSession): Item {
  return {
    ...intentItem(session),
    upload: {
      tokenId: session.tokenId,
      volume: session.volume,
      direct: session.direct,
      staged: session.staged,
    },
  };
}

/** `undefined` for an intent the data plane wrote (not an upload session). */
export function decodeSession(item: Item): UploadSession | undefined {
  const upload = item.upload as
    | { tokenId?: unknown; volume?: unknown; direct?: unknown; staged?: unknown }
    | undefined;
  if (!upload || typeof upload.tokenId !== "string" || typeof upload.volume !== "string") return undefined;
  return {
    ...decodeIntent(item),
    tokenId: upload.tokenId,
    volume: upload.volume,
    direct: (upload.direct as string[]).map(String),
    staged: (upload.staged as string[]).map(String),
  };
}

/** Where a chunk uploaded into session `uploadId` is staged when a copy already exists. */
export const stagingKey = (uploadId: string, sha: string): string => `uploads/${uploadId}/${sha}`;

/** An upload id: URL- and key-safe. */
export const UPLOAD_ID = /^[0-9a-z]+-[0-9a-z]+$/;

export type ChunkDecision = "present" | "direct" | "staged";

/**
 * What the client must do with one chunk: nothing (it is in the file's live version, or already
 * uploaded in this session), upload it to its canonical key, or stage it.
 */
export function decideChunk(
  sha: string,
  inLiveVersion: boolean,
  session: UploadSession,
  storedOnVolume: boolean,
): ChunkDecision {
  if (inLiveVersion) return "present";
  if (session.direct.includes(sha)) return "direct";
  if (session.staged.includes(sha)) return "staged";
  return storedOnVolume ? "staged" : "direct";
}

const SHA = /^[0-9a-f]{64}$/;

function invalid(message: string, details: Record<string, unknown>): StrataError {
  return new StrataError("EINVAL", message, { details });
}

/**
 * A committed content's shape: extents contiguous from 0, each one whole chunk of at most
 * `chunkSize` bytes (only the last may be shorter), sizes adding up, at most `maxChunks`.
 */
export function checkExtents(
  content: { size: number; extents: Extent[] },
  limits: { chunkSize: number; maxChunks: number },
  path: string,
): void {
  const { size, extents } = content;
  if (extents.length > limits.maxChunks)
    throw new StrataError(
      "E2BIG",
      `${path}: ${extents.length} chunks; a file holds at most ${limits.maxChunks}`,
      {
        details: { path },
      },
    );
  let at = 0;
  for (const [i, e] of extents.entries()) {
    if (!SHA.test(e.chunk)) throw invalid(`${path}: extent ${i} has no valid SHA-256`, { path, index: i });
    if (e.offset !== at)
      throw invalid(`${path}: extent ${i} starts at ${e.offset}, expected ${at}`, { path, index: i });
    if (!Number.isSafeInteger(e.length) || e.length < 1 || e.length > limits.chunkSize)
      throw invalid(`${path}: extent ${i} has length ${e.length}, not 1..${limits.chunkSize}`, {
        path,
        index: i,
      });
    if (!Number.isInteger(e.crc32c) || e.crc32c < 0 || e.crc32c > 0xffffffff)
      throw invalid(`${path}: extent ${i} has an invalid crc32c`, { path, index: i });
    at += e.length;
  }
  if (at !== size) throw invalid(`${path}: extents cover ${at} bytes, size says ${size}`, { path, size });
}

/** Chunks of a live version, by hash, with the length and CRC they were committed with. */
export function liveChunks(
  content: FileContent | undefined,
): Map<string, { length: number; crc32c: number }> {
  const out = new Map<string, { length: number; crc32c: number }>();
  for (const e of content?.extents ?? []) out.set(e.chunk, { length: e.length, crc32c: e.crc32c });
  return out;
}
