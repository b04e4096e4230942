import { describe, it } from "vitest";
import { testSdk } from "../conformance/sdk.ts";
import { remoteSdkFixture } from "../support/api-server.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("gcs");
if (endpoint)
  testSdk("connect({ endpoint }) over HTTP: SQLite + gcs volume", () => remoteSdkFixture("gcs", endpoint));
else
  describe("SDK over HTTP: SQLite + gcs volume", () =>
    it("needs the gcs stand-in", (ctx) => ctx.skip("STRATA_STANDINS excludes gcs")));
