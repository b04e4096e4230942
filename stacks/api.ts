/// <reference path="../.sst/platform/config.d.ts" />
/**
 * The HTTP API in the cloud: one Lambda function (functions/api/lambda.ts) behind a function URL,
 * an S3 bucket as the default volume, linked to the metadata table. Least privilege: the links
 * grant exactly table read/write and bucket object access; clients move bytes with presigned URLs
 * signed by this function's role (so the role's bucket rights are what a URL can do, one key at a
 * time).
 */
import { metadataTable } from "./metadata";

export const volumeBucket = new sst.aws.Bucket("DefaultVolume", {
  // Browsers and CLIs PUT/GET chunks by presigned URL straight to the bucket.
  cors: { allowMethods: ["GET", "PUT"], allowOrigins: ["*"], allowHeaders: ["*"] },
});

/**
 * The token key ring (adapters/auth/keys.ts): "<current id>:<base64url secret>[,<older id>:<…>]".
 * SST keeps a secret encrypted in its state bucket and puts it, encrypted, into the bundle of the
 * functions it is linked to (decrypted at start with the SST_KEY in their environment) — never in
 * the metadata table, its exports or backups. Set it before the first deploy:
 * `npx sst secret set StrataTokenKeys k1:$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')`.
 * Rotation: put a new key in front, deploy; later drop the old one, deploy (docs/http-api.md).
 */
export const tokenKeys = new sst.Secret("StrataTokenKeys");

export const api = new sst.aws.Function("Api", {
  handler: "functions/api/lambda.handler",
  runtime: "nodejs20.x",
  architecture: "arm64",
  memory: "1024 MB",
  timeout: "30 seconds",
  url: true,
  // Only the API verifies tokens, so only it is linked to the key secret.
  link: [metadataTable, volumeBucket, tokenKeys],
  environment: {
    STRATA_TABLE: metadataTable.name,
    STRATA_BUCKET: volumeBucket.name,
  },
});
