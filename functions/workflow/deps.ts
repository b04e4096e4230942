/**
 * What the Lambdas run against, built once per container: the DynamoDB metadata store (table
 * from `STRATA_TABLE`), the namespace engine, and placement over the volume records — the API
 * (functions/api/lambda.ts), the schedules (functions/schedule/lambda-deps.ts), the placement step
 * and the stream trigger all open their volumes from the records, so a `volume.add` reaches
 * every function within the records' cache TTL (5 s), without a deploy.
 *
 * The deployment's S3 bucket (`STRATA_BUCKET`, when set) is registered at cold start as the
 * volume record `s3` (idempotent; an existing record with other settings is left alone) and is
 * the default volume unless `STRATA_DEFAULT_VOLUME` names another. `STRATA_SITE` is the reader's
 * site and the bucket record's site. Grace period from `STRATA_PLACEMENT_GRACE_SECONDS`
 * (default 60; the state machine's Trim retrier is compiled with the same value in
 * stacks/workflows.ts).
 */
import { nodeSha256 } from "../../adapters/data/sha256.ts";
import { registerVolumes } from "../../adapters/data/volumes.ts";
import { DynamoDbMetadataStore } from "../../adapters/metadata/dynamodb.ts";
import { openPlacement, type PlacementServices } from "../../adapters/workflows/placement.ts";
import { strataError } from "../../core/errors.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import type { Namespace } from "../../core/namespace/api.ts";
import { createNamespace } from "../../core/namespace/index.ts";

export type CloudPlacement = PlacementServices & { store: MetadataStore; namespace: Namespace };

/** The record name of the deployment's own S3 bucket. */
export const BUCKET_VOLUME = "s3";

let opened: Promise<CloudPlacement> | undefined;

export function cloudPlacement(): Promise<CloudPlacement> {
  opened ??= (async () => {
    const tableName = process.env.STRATA_TABLE;
    if (!tableName)
      throw strataError("EINVAL", "STRATA_TABLE is not set: the Lambdas need the metadata table's name");
    const bucket = process.env.STRATA_BUCKET;
    const site = process.env.STRATA_SITE;
    const store = new DynamoDbMetadataStore({ tableName });
    const namespace = createNamespace({ store });
    const services = openPlacement({
      store,
      namespace,
      defaultVolume: process.env.STRATA_DEFAULT_VOLUME ?? (bucket ? BUCKET_VOLUME : "default"),
      data: { site, sha256: nodeSha256 },
      graceMs: Number(process.env.STRATA_PLACEMENT_GRACE_SECONDS ?? 60) * 1000,
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
