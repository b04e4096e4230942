/**
 * The backends `npm run bench -- volumes` measures. Adding one is one line below: a file
 * `bench/volume-backends/<name>.ts` exporting a `VolumeBenchBackend`, then
 * `(await import("./<name>.ts")).<export>,` in the list (loaded only when the bench runs).
 */
import type { VolumeDriver } from "../../core/volume/port.ts";

export interface VolumeBenchBackend {
  /** Column label, e.g. "local", "s3". */
  name: string;
  /**
   * Start the backend (stand-in server, fresh bucket/dir) and return strata's driver on it plus the
   * plain SDK / node:fs calls against the same server and namespace, for the ratio.
   */
  start(): Promise<{
    driver: VolumeDriver;
    raw: {
      put(key: string, bytes: Uint8Array): Promise<void>;
      /** Reads the whole object; returns the number of bytes read. */
      get(key: string): Promise<number>;
    };
    stop(): Promise<void>;
  }>;
}

export const VOLUME_BENCH_BACKENDS: VolumeBenchBackend[] = [
  (await import("./local.ts")).localBenchBackend,
  (await import("./gcs.ts")).gcsBenchBackend,
  (await import("./s3.ts")).s3BenchBackend,
  (await import("./azure.ts")).azureBenchBackend,
];
