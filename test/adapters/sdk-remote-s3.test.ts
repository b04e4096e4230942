import { describe, it } from "vitest";
import { testSdk } from "../conformance/sdk.ts";
import { remoteSdkFixture } from "../support/api-server.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("s3");
if (endpoint)
  testSdk("connect({ endpoint }) over HTTP: SQLite + s3 volume", () => remoteSdkFixture("s3", endpoint));
else
  describe("SDK over HTTP: SQLite + s3 volume", () =>
    it("needs the s3 stand-in", (ctx) => ctx.skip("STRATA_STANDINS excludes s3")));
