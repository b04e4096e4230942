import { testUploadStaging } from "../conformance/api-staging.ts";
import { standInEndpoint } from "../support/standins.ts";

testUploadStaging("s3", standInEndpoint("s3"));
