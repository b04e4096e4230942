import { describe, it } from "vitest";
import { testVacuumProperty } from "../conformance/vacuum.ts";
import { freshDynamoDbStore } from "../support/dynamodb.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");

if (endpoint === undefined)
  describe("vacuum property (dynamodb)", () => {
    it("runs on DynamoDB Local", (ctx) => ctx.skip("DynamoDB Local was not started (STRATA_STANDINS)"));
  });
// A few sequences only: DynamoDB Local costs ~1 ms per request (the wide runs are on memory/SQLite).
else
  testVacuumProperty("dynamodb", () => freshDynamoDbStore(endpoint, "strata-vacuum"), {
    runs: 3,
    maxSteps: 20,
    timeout: 300_000,
  });
