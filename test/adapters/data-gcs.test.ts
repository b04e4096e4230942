/**
 * The data plane's shared suite on SQLite metadata + two GCS volumes served by strata's GCS
 * stand-in (multipart and resumable uploads, ifGenerationMatch create-only, native CRC32C).
 */
import { testDataPlane } from "../conformance/data.ts";
import { testOnTwoVolumes } from "../support/volumes.ts";

testOnTwoVolumes(testDataPlane, "gcs", { title: "data plane", tag: "data" });
