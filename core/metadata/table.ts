/**
 * The one definition of strata's metadata table, as plain data. Used by the DynamoDB adapter's
 * `createTable()` (DynamoDB Local, first-run setups), by stacks/metadata.ts (SST) and by the
 * benchmarks, so the three never drift apart.
 *
 * One table holds every item: `pk` (partition, string) + `sk` (sort, string), on-demand billing,
 * a stream of new and old images (change feed for placement and mirroring), point-in-time
 * recovery, and a TTL attribute for items that expire on their own (intents, TID leases, idempotency
 * records, tokens).
 *
 * TTL: DynamoDB deletes an item some time (up to days) after the instant in its TTL attribute,
 * which must be a Number of epoch SECONDS. Each expiring item carries `ttl` (written through
 * {@link ttlAttribute}) besides its own expiry field, which keeps its unit and meaning for the
 * code that reads it (`expiresAt`: ms for intents, seconds for idempotency records, an ISO string
 * for tokens) — so items written before `ttl` existed still read the same; they just never
 * expire on their own. An existing table whose TTL named `expiresAt` must have TTL disabled and
 * enabled again on `ttl` (DynamoDB allows one TTL attribute; the switch takes up to an hour).
 */
export interface MetadataTableDefinition {
  /** Default table name; deployments and tests may override it. */
  readonly name: string;
  readonly partitionKey: { readonly name: "pk"; readonly type: "S" };
  readonly sortKey: { readonly name: "sk"; readonly type: "S" };
  readonly billingMode: "PAY_PER_REQUEST";
  readonly streamViewType: "NEW_AND_OLD_IMAGES";
  readonly pointInTimeRecovery: true;
  /** Epoch seconds (a Number); DynamoDB deletes the item some time after this instant. */
  readonly ttlAttribute: "ttl";
}

export const METADATA_TABLE: MetadataTableDefinition = {
  name: "strata",
  partitionKey: { name: "pk", type: "S" },
  sortKey: { name: "sk", type: "S" },
  billingMode: "PAY_PER_REQUEST",
  streamViewType: "NEW_AND_OLD_IMAGES",
  pointInTimeRecovery: true,
  ttlAttribute: "ttl",
};

/** Past this instant (ms) an expiry means "never" (a Date's limit is 8.64e15 ms). */
const NEVER_MS = 253402300800000; // 10000-01-01

/**
 * The TTL attribute of an item DynamoDB may delete after `ms` (epoch ms): `{ ttl: <epoch
 * seconds, rounded up> }`; nothing for a time that is not finite or means "never".
 */
export function ttlAttribute(ms: number): Record<string, number> {
  if (!Number.isFinite(ms) || ms <= 0 || ms >= NEVER_MS) return {};
  return { [METADATA_TABLE.ttlAttribute]: Math.ceil(ms / 1000) };
}
