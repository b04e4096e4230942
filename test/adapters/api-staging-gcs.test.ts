import { testUploadStaging } from "../conformance/api-staging.ts";
import { standInEndpoint } from "../support/standins.ts";

testUploadStaging("gcs", standInEndpoint("gcs"));
