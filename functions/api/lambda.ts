/**
 * The API on AWS Lambda (function URL or API Gateway HTTP API, payload format 2.0): the event
 * becomes an ApiRequest, `handle()` answers, the answer becomes the Lambda result. The services
 * are built once per container by the runtime (runtime/lambda.ts `lambdaServices`, from the
 * environment the stack sets: stacks/api.ts).
 */
import { lambdaServices } from "../../runtime/lambda.ts";
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

let services: Promise<Services> | undefined;

export async function handler(event: HttpEventV2): Promise<HttpResultV2> {
  let response: Awaited<ReturnType<typeof handle>>;
  try {
    services ??= lambdaServices();
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
