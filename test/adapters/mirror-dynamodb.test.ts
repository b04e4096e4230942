import { describe, it } from "vitest";
import { testMirror } from "../conformance/mirror.ts";
import { freshDynamoDbStore } from "../support/dynamodb.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");

if (endpoint === undefined)
  describe("mirroring on dynamodb", () => {
    it("runs on DynamoDB Local", (ctx) => ctx.skip("DynamoDB Local was not started (STRATA_STANDINS)"));
  });
// A few runs: DynamoDB Local is slow per request; memory and SQLite run the full property.
else testMirror("dynamodb", () => freshDynamoDbStore(endpoint, "strata-mirror"), { runs: 2, ops: 25 });
