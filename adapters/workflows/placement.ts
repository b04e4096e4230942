/**
 * Placement wired for one process (the local server, tests, benchmarks): volume records → the
 * data plane's volume source and `chooseVolumes` hook, the Placement steps, the in-process ASL
 * runner, and the orchestrator (change feed poller, queue, sweeper, drain).
 *
 * ```ts
 * const p = openPlacement({ store, namespace, defaultVolume: "local", graceMs: 60_000 });
 * await registerVolumes(p.volumes, { local: { kind: "local", root: ".strata/volumes/local", site: "home" } });
 * const data = p.data;                 // createDataPlane with volume records and objectives
 * p.orchestrator.start();              // react to tag changes / new files
 * await p.placement.setObjectives("default", "/show", 'when tag:render-site place 1 on site:$tag:render-site');
 * ```
 */
import {
  createDataPlane,
  type DataPlane,
  type DataPlaneAdmin,
  type DataPlaneOptions,
} from "../../core/data/index.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import type { Namespace } from "../../core/namespace/api.ts";
import { Placement } from "../../core/placement/index.ts";
import { PlacementOrchestrator } from "../../core/placement/orchestrator.ts";
import { VolumeAdmin } from "../../core/placement/volumes.ts";
import type { VolumeDriver } from "../../core/volume/port.ts";
import type { VolumeOptions } from "../../core/volume/volume.ts";
import { openVolumeRecords, type VolumeRecords } from "../data/volumes.ts";
import { LocalPlacementRunner } from "./local.ts";

export interface OpenPlacementOptions {
  store: MetadataStore;
  namespace: Namespace;
  /** The data plane's fallback default volume (a volume record of that name must exist before writes). */
  defaultVolume: string;
  /** Data plane options other than store/volumes/defaultVolume/chooseVolumes/volumeSource. */
  data?: Omit<DataPlaneOptions, "store" | "volumes" | "defaultVolume" | "chooseVolumes" | "volumeSource">;
  graceMs?: number;
  /** Workflow retries pause this long (ms) instead of the definition's backoff (default: the definition's). */
  retryIntervalMs?: number;
  /** Workflow runs at once (default 4). */
  concurrency?: number;
  /** Volume records are re-read this often (default 5 s). */
  volumesTtlMs?: number;
  wrapDriver?: (name: string, driver: VolumeDriver) => VolumeDriver;
  /** Retry settings of the Volume wrappers (default: the Volume's). */
  retry?: VolumeOptions["retry"];
  clock?: () => number;
}

export interface PlacementServices {
  data: DataPlane & DataPlaneAdmin;
  records: VolumeRecords;
  volumes: VolumeAdmin;
  placement: Placement;
  runner: LocalPlacementRunner;
  orchestrator: PlacementOrchestrator;
  /** Stop polling and release the volume drivers. */
  close(): Promise<void>;
}

export function openPlacement(options: OpenPlacementOptions): PlacementServices {
  const { store, namespace } = options;
  const clock = options.clock ?? Date.now;
  const records = openVolumeRecords({
    store,
    ttlMs: options.volumesTtlMs,
    wrapDriver: options.wrapDriver,
    retry: options.retry,
    clock,
  });
  // The data plane and placement refer to each other (default volume ↔ chooseVolumes): late-bound.
  let placement!: Placement;
  const data = createDataPlane({
    ...options.data,
    store,
    volumes: {},
    defaultVolume: options.defaultVolume,
    volumeSource: records.dataPlaneSource,
    volumesTtlMs: options.volumesTtlMs,
    chooseVolumes: (file) => placement.chooseVolumes(file),
    clock,
  });
  placement = new Placement({
    store,
    namespace,
    volumes: records,
    defaultVolume: (pfs) => data.defaultVolume(pfs),
    graceMs: options.graceMs,
    clock,
  });
  const volumes = new VolumeAdmin({
    store,
    clock,
    onChange: () => records.invalidate(),
    listPfs: async () => (await namespace.listPfs()).map((p) => p.name),
    chunkObjects: async (name) => {
      const out: string[] = [];
      const volume = await records.volume(name);
      for await (const page of volume.listAll("chunks/")) {
        out.push(...page.map((e) => e.key));
        if (out.length >= 10) break;
      }
      return out;
    },
  });
  const runner = new LocalPlacementRunner({ placement, retryIntervalMs: options.retryIntervalMs });
  const orchestrator = new PlacementOrchestrator({
    store,
    namespace,
    placement,
    runWorkflow: (input) => runner.run(input),
    concurrency: options.concurrency,
  });
  return {
    data,
    records,
    volumes,
    placement,
    runner,
    orchestrator,
    async close() {
      runner.abortAll();
      await orchestrator.stop();
      await records.close();
    },
  };
}
