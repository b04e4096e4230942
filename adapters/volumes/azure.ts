/**
 * The Azure Blob volume driver: strata objects as block blobs in one container, optionally under a
 * name prefix.
 *
 * How each contract point maps onto Azure Blob Storage:
 * - **CRC32C** lives in blob metadata (Azure has no CRC32C of its own; its CRC64 is transactional
 *   only and is not used here). Small bodies are buffered, so their CRC is known before the one
 *   Put Blob; large ones are committed with Put Block List, which carries the metadata — and by then
 *   the whole body has been read, so the CRC is always known at commit. No extra request, no window.
 * - **Metadata names.** Azure requires C# identifiers; strata's are `[a-z0-9-]`. User names are
 *   stored as `u_` + name with `-` → `_` (reversible, since strata names have no `_`); strata's own
 *   CRC is `strata_crc32c`, which no user name can map to. Other metadata on a blob is ignored.
 * - **Create-only** is `If-None-Match: *` on Put Blob / Put Block List / Copy Blob: atomic (409
 *   BlobAlreadyExists or 412 → EEXIST). Azurite honours it too.
 * - **Large bodies.** Bodies above one block (`blockSize`, default 8 MiB) are staged as blocks, at
 *   most `concurrency` in flight (memory ≈ blockSize × (concurrency + 1)), then committed. If
 *   anything fails — a block, or the body throwing at its end — nothing is committed: the staged
 *   blocks stay uncommitted, invisible, and Azure garbage-collects them after a week. Block ids carry
 *   a random per-upload nonce, so two uploads of one key never mix blocks.
 * - **Copy** is server-side (Copy Blob, polled to completion) and keeps the source's metadata.
 * - **Listing order.** Azure lists blob names in UTF-16 code-unit order (azurite does the same), not
 *   the UTF-8 byte order the port asks for. The two differ only where, at the first differing
 *   position, one name has a character in U+E000–U+FFFF and the other a character above U+FFFF
 *   (UTF-16 puts the astral one first). The driver passes Azure's order through unchanged: re-sorting
 *   a page cannot fix the order across pages.
 * - **Name length.** Azure allows 1,024 characters per blob name, prefix included: with a `prefix`,
 *   the longest keys the port accepts are refused by Azure (EINVAL).
 */
import { randomBytes } from "node:crypto";
import type { BlobDownloadResponseParsed, ContainerClient } from "@azure/storage-blob";
import { ContainerClient as ContainerClientClass } from "@azure/storage-blob";
import { crc32cFromHex, crc32cToHex } from "../../core/crc32c.ts";
import { type ErrorCode, isStrataError, StrataError } from "../../core/errors.ts";
import type {
  DriverGetOptions,
  DriverPutOptions,
  GetResult,
  ListPage,
  ObjectInfo,
  PutBody,
  VolumeCapabilities,
  VolumeDriver,
} from "../../core/volume/port.ts";
import {
  emptyBody,
  infoOrRelease,
  type Part,
  PartReader,
  type ReplyStream,
  totalFromContentRange,
  translateErrors,
  uploadParts,
} from "./parts.ts";

const MiB = 1024 * 1024;
/** Azure's limits: committed blocks per blob, bytes per block (4,000 MiB). */
const MAX_BLOCKS = 50_000;
const MAX_BLOCK_SIZE = 4000 * MiB;
/** Metadata name of the CRC32C (8 hex digits); cannot collide with a mapped user name (`u_…`). */
export const AZURE_CRC_METADATA = "strata_crc32c";

/** strata metadata name (`[a-z0-9-]`) → Azure metadata name (a C# identifier). */
export function toAzureMetadataName(name: string): string {
  return `u_${name.replaceAll("-", "_")}`;
}

/** Inverse of {@link toAzureMetadataName}; `undefined` for names strata did not write. */
export function fromAzureMetadataName(name: string): string | undefined {
  const lower = name.toLowerCase();
  return lower.startsWith("u_") ? lower.slice(2).replaceAll("_", "-") : undefined;
}

export interface AzureVolumeOptions {
  /** Volume name, used in every error message. */
  name: string;
  /** A ready container client; otherwise give `connectionString` and `container`. */
  containerClient?: ContainerClient;
  connectionString?: string;
  container?: string;
  /** Prepended to every blob name (plain concatenation); it counts against Azure's 1,024-character limit. */
  prefix?: string;
  /** Block size in bytes (default 8 MiB); bodies up to this size go in one Put Blob. */
  blockSize?: number;
  /** Blocks staged in parallel (default 4). */
  concurrency?: number;
}

interface Context {
  op: string;
  key?: string;
  createOnly?: boolean;
  signal?: AbortSignal;
}

