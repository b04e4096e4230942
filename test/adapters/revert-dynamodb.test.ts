import { describe, it } from "vitest";
import { testRevertByIdentity } from "../conformance/revert.ts";
import { freshDynamoDbStore } from "../support/dynamodb.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");

if (endpoint === undefined)
  describe("revert by identity on dynamodb", () => {
    it("runs on DynamoDB Local", (ctx) => ctx.skip("DynamoDB Local was not started (STRATA_STANDINS)"));
  });
// The step-by-step fallback (60 files) runs on memory and SQLite; DynamoDB Local is slow per request.
else testRevertByIdentity("dynamodb", () => freshDynamoDbStore(endpoint, "strata-revert"), { big: false });
