import {
  DynamoDbMetadataStore,
  type DynamoDbMetadataStoreOptions,
} from "../../adapters/metadata/dynamodb.ts";
import { dynamoDbLocalClientConfig } from "../../standins/dynamodb.ts";

/** A freshly created DynamoDB Local table and a store on it. */
export interface FreshDynamoDbStore {
  store: DynamoDbMetadataStore;
  /** Another handle on the same table, with its own SDK client (as a second process would have); the caller closes it. */
  open(): DynamoDbMetadataStore;
  /** Delete the table, then close `store`. */
  dispose(): Promise<void>;
}

let tables = 0;

/**
 * Create a new table `<prefix>-<pid>-<n>` on the DynamoDB Local at `endpoint` (one per fixture:
 * DynamoDB Local creates one in milliseconds) and open a store on it.
 */
export async function freshDynamoDbStore(
  endpoint: string,
  prefix: string,
  /** More store options (client settings are merged over DynamoDB Local's). */
  extra: Omit<DynamoDbMetadataStoreOptions, "tableName" | "client"> = {},
): Promise<FreshDynamoDbStore> {
  const tableName = `${prefix}-${process.pid}-${++tables}`;
  const open = () =>
    new DynamoDbMetadataStore({
      ...extra,
      clientConfig: { ...dynamoDbLocalClientConfig(endpoint), ...extra.clientConfig },
      tableName,
    });
  const store = open();
  await store.createTable();
  return {
    store,
    open,
    dispose: async () => {
      await store.deleteTable();
      await store.close();
    },
  };
}
