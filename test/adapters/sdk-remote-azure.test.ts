import { describe, it } from "vitest";
import { testSdk } from "../conformance/sdk.ts";
import { remoteSdkFixture } from "../support/api-server.ts";
import { standInEndpoint } from "../support/standins.ts";

const endpoint = standInEndpoint("azure");
if (endpoint)
  testSdk("connect({ endpoint }) over HTTP: SQLite + azure volume", () =>
    remoteSdkFixture("azure", endpoint),
  );
else
  describe("SDK over HTTP: SQLite + azure volume", () =>
    it("needs the azure stand-in", (ctx) => ctx.skip("STRATA_STANDINS excludes azure")));
