/** Placement with the metadata on DynamoDB Local (the cloud's store) and four local-directory volumes. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { testPlacement } from "../conformance/placement.ts";
import { freshDynamoDbStore } from "../support/dynamodb.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("dynamodb");

if (endpoint) {
  testPlacement("dynamodb local + four local volumes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "strata-placement-ddb-"));
    const table = await freshDynamoDbStore(endpoint, "strata-placement");
    const local = (name: string) => ({ kind: "local", config: { root: join(dir, "volumes", name) } });
    return {
      store: table.store,
      volumes: { local: local("local"), s3: local("s3"), azure: local("azure"), gcs: local("gcs") },
      async dispose() {
        await table.dispose();
        await rm(dir, { recursive: true, force: true });
      },
    };
  });
} else {
  describe("placement: dynamodb local + four local volumes", () => {
    it("needs the dynamodb stand-in", (ctx) => {
      console.info("[placement-dynamodb] skipped: the dynamodb stand-in was not started (STRATA_STANDINS)");
      ctx.skip("the dynamodb stand-in was not started (STRATA_STANDINS excludes dynamodb)");
    });
  });
}
