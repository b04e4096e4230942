/// <reference path="../.sst/platform/config.d.ts" />
/**
 * The metadata table in the cloud, built from the one definition in core/metadata/table.ts
 * (pk + sk strings, on-demand billing, new-and-old-image stream, point-in-time recovery, TTL on
 * `ttl`, epoch seconds: core/metadata/table.ts). SST names the physical table; functions read it through the link
 * (`Resource.Metadata.name`), never a hard-coded name.
 *
 * Type-checked only after `sst install` (which writes .sst/platform); tsconfig excludes stacks/
 * until then.
 */
import { METADATA_TABLE as t } from "../core/metadata/table.ts";

const streams = { NEW_AND_OLD_IMAGES: "new-and-old-images" } as const;

export const metadataTable = new sst.aws.Dynamo("Metadata", {
  fields: { [t.partitionKey.name]: "string", [t.sortKey.name]: "string" },
  primaryIndex: { hashKey: t.partitionKey.name, rangeKey: t.sortKey.name },
  stream: streams[t.streamViewType],
  transform: {
    table: {
      billingMode: t.billingMode,
      pointInTimeRecovery: { enabled: t.pointInTimeRecovery },
      ttl: { attributeName: t.ttlAttribute, enabled: true },
    },
  },
});
