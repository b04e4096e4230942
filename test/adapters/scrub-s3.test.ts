/** Scrub's shared suite on SQLite metadata + two S3 volumes served by the s3rver stand-in. */
import { testScrub } from "../conformance/scrub.ts";
import { testOnTwoVolumes } from "../support/volumes.ts";

testOnTwoVolumes(testScrub, "s3", { title: "scrub", tag: "scrub" });
