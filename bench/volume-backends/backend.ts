/** What one backend of `npm run bench -- volumes` provides (bench/volume-backends/index.ts lists them). */
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
