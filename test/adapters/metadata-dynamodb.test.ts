import { describe, it } from "vitest";
import { testMetadataStore } from "../conformance/metadata-store.ts";
import { freshDynamoDbStore } from "../support/dynamodb.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");

if (endpoint === undefined)
  describe("metadata store conformance: dynamodb", () => {
    it("runs on DynamoDB Local", (ctx) => ctx.skip("DynamoDB Local was not started (STRATA_STANDINS)"));
  });
else
  testMetadataStore("dynamodb", async () => {
    const { store, open, dispose } = await freshDynamoDbStore(endpoint, "strata-conformance");
    return { store, reopen: async () => open(), dispose };
  });
