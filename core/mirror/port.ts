/**
 * The mirror's ports, types only: where a mirror reads (`StreamSource`) and what it writes to
 * (`MirrorTarget`). The stream crosses a source as plain data (core/mirror/format.ts), so a source
 * may be in this process (`localSource`, core/mirror/local-source.ts), in another deployment
 * (`httpSource`, over the HTTP API's `mirror.read` / `mirror.chunk` operations), or a chain of
 * backup bundles on a volume (`bundleSource`, core/mirror/backup.ts). Nothing here imports an
 * implementation, so the modules of core/mirror import each other without a circle.
 */
import type { Namespace, Tid } from "../namespace/api.ts";
import type { VolumeRegistry } from "../volume/registry.ts";
import type { SourceInfo, StreamPage, StreamRecord, StreamRequest } from "./format.ts";

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

/** The whole retained state of a source PFS at one TID (a full-state comparison's input). */
export interface FullState {
  source: SourceInfo;
  upto: Tid;
  /** Every retained history record, as of `upto` (`tid` = the TID of that state). */
  records: StreamRecord[];
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

/** The deployment a mirror (or a restore, or a multi-master exchange) writes to. */
export interface MirrorTarget {
  /** The namespace (engine) of the deployment that holds the mirror. */
  ns: Namespace;
  /** THE volume registry of that deployment, asked at each step (a volume added meanwhile is used). */
  volumes: VolumeRegistry;
  clock?: () => number;
  /** The chunk step's pause while it waits out a vacuum lease (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
}
