import { describe, it } from "vitest";
import { DynamoDbMetadataStore } from "../../adapters/metadata/dynamodb.ts";
import { dynamoDbLocalClientConfig } from "../../adapters/standins/dynamodb.ts";
import { testNamespaceConcurrency } from "../conformance/namespace-concurrency.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");

if (endpoint === undefined)
  describe("namespace engine on dynamodb under racing clients", () => {
    it("runs on DynamoDB Local", (ctx) => ctx.skip("DynamoDB Local was not started (STRATA_STANDINS)"));
  });
// One table, one SDK client per engine instance: separate clients as in the cloud.
else
  testNamespaceConcurrency(
    "dynamodb",
    async (clients) => {
      const tableName = `strata-race-${process.pid}`;
      const stores = Array.from(
        { length: clients },
        () => new DynamoDbMetadataStore({ clientConfig: dynamoDbLocalClientConfig(endpoint), tableName }),
      );
      await stores[0]!.createTable();
      return {
        stores,
        dispose: async () => {
          await stores[0]!.deleteTable();
          for (const s of stores) await s.close();
        },
      };
    },
    { opsPerClient: 40, rounds: 2 },
  );
