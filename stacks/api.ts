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
 * The token key ring (adapters/auth/keys.ts, adapters/auth/keys-ssm.ts) lives in one SSM
 * SecureString, never in the table, the bundle or this stack's state: the API function creates it
 * on its first cold start and rotates it (`strata token rotate-key`); only its role may read it.
 */
const tokenKeysParameter = $interpolate`/strata/${$app.name}/${$app.stage}/token-keys`;
const tokenKeysParameterArn = $interpolate`arn:aws:ssm:${aws.getRegionOutput().region}:${aws.getCallerIdentityOutput().accountId}:parameter${tokenKeysParameter}`;

export const api = new sst.aws.Function("Api", {
  handler: "functions/api/lambda.handler",
  runtime: "nodejs22.x",
  architecture: "arm64",
  memory: "1024 MB",
  timeout: "30 seconds",
  url: true,
  link: [metadataTable, volumeBucket],
  // Only the API verifies tokens, so only it may read (and rotate) the key parameter. SecureStrings
  // use the account's `alias/aws/ssm` KMS key unless told otherwise; that key's policy lets the
  // account's principals use it through SSM (kms:ViaService), so the grant names SSM.
  permissions: [
    { actions: ["ssm:GetParameter", "ssm:PutParameter"], resources: [tokenKeysParameterArn] },
    {
      actions: ["kms:Decrypt", "kms:Encrypt"],
      resources: ["*"],
      conditions: [
        {
          test: "StringEquals",
          variable: "kms:ViaService",
          values: [$interpolate`ssm.${aws.getRegionOutput().region}.amazonaws.com`],
        },
      ],
    },
  ],
  environment: {
    STRATA_TABLE: metadataTable.name,
    STRATA_BUCKET: volumeBucket.name,
    STRATA_TOKEN_KEYS_PARAMETER: tokenKeysParameter,
  },
});
