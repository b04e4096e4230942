import { describe, it } from "vitest";
import { testIdempotentCommits } from "../conformance/idempotent-commits.ts";
import { freshDynamoDbStore } from "../support/dynamodb.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");

// On DynamoDB Local the re-send after a lost reply is answered by DynamoDB's own ClientRequestToken handling.
if (endpoint === undefined)
  describe("idempotent commits: dynamodb", () => {
    it("runs on DynamoDB Local", (ctx) => ctx.skip("DynamoDB Local was not started (STRATA_STANDINS)"));
  });
else
  testIdempotentCommits("dynamodb", async () => {
    const { store, dispose } = await freshDynamoDbStore(endpoint, "strata-idem");
    return { store, dispose };
  });
