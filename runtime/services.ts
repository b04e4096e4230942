/**
 * The services a deployment's handlers run against, built once per process by an entry point
 * (runtime/embedded.ts, runtime/local.ts, runtime/lambda.ts), and the pieces they share:
 *
 * - {@link openVolumeRegistry}: THE volume registry of a process, over the volume records
 *   (core/volume/registry.ts; drivers and presigners from adapters/volumes/kinds.ts).
 * - {@link openPlacement}: the registry, the data plane over it (objectives choose where writes
 *   go), the Placement steps, the in-process ASL runner and the orchestrator.
 *
 * ```ts
 * const p = openPlacement({ store, namespace, defaultVolume: "local", graceMs: 60_000 });
 * await registerVolumes(p.volumes, { local: { kind: "local", root: ".strata/volumes/local", site: "home" } });
 * const data = p.data;                 // createDataPlane over the registry, with objectives
 * p.orchestrator.start();              // react to tag changes / new files
 * await p.placement.setObjectives("default", "/show", 'when tag:render-site place 1 on site:$tag:render-site');
 * ```
 */
import type { TokenService } from "../adapters/auth/tokens.ts";
import { openVolumeKind, type PresignContext } from "../adapters/volumes/kinds.ts";
import { LocalJobExecutor } from "../adapters/workflows/jobs.ts";
import { LocalPlacementRunner, LocalWorkflowRunner } from "../adapters/workflows/local.ts";
import type { DataPlane, Sha256 } from "../core/data/api.ts";
import { createDataPlane, type DataPlaneAdmin, type DataPlaneOptions } from "../core/data/index.ts";
import { JobStore } from "../core/jobs/jobs.ts";
import { type JobExecutor, Jobs } from "../core/jobs/service.ts";
import type { MetadataStore } from "../core/metadata/port.ts";
import type { Namespace } from "../core/namespace/api.ts";
import { Placement } from "../core/placement/index.ts";
import { PlacementOrchestrator } from "../core/placement/orchestrator.ts";
import type { VolumeRecord } from "../core/placement/placement-items.ts";
import { listVolumeRecords, VolumeAdmin } from "../core/placement/volumes.ts";
import type { VolumeDriver } from "../core/volume/port.ts";
import { describedRegistry, type VolumeRegistry } from "../core/volume/registry.ts";
import type { VolumeOptions } from "../core/volume/volume.ts";
import { sweepWorkflow } from "../core/workflows/placement.ts";
import { runStep } from "../core/workflows/steps.ts";

/** Timers for periodic work (vacuum, mirror, scrub); the local server runs them, Lambda uses EventBridge. */
export interface Schedules {
  /** Run `task` every `everyMs` until the deployment stops. Returns a cancel function. */
  every(name: string, everyMs: number, task: (signal: AbortSignal) => Promise<void>): () => void;
  /** Names registered so far (status shows them). */
  names(): string[];
}

/** What operations run against: one per deployment process (or test). */
export interface Services {
  namespace: Namespace;
  data: DataPlane & DataPlaneAdmin;
  store: MetadataStore;
  tokens: TokenService;
  /**
   * The volumes, by name, with site, cost, kind and presigner: ONE registry (over the volume
   * records when the deployment has them, so a `volume.add` at runtime is seen within its cache
   * time; a fixed set in tests).
   */
  volumes: VolumeRegistry;
  sha256: Sha256;
  clock: () => number;
  /** The chunk lifecycle's lease-wait pause in upload.commit (default setTimeout; tests: a fake clock). */
  sleep?: (ms: number) => Promise<void>;
  /** Identity shown by `status`. */
  deployment: { name: string; site?: string; startedAt: number; runtime: "local" | "lambda" | "test" };
  /**
   * Create a missing PFS on the first call of a deployment-admin ("*") token to it, as the
   * embedded deployment does (npm start and tests); false on a shared deployment.
   */
  autoCreatePfs?: boolean;
  /** Longest one request waits for work (placement.wait, volume.drain `wait`); default 30 s, lower only in tests. */
  maxWaitSeconds?: number;
  /** Lifetime of presigned URLs (default 15 min). */
  presignTtlSeconds?: number;
  schedules?: Schedules;
  /** Volume records, objectives and the placement workflows ({@link openPlacement}). */
  placement?: PlacementServices;
  /**
   * TEST ONLY: hand every principal the unconfined view of its PFS (the prefix is then checked as
   * text only). The confinement property's counter-check sets it to show the property fails.
   */
  testOnlyUnconfined?: boolean;
}

export interface VolumeRegistryOptions {
  store: MetadataStore;
  /** How long the record list is cached (default 5 s): a volume added elsewhere is seen within it. */
  ttlMs?: number;
  /** Wrap each driver as it is built (tests inject faults here). */
  wrapDriver?: (name: string, driver: VolumeDriver) => VolumeDriver;
  /** Retry settings of the `Volume` wrappers. */
  retry?: VolumeOptions["retry"];
  /** What this process can hand out URLs with (default: none, ENOTSUP for local and GCS volumes). */
  urls?: PresignContext;
  clock?: () => number;
}