export class AzureVolumeDriver implements VolumeDriver {
  readonly name: string;
  readonly capabilities: VolumeCapabilities = {
    atomicCreateOnly: true,
    serverSideCopy: true,
    nativeCrc32c: false,
    // 50,000 blocks of up to 4,000 MiB (~190.7 TiB).
    maxObjectSize: MAX_BLOCKS * MAX_BLOCK_SIZE,
    listOrder: "utf16",
  };
  readonly container: ContainerClient;
  private readonly prefix: string;
  private readonly blockSize: number;
  private readonly concurrency: number;

  constructor(options: AzureVolumeOptions) {
    this.name = options.name;
    this.prefix = options.prefix ?? "";
    this.blockSize = options.blockSize ?? 8 * MiB;
    this.concurrency = options.concurrency ?? 4;
    const invalid = (message: string) =>
      new StrataError("EINVAL", `volume \`${this.name}\`: ${message}`, { details: { volume: this.name } });
    if (!Number.isInteger(this.blockSize) || this.blockSize < 1 || this.blockSize > MAX_BLOCK_SIZE)
      throw invalid("blockSize must be an integer between 1 byte and 4,000 MiB");
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1)
      throw invalid("concurrency must be a positive integer");
    if (options.containerClient) this.container = options.containerClient;
    else if (options.connectionString && options.container)
      this.container = new ContainerClientClass(options.connectionString, options.container);
    else throw invalid("give either containerClient, or connectionString and container");
  }

  private blob(key: string) {
    return this.container.getBlockBlobClient(this.prefix + key);
  }

  async put(key: string, body: PutBody, options: DriverPutOptions): Promise<ObjectInfo> {
    const ctx: Context = { op: "put", key, createOnly: options.ifNoneMatch, signal: options.signal };
    try {
      const blockSize = Math.min(
        MAX_BLOCK_SIZE,
        Math.max(this.blockSize, Math.ceil((body.declaredSize ?? 0) / MAX_BLOCKS)),
      );
      const reader = new PartReader(body, blockSize);
      const first = await reader.read();
      const conditions = options.ifNoneMatch ? { ifNoneMatch: "*" } : undefined;
      if (first.last) {
        // https://learn.microsoft.com/rest/api/storageservices/put-blob
        await this.blob(key).upload(first.bytes, first.bytes.length, {
          metadata: this.azureMetadata(options.metadata, body.crc32c()),
          conditions,
          abortSignal: options.signal,
        });
      } else {
        // Fail fast before staging every block; the condition on Put Block List stays the guard.
        // https://learn.microsoft.com/rest/api/storageservices/get-blob-properties
        if (options.ifNoneMatch && (await this.blob(key).exists({ abortSignal: options.signal })))
          throw new StrataError("EEXIST", `volume \`${this.name}\`: \`${key}\` already exists`, {
            details: { volume: this.name, key },
          });
        const blockIds = await this.stageBlocks(key, first, reader, ctx);
        // https://learn.microsoft.com/rest/api/storageservices/put-block-list
        await this.blob(key).commitBlockList(blockIds, {
          metadata: this.azureMetadata(options.metadata, body.crc32c()),
          conditions,
          abortSignal: options.signal,
        });
      }
      return { key, size: body.size(), crc32c: body.crc32c(), metadata: { ...options.metadata } };
    } catch (err) {
      throw this.error(err, ctx);
    }
  }

  /** Stage every block of the body, at most `concurrency` at a time; returns the ids in order. */
  private async stageBlocks(key: string, first: Part, reader: PartReader, ctx: Context): Promise<string[]> {
    const nonce = randomBytes(12).toString("hex");
    const ids: string[] = [];
    const client = this.blob(key);
    // Nothing to clean up after a failure: uncommitted blocks are invisible and expire on their own.
    await uploadParts({
      first,
      reader,
      concurrency: this.concurrency,
      maxParts: MAX_BLOCKS,
      signal: ctx.signal,
      tooMany: () =>
        new StrataError(
          "E2BIG",
          `volume \`${this.name}\`: body of \`${key}\` needs more than ${MAX_BLOCKS} blocks of ${reader.partSize} bytes; declare its size or raise blockSize`,
          { details: { volume: this.name, key } },
        ),
      upload: async (bytes, n, signal) => {
        // All block ids of a blob must have the same length: nonce + 6-digit index, base64.
        const id = Buffer.from(`${nonce}-${String(n).padStart(6, "0")}`).toString("base64");
        ids[n] = id;
        // https://learn.microsoft.com/rest/api/storageservices/put-block
        await client.stageBlock(id, bytes, bytes.length, { abortSignal: signal });
      },
    });
    return ids;
  }

  async get(key: string, options: DriverGetOptions): Promise<GetResult> {
    const ctx: Context = { op: "get", key, signal: options.signal };
    const range = options.range;
    try {
      if (range && range.end !== undefined && range.end <= range.start)
        return { info: await this.head(key, { signal: options.signal }), body: emptyBody() };
      const offset = range?.start ?? 0;
      const count = range?.end === undefined ? undefined : range.end - offset;
      let out: BlobDownloadResponseParsed;
      try {
        // https://learn.microsoft.com/rest/api/storageservices/get-blob
        out = await this.blob(key).download(offset, count, { abortSignal: options.signal });
      } catch (err) {
        // 416: the range starts at or after the end. Answer with an empty body.
        if ((offset > 0 || count !== undefined) && statusOf(err) === 416) {
          const info = await this.head(key, { signal: options.signal });
          if (offset >= info.size) return { info, body: emptyBody() };
        }
        throw err;
      }
      const stream = out.readableStreamBody as ReplyStream | undefined;
      const info = await infoOrRelease(stream, (): ObjectInfo => {
        const size =
          offset > 0 || count !== undefined ? totalFromContentRange(out.contentRange) : out.contentLength;
        if (size === undefined)
          throw new StrataError("EIO", `volume \`${this.name}\`: Azure sent no blob size for \`${key}\``, {
            details: { volume: this.name, key },
          });
        return {
          key,
          size,
          crc32c: this.crcOf(key, out.metadata),
          metadata: userMetadata(out.metadata),
          lastModified: out.lastModified,
        };
      });
      return { info, body: stream ? translateErrors(stream, (err) => this.error(err, ctx)) : emptyBody() };
    } catch (err) {
      throw this.error(err, ctx);
    }
  }

  async head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    const ctx: Context = { op: "head", key, signal: options.signal };
    try {
      // https://learn.microsoft.com/rest/api/storageservices/get-blob-properties
      const out = await this.blob(key).getProperties({ abortSignal: options.signal });
      return {
        key,
        size: out.contentLength ?? 0,
        crc32c: this.crcOf(key, out.metadata),
        metadata: userMetadata(out.metadata),
        lastModified: out.lastModified,
      };
    } catch (err) {
      throw this.error(err, ctx);
    }
  }

  async list(
    prefix: string,
    options: { cursor?: string; limit?: number; signal?: AbortSignal } = {},
  ): Promise<ListPage> {
    const ctx: Context = { op: "list", signal: options.signal };
    const limit = Math.min(Math.max(Math.floor(options.limit ?? 1000), 1), 1000);
    try {
      // https://learn.microsoft.com/rest/api/storageservices/list-blobs
      const pages = this.container
        .listBlobsFlat({ prefix: this.prefix + prefix, abortSignal: options.signal })
        .byPage({ continuationToken: options.cursor, maxPageSize: limit });
      const next = await pages.next();
      if (next.done) return { entries: [] };
      const page = next.value;
      const entries = page.segment.blobItems.map((b) => ({
        key: b.name.slice(this.prefix.length),
        size: b.properties.contentLength ?? 0,
      }));
      return page.continuationToken ? { entries, cursor: page.continuationToken } : { entries };
    } catch (err) {
      throw this.error(err, ctx);
    }
  }

  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const ctx: Context = { op: "delete", key, signal: options.signal };
    try {
      // https://learn.microsoft.com/rest/api/storageservices/delete-blob
      await this.blob(key).deleteIfExists({ abortSignal: options.signal });
    } catch (err) {
      throw this.error(err, ctx);
    }
  }

  async copy(
    sourceKey: string,
    targetKey: string,
    options: { ifNoneMatch: boolean; signal?: AbortSignal },
  ): Promise<ObjectInfo> {
    const source = await this.head(sourceKey, { signal: options.signal });
    const ctx: Context = {
      op: "copy",
      key: targetKey,
      createOnly: options.ifNoneMatch,
      signal: options.signal,
    };
    try {
      // Same-account copies are authorised by the destination's credential; without `metadata` the
      // copy keeps the source's metadata (the CRC included).
      // https://learn.microsoft.com/rest/api/storageservices/copy-blob
      const poller = await this.blob(targetKey).beginCopyFromURL(this.blob(sourceKey).url, {
        conditions: options.ifNoneMatch ? { ifNoneMatch: "*" } : undefined,
        abortSignal: options.signal,
        intervalInMs: 200,
      });
      const result = await poller.pollUntilDone();
      if (result.copyStatus !== undefined && result.copyStatus !== "success")
        throw new StrataError(
          "EIO",
          `volume \`${this.name}\`: copy of \`${sourceKey}\` to \`${targetKey}\` ended with status ${result.copyStatus}`,
          { details: { volume: this.name, key: targetKey } },
        );
      return { key: targetKey, size: source.size, crc32c: source.crc32c, metadata: source.metadata };
    } catch (err) {
      // A 404 from Copy Blob is about the source (CannotVerifyCopySource / BlobNotFound).
      throw this.error(err, statusOf(err) === 404 ? { ...ctx, op: "copy from", key: sourceKey } : ctx);
    }
  }

  private azureMetadata(metadata: Record<string, string>, crc: number): Record<string, string> {
    const out: Record<string, string> = { [AZURE_CRC_METADATA]: crc32cToHex(crc) };
    for (const [k, v] of Object.entries(metadata)) out[toAzureMetadataName(k)] = v;
    return out;
  }

  private crcOf(key: string, metadata: Record<string, string> | undefined): number {
    const hex = Object.entries(metadata ?? {}).find(([k]) => k.toLowerCase() === AZURE_CRC_METADATA)?.[1];
    const crc = hex === undefined ? undefined : crc32cFromHex(hex);
    if (crc === undefined)
      throw new StrataError(
        "EIO",
        `volume \`${this.name}\`: blob \`${key}\` in container \`${this.container.containerName}\` has no recorded CRC32C: it was not written by strata. Rewrite it`,
        { details: { volume: this.name, key } },
      );
    return crc;
  }

  private error(err: unknown, ctx: Context): StrataError {
    return mapAzureError(err, { volume: this.name, container: this.container.containerName, ...ctx });
  }
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

