/**
 * Uploads by presigned URL (the HTTP API's write path; docs/http-api.md "Bytes"), pure parts:
 * the session record, which chunks a client must upload and where, and the checks a commit must
 * pass. The server (functions/api/ops/data.ts) does the I/O.
 *
 * A session IS an intent (docs/data.md, `intent#<pfs>`): every chunk the client is told to upload
 * is announced in `chunks` before its URL is handed out, so vacuum treats it as live until the
 * intent expires. Extra attributes on the same item record the session:
 *
 *   upload: { tokenId, volume, staged: [sha…], urlsExpireAt, committed? }
 *
 * Every chunk a client uploads goes to a per-upload STAGING key `staging/<uploadId>/<sha>`, never
 * to its final key `chunks/<sha[0..2]>/<sha>`: S3 and Azure presigned PUTs cannot be create-only,
 * so a URL for a final key would let its holder overwrite, until it expires, a chunk other writers
 * already verified and deduplicate against. The commit reads the staged object back (size and
 * CRC32C by the Volume, SHA-256 by the server), copies it to the final key create-only (an object
 * already there with the same size and CRC32C is the same chunk) and deletes the staged object.
 * Uploading also proves possession: a client cannot reference someone else's chunk by its hash.
 *
 * Staged objects outlive nothing silently: the intent names them (`stagedObjects`), and after a
 * commit it is kept, emptied of chunks, until the last URL handed out expires (`urlsExpireAt`) —
 * a URL holder can still PUT to its staging key until then. Vacuum deletes the staged objects of
 * every expired intent, then the intent.
 *
 * A commit accepts an extent only when its chunk is in the file's live version (an append or
 * truncate keeps those) or was uploaded in this session and read back VERIFIED.
 */
import { StrataError } from "../errors.ts";
import type { Item } from "../metadata/port.ts";
import type { FileContent } from "../namespace/api.ts";
import { decodeIntent, type IntentRecord, intentItem } from "./chunk-items.ts";
import type { Extent } from "./plane.ts";

export interface UploadSession extends IntentRecord {
  /** The token that began it: only that token may add chunks or commit. */
  tokenId: string;
  /** The volume chunks go to. */
  volume: string;
  /** Chunks the client was given a staging URL for (each at `stagingKey(id, sha)` on `volume`). */
  staged: string[];
  /** When the last URL handed out expires (ms since epoch): staged objects may appear until then. */
  urlsExpireAt: number;
  /** The file was committed; the item only names staged objects left for vacuum. */
  committed?: boolean;
}

export function sessionItem(session: UploadSession): Item {
  return {
    ...intentItem(session),
    upload: {
      tokenId: session.tokenId,
      volume: session.volume,
      staged: session.staged,
      urlsExpireAt: session.urlsExpireAt,
      ...(session.committed ? { committed: true } : {}),
    },
  };
}

/** `undefined` for an intent the data plane wrote (not an upload session). */
export function decodeSession(item: Item): UploadSession | undefined {
  const upload = item.upload as
    | { tokenId?: unknown; volume?: unknown; staged?: unknown; urlsExpireAt?: unknown; committed?: unknown }
    | undefined;
  if (!upload || typeof upload.tokenId !== "string" || typeof upload.volume !== "string") return undefined;
  const intent = decodeIntent(item);
  return {
    ...intent,
    tokenId: upload.tokenId,
    volume: upload.volume,
    staged: Array.isArray(upload.staged) ? upload.staged.map(String) : [],
    urlsExpireAt: Number(upload.urlsExpireAt ?? intent.expiresAt),
    ...(upload.committed === true ? { committed: true } : {}),
  };
}

/** The staging key of chunk `sha` uploaded into session `uploadId`. */
export const stagingKey = (uploadId: string, sha: string): string => `staging/${uploadId}/${sha}`;

/**
 * The staged objects an intent item names (empty for an intent that is not an upload session):
 * what vacuum deletes, on `volume`, once the intent has expired. Deleting a missing one is a no-op.
 */
export function stagedObjects(item: Item): Array<{ volume: string; key: string }> {
  const session = decodeSession(item);
  if (!session) return [];
  return session.staged.map((sha) => ({ volume: session.volume, key: stagingKey(session.id, sha) }));
}

/**
 * The intent kept after a commit: no chunks to protect any more (the file references them), the
 * staged objects still named, alive until the last URL expires. `undefined` = nothing was staged,
 * delete the intent.
 */
export function committedSession(session: UploadSession): UploadSession | undefined {
  if (session.staged.length === 0) return undefined;
  return { ...session, chunks: [], committed: true, expiresAt: session.urlsExpireAt };
}

/** An upload id: URL- and key-safe. */
export const UPLOAD_ID = /^[0-9a-z]+-[0-9a-z]+$/;

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
