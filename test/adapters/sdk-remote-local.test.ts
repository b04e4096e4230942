import { testSdk } from "../conformance/sdk.ts";
import { remoteSdkFixture } from "../support/api-server.ts";

testSdk("connect({ endpoint }) over HTTP: SQLite + local volume, 64 KiB chunks", () =>
  remoteSdkFixture("local", undefined, 64 * 1024),
);
