/**
 * A whole API deployment in this process: the local services (runtime/local.ts: SQLite, the
 * volume registry over the volume records, placement, tokens), served by the local HTTP server
 * with the blob route, vacuum / scrub / mirror timers and the placement worker. `npm start`
 * (main.ts) and the HTTP tests start theirs with this.
 */
import type { KeySource } from "../../adapters/auth/keys.ts";
import type { GcsSigningCredential } from "../../adapters/presign/gcs.ts";
import { intervalsFromEnv, type ScheduleIntervals } from "../../runtime/config.ts";
import { type LocalVolumeSpec, openLocalServices } from "../../runtime/local.ts";
import type { Services } from "../api/services.ts";
import { scheduleMirrors } from "../mirror/run.ts";
import { scheduleMaintenance } from "../schedule/maintenance.ts";
import type { Log } from "./log.ts";
import { timerSchedules } from "./schedules.ts";
import { type LocalServer, startLocalServer } from "./server.ts";

export type { LocalVolumeSpec };

export interface LocalDeploymentOptions {
  /** Directory of metadata.db and the token key file (made 0700; metadata.db 0600). */
  home: string;
  /** The token signing keys (default: `<home>/token-keys`, adapters/auth/keys.ts). */
  keys?: KeySource;
  volumes: Record<string, LocalVolumeSpec>;
  defaultVolume: string;
  port: number;
  site?: string;
  chunkSize?: number;
  inlineThreshold?: number;
  /** Create missing PFSs for deployment-admin tokens (default true: it is the user's own deployment). */
  autoCreatePfs?: boolean;
  presignTtlSeconds?: number;
  clock?: () => number;
  /** Create missing buckets / containers (stand-ins start empty). Default true. */
  createContainers?: boolean;
  /** Vacuum / scrub / mirror intervals (0 = off); default from the environment (runtime/config.ts). */
  schedules?: ScheduleIntervals;
  /** Placement tuning: trim grace (default 60 s), change-feed poll (250 ms), sweep interval (5 min; 0 = off). */
  placement?: { graceMs?: number; pollMs?: number; sweepEveryMs?: number };
  /** Signs GCS URLs of GCS volumes added at runtime (`volume.add`); configured ones use their spec's signer. */
  gcsSigner?: GcsSigningCredential;
  /** One line per request and per job run (functions/local/log.ts); none when absent. */
  log?: Log;
}

export interface LocalDeployment {
  readonly endpoint: string;
  readonly services: Services;
  readonly server: LocalServer;
  /** What startup registered: new records, existing ones, and configured volumes whose record differs (the record wins). */
  readonly registration: { added: string[]; existing: string[]; conflicts: string[] };
  /** Stop the server (draining in-flight requests), the schedules, the volumes and the store. */
  stop(): Promise<void>;
}

export async function startLocalDeployment(options: LocalDeploymentOptions): Promise<LocalDeployment> {
  let endpoint = "";
  const schedules = timerSchedules(options.log);
  const local = await openLocalServices({
    ...options,
    graceMs: options.placement?.graceMs,
    endpoint: () => endpoint,
    schedules,
  }).catch(async (err) => {
    await schedules.stop();
    throw err;
  });
  const { services } = local;
  const stopAll = async () => {
    await schedules.stop().catch(() => {});
    await local.close();
  };
  try {
    // Vacuum (applying), scrub and every defined mirror (≤ 10 stream pages per run) on timers.
    const every = options.schedules ?? intervalsFromEnv();
    const cancels = scheduleMaintenance(services, {
      vacuumEveryMs: every.vacuumMs,
      scrubEveryMs: every.scrubMs,
    });
    if (every.vacuumMs === 0) cancels[0]?.();
    if (every.scrubMs === 0) cancels[1]?.();
    if (every.mirrorMs > 0) scheduleMirrors(services, every.mirrorMs);
    const server = await startLocalServer(services, {
      port: options.port,
      // Local-directory volume records, including ones added at runtime.
      blobs: { volumes: (name) => local.localVolume(name), signer: local.blobSigner },
      ...(options.log ? { log: options.log } : {}),
    });
    endpoint = server.endpoint;
    // Tag, file, objective and volume changes → placement runs (docs/placement.md "Events").
    services.placement.orchestrator.start({
      pollMs: options.placement?.pollMs,
      sweepEveryMs: options.placement?.sweepEveryMs,
    });
    let stopped: Promise<void> | undefined;
    return {
      endpoint,
      services,
      server,
      registration: local.registration,
      stop() {
        stopped ??= (async () => {
          await server.stop();
          await stopAll();
        })();
        return stopped;
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
