/**
 * How a mirror reaches its source: a `StreamSource` gives stream pages and chunk bytes. The stream
 * crosses it as plain data (core/mirror/format.ts), so the source may be in this process
 * (`localSource`), in another deployment (`httpSource`, over the HTTP API's `mirror.read` /
 * `mirror.chunk` operations), or a chain of backup bundles on a volume (core/mirror/backup.ts).
 */
import { strataError } from "../errors.ts";
import type { MetadataStore } from "../metadata/port.ts";
import type { Namespace } from "../namespace/api.ts";
import type { Volume } from "../volume/volume.ts";
import { readChunk } from "./chunks.ts";
import type { SourceInfo, StreamPage, StreamRequest } from "./format.ts";
import { type FullState, readFull } from "./full.ts";
import { readStream, sourceInfo } from "./stream.ts";

export interface ChunkRef {
  /** SHA-256, lowercase hex. */
  chunk: string;
  size: number;
  crc32c: number;
  /**
   * The stream record (PFS-relative `ino#<ino>` key and sort key) of a version that references
   * the chunk: a source over HTTP hands a chunk out only when that record of its PFS references
   * it (`mirror.chunk`, functions/api/ops/mirror.ts), so the chunk store is no oracle.
   */
  from?: { pk: string; sk: string };
}

export interface StreamSource {
  /** A label for status and errors ("local:main", "https://eu.example/strata:main", "bundle:…"). */
  readonly label: string;
  info(): Promise<SourceInfo>;
  read(request: StreamRequest): Promise<StreamPage>;
  /** The chunk's bytes, checked against its size and CRC32C (ECORRUPT otherwise). */
  chunk(ref: ChunkRef): Promise<Uint8Array>;
  /** The whole retained state now (for a full-state comparison after the source pruned past a mirror); optional. */
  full?(): Promise<FullState>;
}

export interface LocalSourceParams {
  ns: Namespace;
  pfs: string;
  /** The source deployment's metadata store (instance records) and volumes (chunk bytes). */
  store: MetadataStore;
  volumes: Record<string, Volume>;
}

/** A PFS of a namespace in this process. */
export function localSource(params: LocalSourceParams): StreamSource {
  return {
    label: `local:${params.pfs}`,
    info: () => sourceInfo(params.ns, params.pfs),
    read: (request) => readStream(params.ns, params.pfs, request),
    chunk: (ref) => readChunk(params.store, params.volumes, ref),
    full: () => readFull(params.ns, params.pfs),
  };
}

/** Checks a page received from elsewhere before anyone applies it. */
export function checkPage(page: StreamPage, label: string): StreamPage {
  if (page?.format !== 1 || !Array.isArray(page.records))
    throw strataError("ECORRUPT", `stream page from ${label} is not format 1`, { source: label });
  return page;
}
