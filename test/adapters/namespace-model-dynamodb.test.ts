import { describe, it } from "vitest";
import { DynamoDbMetadataStore } from "../../adapters/metadata/dynamodb.ts";
import { dynamoDbLocalClientConfig } from "../../adapters/standins/dynamodb.ts";
import { testNamespaceAgainstModel } from "../conformance/namespace-model.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");
let tables = 0;

if (endpoint === undefined)
  describe("namespace engine on dynamodb agrees with the reference model", () => {
    it("runs on DynamoDB Local", (ctx) => ctx.skip("DynamoDB Local was not started (STRATA_STANDINS)"));
  });
else
  testNamespaceAgainstModel(
    "dynamodb",
    async () => {
      // A fresh table per sequence; DynamoDB Local creates one in milliseconds.
      const store = new DynamoDbMetadataStore({
        clientConfig: dynamoDbLocalClientConfig(endpoint),
        tableName: `strata-model-${process.pid}-${++tables}`,
      });
      await store.createTable();
      return {
        store,
        dispose: async () => {
          await store.deleteTable();
          await store.close();
        },
      };
    },
    // DynamoDB Local answers in ~1 ms per request and one sequence costs ~5 s: `npm test` runs a
    // small tier (the 1,000-sequence run is on SQLite); STRATA_PROPERTY_RUNS scales it up.
    { runs: 12, asOfAttrs: false },
  );
