/**
 * The data plane's shared suite on SQLite metadata + two S3 volumes served by the s3rver stand-in
 * (a real protocol: multipart uploads of 8 MiB chunks, create-only puts, ranges, listing).
 */
import { testDataPlane } from "../conformance/data.ts";
import { testOnTwoVolumes } from "../support/volumes.ts";

testOnTwoVolumes(testDataPlane, "s3", { title: "data plane", tag: "data" });
