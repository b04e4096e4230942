/**
 * The Lambdas' runtime: what the API (functions/api/lambda.ts), the schedules
 * (functions/schedule/{vacuum,scrub}.ts, functions/mirror/schedule.ts), the placement step
 * (functions/workflow/step.ts) and the stream trigger (functions/triggers/table-stream.ts) run
 * against, built once per container from the environment the stacks set (runtime/config.ts):
 *
 *   STRATA_TABLE    the metadata table (DynamoDB)
 *   STRATA_BUCKET   the deployment's S3 bucket, registered at cold start as volume record `s3`
 *                   (idempotent; an existing record with other settings is left alone) and the
 *                   default volume unless STRATA_DEFAULT_VOLUME names another
 *   STRATA_SITE     the reader's site and the bucket record's site
 *   STRATA_PLACEMENT_GRACE_SECONDS  grace before trimming (default 60; the state machine's Trim
 *                   retrier is compiled with the same value in stacks/workflows.ts)
 *   STRATA_TOKEN_KEYS_PARAMETER     the SSM SecureString holding the token keys (the API), or
 *   STRATA_TOKEN_KEYS               the ring itself (tests)
 *
 * Every function opens its volumes from the records (the one registry, runtime/services.ts), so a
 * `volume.add` reaches every function within the registry's cache time (5 s), without a deploy.
 * Presigners follow the records: S3 volumes sign with the function's role; local volumes have no
 * URLs here, and GCS volumes none until a signing account is configured (both ENOTSUP).
 *
 * The token keys (adapters/auth/keys.ts) come from the SSM parameter (adapters/auth/keys-ssm.ts,
 * created by the first cold start), or from STRATA_TOKEN_KEYS when set — never from the table,
 * the bundle or the function's environment otherwise.
 */
import { type KeySource, staticKeyRing } from "../adapters/auth/keys.ts";
import { ssmKeyRing } from "../adapters/auth/keys-ssm.ts";
import { TokenService } from "../adapters/auth/tokens.ts";
import { nodeSha256 } from "../adapters/data/sha256.ts";
import { registerVolumes } from "../adapters/data/volumes.ts";
import { DynamoDbMetadataStore } from "../adapters/metadata/dynamodb.ts";
import type { Sha256 } from "../core/data/api.ts";
import { strataError } from "../core/errors.ts";
import { STREAM_EXECUTOR } from "../core/jobs/service.ts";
import type { MetadataStore } from "../core/metadata/port.ts";
import type { Namespace } from "../core/namespace/api.ts";
import { createNamespace } from "../core/namespace/index.ts";
import { PlacementOrchestrator } from "../core/placement/orchestrator.ts";
import type { VolumeRegistry } from "../core/volume/registry.ts";
import { readConfig } from "./config.ts";
import { openPlacement, type PlacementServices, type Services } from "./services.ts";

export type CloudPlacement = PlacementServices & { store: MetadataStore; namespace: Namespace };

/** The record name of the deployment's own S3 bucket. */
export const BUCKET_VOLUME = "s3";

let opened: Promise<CloudPlacement> | undefined;

/** The table, the namespace and placement over the volume records: once per container. */
export function cloudPlacement(): Promise<CloudPlacement> {
  opened ??= (async () => {
    const { cloud, placementGraceSeconds } = readConfig();
    if (!cloud.table)
      throw strataError("EINVAL", "STRATA_TABLE is not set: the Lambdas need the metadata table's name");
    const { bucket, site } = cloud;
    const store = new DynamoDbMetadataStore({ tableName: cloud.table });
    const namespace = createNamespace({ store });
    const services = openPlacement({
      store,
      namespace,
      defaultVolume: cloud.defaultVolume ?? (bucket ? BUCKET_VOLUME : "default"),
      data: { site, sha256: nodeSha256 },
      graceMs: placementGraceSeconds * 1000,
      // A job starts from its record's INSERT on the table stream (stacks/workflows.ts JobsPipe),
      // never inside the API function.
      jobExecutor: STREAM_EXECUTOR,
    });
    if (bucket)
      // No client settings: the driver uses the SDK's default chain (the function's role, region).
      await registerVolumes(services.volumes, {
        [BUCKET_VOLUME]: {
          kind: "s3",
          bucket,
          cloud: "aws",
          class: "durable",
          ...(site !== undefined ? { site } : {}),
        },
      });
    return { ...services, store, namespace };
  })();
  // A failed cold start (table unreachable, …) is retried by the next invocation.
  opened.catch(() => {
    opened = undefined;
  });
  return opened;
}

/** The token key ring: STRATA_TOKEN_KEYS (tests), else the SSM parameter the stack names. */
export async function cloudKeys(): Promise<KeySource> {
  const { cloud } = readConfig();
  if (cloud.tokenKeys) return staticKeyRing(cloud.tokenKeys, "STRATA_TOKEN_KEYS");
  if (!cloud.tokenKeysParameter)
    throw strataError(
      "EUNAVAIL",
      "the token keys are not configured: set STRATA_TOKEN_KEYS_PARAMETER to the SSM parameter that holds them (stacks/api.ts does)",
    );
  const { SSMClient } = await import("@aws-sdk/client-ssm");
  return ssmKeyRing({ client: new SSMClient({}), name: cloud.tokenKeysParameter });
}

/**
 * The API's view of the orchestrator in the cloud: objective and volume changes reach the stream
 * trigger, which starts the runs, so `enqueue` starts none here; the object-level evacuation of a
 * drain runs only in-process (docs/placement.md "Not done"). `placement.sweep` starts a job
 * (its record; the table stream starts the sweep machine), never a sweep in this invocation.
 */
class StreamDrivenOrchestrator extends PlacementOrchestrator {
  override async enqueue(): Promise<void> {}
  override async drain(volume: string): Promise<{ evacuated: number }> {
    throw strataError(
      "ENOTSUP",
      `volume ${volume} is marked draining and its live files are re-placed by the stream; moving what is left (old versions' chunks) runs only in-process, on the local server`,
      { volume },
    );
  }
}

/** The API function's services. Placement runs are started by the stream and the sweep workflow, never here. */
export async function lambdaServices(): Promise<Services> {
  const p = await cloudPlacement();
  const { cloud } = readConfig();
  const orchestrator = new StreamDrivenOrchestrator({
    store: p.store,
    namespace: p.namespace,
    placement: p.placement,
    runWorkflow: (input) => p.runner.run(input),
  });
  return {
    namespace: p.namespace,
    data: p.data,
    store: p.store,
    tokens: await TokenService.open(p.store, await cloudKeys()),
    volumes: p.registry,
    placement: { ...p, orchestrator },
    sha256: nodeSha256,
    clock: Date.now,
    deployment: {
      name: cloud.functionName ?? "lambda",
      site: cloud.site,
      startedAt: Date.now(),
      runtime: "lambda",
    },
    autoCreatePfs: false,
  };
}

/** What the scheduled functions run against; `volumes` is THE registry over the volume records. */
export interface LambdaDeps {
  store: MetadataStore;
  namespace: Namespace;
  volumes: VolumeRegistry;
  clock: () => number;
  sha256: Sha256;
}

/** The schedules' deps, read per invocation (the registry caches records 5 s). */
export async function lambdaDeps(): Promise<LambdaDeps> {
  const p = await cloudPlacement();
  return {
    store: p.store,
    namespace: p.namespace,
    volumes: p.registry,
    clock: Date.now,
    sha256: nodeSha256,
  };
}
