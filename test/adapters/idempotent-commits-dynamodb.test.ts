import { describe, it } from "vitest";
import { testIdempotentCommits } from "../conformance/idempotent-commits.ts";
import { freshDynamoDbStore } from "../support/dynamodb.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");

// On DynamoDB Local the re-send after a lost reply is answered by DynamoDB's own ClientRequestToken handling.
// All 18 operations take ~5 min here (DynamoDB Local at ~200 transactions/s on 2 cores); memory and
// SQLite run all of them, DynamoDB Local a subset that covers every kind of commit the engine makes
// (create-only, update of a live version, a move across directories, a delete, a batch, a snapshot).
if (endpoint === undefined)
  describe("idempotent commits: dynamodb", () => {
    it("runs on DynamoDB Local", (ctx) => ctx.skip("DynamoDB Local was not started (STRATA_STANDINS)"));
  });
else
  testIdempotentCommits("dynamodb", async () => {
    const { store, dispose } = await freshDynamoDbStore(endpoint, "strata-idem");
    return { store, dispose };
  }, ["mkdir", "create", "writeContent", "rename", "unlink", "setTag", "batch", "createSnapshot"]);
