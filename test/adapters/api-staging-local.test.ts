import { testUploadStaging } from "../conformance/api-staging.ts";

testUploadStaging("local", undefined);
