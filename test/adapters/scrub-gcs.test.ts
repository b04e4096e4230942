/** Scrub's shared suite on SQLite metadata + two GCS volumes on the gcs stand-in. */
import { testScrub } from "../conformance/scrub.ts";
import { testOnTwoVolumes } from "../support/volumes.ts";

testOnTwoVolumes(testScrub, "gcs", { title: "scrub", tag: "scrub" });
