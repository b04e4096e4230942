import { describe, it } from "vitest";
import { testNamespaceEngine } from "../conformance/namespace-engine.ts";
import { freshDynamoDbStore } from "../support/dynamodb.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");

if (endpoint === undefined)
  describe("namespace engine on dynamodb", () => {
    it("runs on DynamoDB Local", (ctx) => ctx.skip("DynamoDB Local was not started (STRATA_STANDINS)"));
  });
else
  testNamespaceEngine(
    "dynamodb",
    () => freshDynamoDbStore(endpoint, "strata-ns-engine"),
    // Depth 1,000 is covered on SQLite and memory; DynamoDB Local is slow per request.
    { depths: [1, 100] },
  );
