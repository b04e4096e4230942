/**
 * The data plane's shared suite on SQLite metadata + two Azure Blob volumes served by azurite
 * (Microsoft's emulator: block uploads, and create-only puts it really enforces).
 */
import { testDataPlane } from "../conformance/data.ts";
import { testOnTwoVolumes } from "../support/volumes.ts";

testOnTwoVolumes(testDataPlane, "azure", { title: "data plane", tag: "data" });
