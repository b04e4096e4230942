/**
 * The API on AWS Lambda (function URL or API Gateway HTTP API, payload format 2.0): the event
 * becomes an ApiRequest, `handle()` answers, the answer becomes the Lambda result. Services are
 * built once per container from the environment the stack sets (stacks/api.ts):
 *
 *   STRATA_TABLE    the metadata table (DynamoDB)
 *   STRATA_BUCKET   the default volume's S3 bucket (registered as volume record "s3" at cold start)
 *   STRATA_SITE     optional site name of this deployment
 *
 *   STRATA_TOKEN_KEYS_PARAMETER  the SSM SecureString holding the token keys
 *
 * The token keys (adapters/auth/keys.ts) come from that SSM parameter (adapters/auth/keys-ssm.ts,
 * created by the first cold start), or from STRATA_TOKEN_KEYS when set (tests) — never from the
 * table, the bundle or the function's environment.
 *
 * Volumes come from the volume records (functions/workflow/deps.ts), with presigners built from
 * each record (adapters/presign/records.ts): S3 volumes sign with the function's role; local
 * volumes have no URLs here, and GCS volumes none until a signing account is configured (both
 * ENOTSUP). Placement runs are started by the table's stream and the sweep workflow
 * (stacks/workflows.ts), never inside this function (it freezes after answering).
 */
import { type KeySource, staticKeyRing } from "../../adapters/auth/keys.ts";
import { ssmKeyRing } from "../../adapters/auth/keys-ssm.ts";
import { TokenService } from "../../adapters/auth/tokens.ts";
import { nodeSha256 } from "../../adapters/data/sha256.ts";
import { openRecordApiVolumes } from "../../adapters/presign/records.ts";
import { strataError } from "../../core/errors.ts";
import { PlacementOrchestrator } from "../../core/placement/orchestrator.ts";
import { cloudPlacement } from "../workflow/deps.ts";
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

/**
 * The API's view of the orchestrator in the cloud: objective and volume changes reach the stream
 * trigger, which starts the runs, so `enqueue` starts none here; the object-level evacuation of a
 * drain runs only in-process (docs/placement.md "Not done"). `placement.sweep` runs its bounded
 * batch in this invocation.
 */
class StreamDrivenOrchestrator extends PlacementOrchestrator {
  override async enqueue(): Promise<void> {}
  override async drain(volume: string): Promise<{ evacuated: number }> {
    throw strataError(
      "ENOTSUP",
      `volume ${volume} is marked draining and its live files are re-placed by the stream; moving what is left (old versions' chunks) runs only in-process, on the local server`,
      { volume },
    );
  }
}

/** The token key ring: STRATA_TOKEN_KEYS (tests), else the SSM parameter the stack names. */
export async function cloudKeys(): Promise<KeySource> {
  const fromEnv = process.env.STRATA_TOKEN_KEYS;
  if (fromEnv) return staticKeyRing(fromEnv, "STRATA_TOKEN_KEYS");
  const name = process.env.STRATA_TOKEN_KEYS_PARAMETER;
  if (!name)
    throw strataError(
      "EUNAVAIL",
      "the token keys are not configured: set STRATA_TOKEN_KEYS_PARAMETER to the SSM parameter that holds them (stacks/api.ts does)",
    );
  const { SSMClient } = await import("@aws-sdk/client-ssm");
  return ssmKeyRing({ client: new SSMClient({}), name });
}

async function buildServices(): Promise<Services> {
  const p = await cloudPlacement();
  const site = process.env.STRATA_SITE;
  const api = openRecordApiVolumes({ records: p.records });
  const orchestrator = new StreamDrivenOrchestrator({
    store: p.store,
    namespace: p.namespace,
    placement: p.placement,
    runWorkflow: (input) => p.runner.run(input),
  });
  return {
    namespace: p.namespace,
    data: p.data,
    store: p.store,
    tokens: await TokenService.open(p.store, await cloudKeys()),
    volumes: await api.volumes(),
    apiVolumes: () => api.volumes(),
    placement: { ...p, orchestrator },
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
