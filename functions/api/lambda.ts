/**
 * The API on AWS Lambda (function URL or API Gateway HTTP API, payload format 2.0): the event
 * becomes an ApiRequest, `handle()` answers, the answer becomes the Lambda result. Services are
 * built once per container from the environment the stack sets (stacks/api.ts):
 *
 *   STRATA_TABLE    the metadata table (DynamoDB)
 *   STRATA_BUCKET   the default volume's S3 bucket (volume "s3")
 *   STRATA_SITE     optional site name of this deployment
 */
import { S3Client } from "@aws-sdk/client-s3";
import { TokenService } from "../../adapters/auth/tokens.ts";
import { nodeSha256 } from "../../adapters/data/sha256.ts";
import { DynamoDbMetadataStore } from "../../adapters/metadata/dynamodb.ts";
import { S3Presigner } from "../../adapters/presign/s3.ts";
import { S3VolumeDriver } from "../../adapters/volumes/s3.ts";
import { createDataPlane } from "../../core/data/index.ts";
import { strataError } from "../../core/errors.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { Volume } from "../../core/volume/volume.ts";
import { type ApiRequest, errorResponse, handle } from "./handle.ts";
import type { Services } from "./services.ts";

/** The subset of an API Gateway v2 / function URL event this adapter reads. */
export interface HttpEventV2 {
  rawPath?: string;
  requestContext?: { http?: { method?: string; path?: string } };
  headers?: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded?: boolean;
}

export interface HttpResultV2 {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: false;
}

/** Event → request (lowercase header names, base64 bodies decoded). */
export function toApiRequest(event: HttpEventV2): ApiRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) headers[k.toLowerCase()] = v;
  const body =
    event.body === undefined
      ? ""
      : event.isBase64Encoded
        ? Buffer.from(event.body, "base64").toString("utf8")
        : event.body;
  return {
    method: event.requestContext?.http?.method ?? "GET",
    path: event.rawPath ?? event.requestContext?.http?.path ?? "/",
    headers,
    body,
  };
}

function required(name: string): string {
  const value = process.env[name];
  if (!value)
    throw strataError("EUNAVAIL", `the API function is missing its ${name} setting (stacks/api.ts sets it)`);
  return value;
}

async function buildServices(): Promise<Services> {
  const store = new DynamoDbMetadataStore({ tableName: required("STRATA_TABLE") });
  const bucket = required("STRATA_BUCKET");
  const client = new S3Client({});
  const volume = new Volume(new S3VolumeDriver({ name: "s3", bucket, client }));
  const site = process.env.STRATA_SITE;
  const data = createDataPlane({
    store,
    volumes: { s3: { volume, site } },
    defaultVolume: "s3",
    site,
    sha256: nodeSha256,
  });
  return {
    namespace: createNamespace({ store }),
    data,
    store,
    tokens: await TokenService.open(store),
    volumes: { s3: { volume, site, kind: "s3", presigner: new S3Presigner({ client, bucket }) } },
    sha256: nodeSha256,
    clock: Date.now,
    deployment: {
      name: process.env.AWS_LAMBDA_FUNCTION_NAME ?? "lambda",
      site,
      startedAt: Date.now(),
      runtime: "lambda",
    },
    autoCreatePfs: false,
  };
}

let services: Promise<Services> | undefined;

export async function handler(event: HttpEventV2): Promise<HttpResultV2> {
  let response: Awaited<ReturnType<typeof handle>>;
  try {
    services ??= buildServices();
    services.catch(() => {
      services = undefined; // retry the setup on the next event
    });
    response = await handle(toApiRequest(event), await services);
  } catch (err) {
    response = errorResponse(err);
  }
  return {
    statusCode: response.status,
    headers: response.headers,
    body: response.body,
    isBase64Encoded: false,
  };
}
