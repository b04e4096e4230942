/** Scrub's shared suite on SQLite metadata + two local-directory volumes. */
import { testScrub } from "../conformance/scrub.ts";
import { testOnTwoVolumes } from "../support/volumes.ts";

testOnTwoVolumes(testScrub, "local", { title: "scrub", tag: "scrub" });
