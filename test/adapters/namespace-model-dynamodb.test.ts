import { describe, it } from "vitest";
import { testNamespaceAgainstModel } from "../conformance/namespace-model.ts";
import { freshDynamoDbStore } from "../support/dynamodb.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");

if (endpoint === undefined)
  describe("namespace engine on dynamodb agrees with the reference model", () => {
    it("runs on DynamoDB Local", (ctx) => ctx.skip("DynamoDB Local was not started (STRATA_STANDINS)"));
  });
else
  testNamespaceAgainstModel(
    "dynamodb",
    () => freshDynamoDbStore(endpoint, "strata-model"),
    // DynamoDB Local answers in ~1 ms per request and one sequence costs ~5 s: `npm test` runs a
    // small tier (the 1,000-sequence run is on SQLite); STRATA_PROPERTY_RUNS scales it up.
    { runs: 12, asOfAttrs: false },
  );