/**
 * Translate an Azure SDK (`RestError`) or network exception into a StrataError naming the volume, key
 * and remedy. Exported for unit tests.
 */
export function mapAzureError(
  err: unknown,
  where: {
    volume: string;
    container: string;
    op: string;
    key?: string;
    createOnly?: boolean;
    signal?: AbortSignal;
  },
): StrataError {
  if (isStrataError(err)) return err;
  const { volume, container, op, key } = where;
  const details = { volume, key, container };
  const e = (typeof err === "object" && err !== null ? err : {}) as {
    name?: string;
    code?: string;
    message?: string;
    details?: { errorCode?: string };
  };
  const status = statusOf(err);
  const code = e.details?.errorCode ?? e.code ?? "";
  const what = `volume \`${volume}\`: ${op}${key === undefined ? "" : ` of \`${key}\``} in Azure container \`${container}\``;
  const make = (c: ErrorCode, message: string) => new StrataError(c, message, { cause: err, details });

  if (where.signal?.aborted || e.name === "AbortError")
    return make("EABORTED", `${what} aborted by the caller`);
  if (code === "ContainerNotFound")
    return make(
      "EUNAVAIL",
      `${what} failed: container ${container} does not exist: create it or fix volumes.${volume}.container`,
    );
  if (code === "BlobNotFound" || code === "CannotVerifyCopySource" || status === 404)
    return make("ENOENT", `${what}: no such blob`);
  if (code === "BlobAlreadyExists" || code === "ConditionNotMet" || status === 409 || status === 412)
    return where.createOnly
      ? make("EEXIST", `${what}: the key already exists (create-only)`)
      : make("ECONFLICT", `${what}: a condition failed (${code || status})`);
  if (code === "ServerBusy" || code === "OperationTimedOut" || status === 503 || status === 429)
    return make("ETHROTTLED", `${what}: Azure asked us to slow down (${code || status}); retry later`);
  if (
    [
      "AuthenticationFailed",
      "AuthorizationFailure",
      "AuthorizationPermissionMismatch",
      "InsufficientAccountPermissions",
    ].includes(code) ||
    status === 403 ||
    status === 401
  )
    return make("EACCES", `${what} refused (${code || status}): check credentials for volume ${volume}`);
  if (code === "Md5Mismatch" || code === "Crc64Mismatch")
    return make("ECORRUPT", `${what}: the service saw a checksum mismatch (${code})`);
  if (code === "ETIMEDOUT" || code === "ESOCKETTIMEDOUT" || e.name === "TimeoutError")
    return make("ETIMEDOUT", `${what}: no answer in time; retry later`);
  if (
    [
      "ECONNREFUSED",
      "ECONNRESET",
      "EPIPE",
      "ENOTFOUND",
      "EAI_AGAIN",
      "EHOSTUNREACH",
      "REQUEST_SEND_ERROR",
    ].includes(code) ||
    (status !== undefined && status >= 500)
  )
    return make("EUNAVAIL", `${what} failed: Azure endpoint unreachable or failing (${code || status})`);
  if (status === 400 || status === 416)
    return make("EINVAL", `${what} rejected as malformed (${code || status}): ${e.message ?? ""}`);
  return make("EIO", `${what} failed: ${code || e.name || "error"}: ${e.message ?? String(err)}`);
}

/** strata's user metadata back from Azure names; anything strata did not write is left out. */
function userMetadata(metadata: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata ?? {})) {
    const name = fromAzureMetadataName(k);
    if (name !== undefined) out[name] = v;
  }
  return out;
}
