/**
 * What the placement Lambdas run against, built once per container: the DynamoDB metadata store
 * (table from `STRATA_TABLE`), the namespace engine, and placement over the volume records.
 * Grace period from `STRATA_PLACEMENT_GRACE_SECONDS` (default 60; the state machine's Trim retrier
 * is compiled with the same value in stacks/workflows.ts).
 */
import { DynamoDbMetadataStore } from "../../adapters/metadata/dynamodb.ts";
import { openPlacement, type PlacementServices } from "../../adapters/workflows/placement.ts";
import { strataError } from "../../core/errors.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import type { Namespace } from "../../core/namespace/api.ts";
import { createNamespace } from "../../core/namespace/index.ts";

export type CloudPlacement = PlacementServices & { store: MetadataStore; namespace: Namespace };

let opened: Promise<CloudPlacement> | undefined;

export function cloudPlacement(): Promise<CloudPlacement> {
  opened ??= (async () => {
    const tableName = process.env.STRATA_TABLE;
    if (!tableName)
      throw strataError(
        "EINVAL",
        "STRATA_TABLE is not set: the placement Lambdas need the metadata table's name",
      );
    const store = new DynamoDbMetadataStore({ tableName });
    const namespace = createNamespace({ store });
    const services = openPlacement({
      store,
      namespace,
      defaultVolume: process.env.STRATA_DEFAULT_VOLUME ?? "default",
      graceMs: Number(process.env.STRATA_PLACEMENT_GRACE_SECONDS ?? 60) * 1000,
    });
    return { ...services, store, namespace };
  })();
  return opened;
}
