/**
 * What operations run against: one `Services` per deployment process, built by the Lambda entry
 * (functions/api/lambda.ts), the local server (functions/local/main.ts) or a test. Later areas
 * (placement, vacuum, mirroring) add OPTIONAL fields here, so existing builders keep compiling.
 */

import type { TokenService } from "../../adapters/auth/tokens.ts";
import type { Presigner } from "../../adapters/presign/presigner.ts";
import type { PlacementServices } from "../../adapters/workflows/placement.ts";
import type { DataPlane, Sha256 } from "../../core/data/api.ts";
import type { DataPlaneAdmin, VolumeEntry } from "../../core/data/plane.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import type { Namespace } from "../../core/namespace/api.ts";
import type { Volume } from "../../core/volume/volume.ts";

/** A volume as the API sees it: the data plane's entry plus how to hand out URLs for its objects. */
export interface ApiVolume extends VolumeEntry {
  /** "local" | "s3" | "azure" | "gcs" | … (shown by status). */
  kind: string;
  presigner: Presigner;
}

/** Timers for periodic work (vacuum, mirror, scrub); the local server runs them, Lambda uses EventBridge. */
export interface Schedules {
  /** Run `task` every `everyMs` until the deployment stops. Returns a cancel function. */
  every(name: string, everyMs: number, task: (signal: AbortSignal) => Promise<void>): () => void;
  /** Names registered so far (status shows them). */
  names(): string[];
}

export interface Services {
  namespace: Namespace;
  data: DataPlane & DataPlaneAdmin;
  store: MetadataStore;
  tokens: TokenService;
  /**
   * The volumes known at startup, by registry name. With `apiVolumes` set this list goes stale
   * (a `volume.add` is not in it): read volumes through `apiVolumesOf` / `volumesNow`.
   */
  volumes: Record<string, ApiVolume>;
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
  /**
   * Volumes from the volume records (a deployment with placement): a volume added at runtime is
   * here within the records' cache TTL, with its presigner. Byte operations use this when set,
   * `volumes` otherwise (`apiVolumesOf`).
   */
  apiVolumes?: () => Promise<Record<string, ApiVolume>>;
  /** Volume records, objectives and the placement workflows (adapters/workflows/placement.ts). */
  placement?: PlacementServices;
  /**
   * TEST ONLY: hand every principal the unconfined view of its PFS (the prefix is then checked as
   * text only). The confinement property's counter-check sets it to show the property fails.
   */
  testOnlyUnconfined?: boolean;
}

/** The volumes byte operations may use now: the records' when the deployment has them. */
export async function apiVolumesOf(services: Services): Promise<Record<string, ApiVolume>> {
  return services.apiVolumes ? await services.apiVolumes() : services.volumes;
}

/**
 * Where a process finds its volumes: `Services`, or the smaller deps the schedule Lambdas build
 * (functions/schedule/lambda-deps.ts, whose `volumes` are read from the records per invocation).
 */
export interface VolumeSource {
  volumes: Record<string, { volume: Volume }>;
  apiVolumes?: () => Promise<Record<string, { volume: Volume }>>;
}

/**
 * The volumes now, as drivers by name: the volume records' (the data plane's own source) when the
 * deployment has them, so a `volume.add` at runtime is seen without a restart; the startup list
 * otherwise. Vacuum, scrub, mirror and backup runs read it once at their start.
 */
export async function volumesNow(source: VolumeSource): Promise<Record<string, Volume>> {
  const entries = source.apiVolumes ? await source.apiVolumes() : source.volumes;
  return Object.fromEntries(Object.entries(entries).map(([name, v]) => [name, v.volume]));
}
