/**
 * A `StreamSource` (core/mirror/port.ts) over a PFS of a namespace in this process: stream pages
 * from its change index, chunk bytes from its deployment's best copy.
 */
import type { MetadataStore } from "../metadata/port.ts";
import type { Namespace } from "../namespace/api.ts";
import type { VolumeRegistry } from "../volume/registry.ts";
import { readChunk } from "./chunks.ts";
import { readFull } from "./full.ts";
import type { StreamSource } from "./port.ts";
import { readStream, sourceInfo } from "./stream.ts";

export interface LocalSourceParams {
  ns: Namespace;
  pfs: string;
  /** The source deployment's metadata store (instance records) and volumes (chunk bytes). */
  store: MetadataStore;
  volumes: VolumeRegistry;
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
