import { describe, it } from "vitest";
import { testNamespaceConcurrency } from "../conformance/namespace-concurrency.ts";
import { freshDynamoDbStore } from "../support/dynamodb.ts";
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
      const table = await freshDynamoDbStore(endpoint, "strata-race");
      const stores = [table.store, ...Array.from({ length: clients - 1 }, () => table.open())];
      return {
        stores,
        dispose: async () => {
          for (const s of stores.slice(1)) await s.close();
          await table.dispose();
        },
      };
    },
    { opsPerClient: 40, rounds: 2 },
  );
