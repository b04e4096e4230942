/**
 * The one definition of strata's metadata table, as plain data. Used by the DynamoDB adapter's
 * `createTable()` (DynamoDB Local, first-run setups), by stacks/metadata.ts (SST) and by the
 * benchmarks, so the three never drift apart.
 *
 * One table holds every item: `pk` (partition, string) + `sk` (sort, string), on-demand billing,
 * a stream of new and old images (change feed for placement and mirroring), point-in-time
 * recovery, and a TTL attribute for items that expire on their own (intents, leases).
 */
export interface MetadataTableDefinition {
  /** Default table name; deployments and tests may override it. */
  readonly name: string;
  readonly partitionKey: { readonly name: "pk"; readonly type: "S" };
  readonly sortKey: { readonly name: "sk"; readonly type: "S" };
  readonly billingMode: "PAY_PER_REQUEST";
  readonly streamViewType: "NEW_AND_OLD_IMAGES";
  readonly pointInTimeRecovery: true;
  /** Epoch seconds; DynamoDB deletes the item some time after this instant. */
  readonly ttlAttribute: "expiresAt";
}

export const METADATA_TABLE: MetadataTableDefinition = {
  name: "strata",
  partitionKey: { name: "pk", type: "S" },
  sortKey: { name: "sk", type: "S" },
  billingMode: "PAY_PER_REQUEST",
  streamViewType: "NEW_AND_OLD_IMAGES",
  pointInTimeRecovery: true,
  ttlAttribute: "expiresAt",
};
