/**
 * The backends `npm run bench -- volumes` measures. Adding one is one line below: a file
 * `bench/volume-backends/<name>.ts` exporting a `VolumeBenchBackend`, then
 * `(await import("./<name>.ts")).<export>,` in the list (loaded only when the bench runs). The type
 * lives in ./backend.ts, so a backend never imports this list (no import circle).
 */
import type { VolumeBenchBackend } from "./backend.ts";

export type { VolumeBenchBackend };

export const VOLUME_BENCH_BACKENDS: VolumeBenchBackend[] = [
  (await import("./local.ts")).localBenchBackend,
  (await import("./gcs.ts")).gcsBenchBackend,
  (await import("./s3.ts")).s3BenchBackend,
  (await import("./azure.ts")).azureBenchBackend,
];
