/**
 * What the scheduled Lambda functions (vacuum.ts, scrub.ts) run against on AWS: the deployment's
 * DynamoDB table and its S3 default volume, from the same settings the API function gets
 * (STRATA_TABLE, STRATA_BUCKET, STRATA_SITE — stacks/api.ts).
 */
import { S3Client } from "@aws-sdk/client-s3";
import { nodeSha256 } from "../../adapters/data/sha256.ts";
import { DynamoDbMetadataStore } from "../../adapters/metadata/dynamodb.ts";
import { S3VolumeDriver } from "../../adapters/volumes/s3.ts";
import { strataError } from "../../core/errors.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { Volume } from "../../core/volume/volume.ts";
import type { MaintenanceDeps } from "./maintenance.ts";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw strataError("EUNAVAIL", `the schedule function is missing its ${name} setting`);
  return value;
}

let deps: MaintenanceDeps | undefined;

export function lambdaDeps(): MaintenanceDeps {
  if (deps) return deps;
  const store = new DynamoDbMetadataStore({ tableName: required("STRATA_TABLE") });
  const volume = new Volume(
    new S3VolumeDriver({ name: "s3", bucket: required("STRATA_BUCKET"), client: new S3Client({}) }),
  );
  deps = {
    store,
    namespace: createNamespace({ store }),
    volumes: { s3: { volume } },
    clock: Date.now,
    sha256: nodeSha256,
  };
  return deps;
}

/** Seconds left in this invocation minus a margin (the time box of the run). */
export function budgetSeconds(
  context: { getRemainingTimeInMillis?: () => number } | undefined,
  fallback: number,
): number {
  const left = context?.getRemainingTimeInMillis?.();
  return left === undefined ? fallback : Math.max(1, Math.floor(left / 1000) - 30);
}