/** The registry over the volume records: drivers built on first use, rebuilt when a record's settings change. */
export function openVolumeRegistry(options: VolumeRegistryOptions): VolumeRegistry<VolumeRecord> {
  return describedRegistry<VolumeRecord>({
    describe: () => listVolumeRecords(options.store),
    open: (record) => openVolumeKind(record, options.urls),
    ttlMs: options.ttlMs,
    wrapDriver: options.wrapDriver,
    retry: options.retry,
    clock: options.clock,
    missing: (name) => `volume \`${name}\` has no record; \`volume.add\` registers it`,
  });
}

export interface OpenPlacementOptions {
  store: MetadataStore;
  namespace: Namespace;
  /** The data plane's fallback default volume (a volume record of that name must exist before writes). */
  defaultVolume: string;
  /** Data plane options other than store/volumes/defaultVolume/chooseVolumes/registry. */
  data?: Omit<DataPlaneOptions, "store" | "volumes" | "defaultVolume" | "chooseVolumes" | "registry">;
  graceMs?: number;
  /** How jobs' executions start (default: the in-process runner; the Lambdas: the table stream). */
  jobExecutor?: JobExecutor;
  /** Chunks per page of the placement workflow's state (default core/placement CHUNK_PAGE). */
  chunkPage?: number;
  /** Workflow retries pause this long (ms) instead of the definition's backoff (default: the definition's). */
  retryIntervalMs?: number;
  /** Workflow runs at once (default 4). */
  concurrency?: number;
  /** Volume records are re-read this often (default 5 s). */
  volumesTtlMs?: number;
  wrapDriver?: (name: string, driver: VolumeDriver) => VolumeDriver;
  /** Retry settings of the Volume wrappers (default: the Volume's). */
  retry?: VolumeOptions["retry"];
  /** What this process can hand out URLs with (the registry's presigners). */
  urls?: PresignContext;
  clock?: () => number;
}

export interface PlacementServices {
  data: DataPlane & DataPlaneAdmin;
  /** The process's volume registry (over the volume records). */
  registry: VolumeRegistry<VolumeRecord>;
  /** Add, list, drain, remove volume records. */
  volumes: VolumeAdmin;
  placement: Placement;
  runner: LocalPlacementRunner;
  orchestrator: PlacementOrchestrator;
  /** Jobs (core/jobs): long work as workflow executions, a page each, listed, watched, cancelled. */
  jobs: Jobs;
  /** Stop polling and release the volume drivers. */
  close(): Promise<void>;
}

export function openPlacement(options: OpenPlacementOptions): PlacementServices {
  const { store, namespace } = options;
  const clock = options.clock ?? Date.now;
  const registry = openVolumeRegistry({
    store,
    ttlMs: options.volumesTtlMs,
    wrapDriver: options.wrapDriver,
    retry: options.retry,
    urls: options.urls,
    clock,
  });
  // The data plane and placement refer to each other (default volume ↔ chooseVolumes): late-bound.
  let placement!: Placement;
  const data = createDataPlane({
    ...options.data,
    store,
    volumes: {},
    defaultVolume: options.defaultVolume,
    registry,
    volumesTtlMs: options.volumesTtlMs,
    chooseVolumes: (file) => placement.chooseVolumes(file),
    clock,
  });
  placement = new Placement({
    store,
    namespace,
    volumes: registry,
    defaultVolume: (pfs) => data.defaultVolume(pfs),
    graceMs: options.graceMs,
    ...(options.chunkPage !== undefined ? { chunkPage: options.chunkPage } : {}),
    clock,
  });
  const volumes = new VolumeAdmin({
    store,
    clock,
    onChange: () => registry.invalidate(),
    listPfs: async () => (await namespace.listPfs()).map((p) => p.name),
    chunkObjects: async (name) => {
      const out: string[] = [];
      const volume = await registry.volume(name);
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
  const jobStore = new JobStore(store, clock);
  const steps = (step: string, state: Record<string, unknown>) =>
    runStep({ placement, jobs: jobStore }, step, state);
  const executor = new LocalJobExecutor(
    {
      "placement.sweep": () =>
        new LocalWorkflowRunner(sweepWorkflow({ graceSeconds: placement.graceMs / 1000 }), {
          steps,
          graceMs: placement.graceMs,
          retryIntervalMs: options.retryIntervalMs,
        }),
    },
    jobStore,
  );
  const jobs = new Jobs({ store: jobStore, executor: options.jobExecutor ?? executor, clock });
  return {
    data,
    registry,
    volumes,
    placement,
    runner,
    orchestrator,
    jobs,
    async close() {
      await executor.close();
      runner.abortAll();
      await orchestrator.stop();
      await registry.close();
    },
  };
}
