import { describe, it } from "vitest";
import { DynamoDbMetadataStore } from "../../adapters/metadata/dynamodb.ts";
import { dynamoDbLocalClientConfig } from "../../adapters/standins/dynamodb.ts";
import { testNamespaceEngine } from "../conformance/namespace-engine.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");
let tables = 0;

if (endpoint === undefined)
  describe("namespace engine on dynamodb", () => {
    it("runs on DynamoDB Local", (ctx) => ctx.skip("DynamoDB Local was not started (STRATA_STANDINS)"));
  });
else
  testNamespaceEngine(
    "dynamodb",
    async () => {
      const store = new DynamoDbMetadataStore({
        clientConfig: dynamoDbLocalClientConfig(endpoint),
        tableName: `strata-ns-engine-${process.pid}-${++tables}`,
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
    // Depth 1,000 is covered on SQLite and memory; DynamoDB Local is slow per request.
    { depths: [1, 100] },
  );
