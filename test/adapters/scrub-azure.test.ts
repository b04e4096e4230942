/** Scrub's shared suite on SQLite metadata + two Azure Blob volumes on the azure stand-in. */
import { testScrub } from "../conformance/scrub.ts";
import { testOnTwoVolumes } from "../support/volumes.ts";

testOnTwoVolumes(testScrub, "azure", { title: "scrub", tag: "scrub" });
