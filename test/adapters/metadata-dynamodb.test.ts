import { describe, it } from "vitest";
import { DynamoDbMetadataStore } from "../../adapters/metadata/dynamodb.ts";
import { dynamoDbLocalClientConfig } from "../../adapters/standins/dynamodb.ts";
import { testMetadataStore } from "../conformance/metadata-store.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");
let tables = 0;

if (endpoint === undefined)
  describe("metadata store conformance: dynamodb", () => {
    it("runs on DynamoDB Local", (ctx) => ctx.skip("DynamoDB Local was not started (STRATA_STANDINS)"));
  });
else
  testMetadataStore("dynamodb", async () => {
    // A fresh table per fixture; DynamoDB Local creates one in milliseconds.
    const tableName = `strata-conformance-${process.pid}-${++tables}`;
    const make = () =>
      new DynamoDbMetadataStore({ clientConfig: dynamoDbLocalClientConfig(endpoint), tableName });
    const store = make();
    await store.createTable();
    return {
      store,
      reopen: async () => make(),
      dispose: async () => {
        await store.deleteTable();
        await store.close();
      },
    };
  });
