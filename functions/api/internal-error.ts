/**
 * What a client sees of an unexpected (non-StrataError) exception: a generic message and a request
 * id, never the exception's own text (it may name stores, ARNs, paths on the server). The details
 * go to the server log (stderr; CloudWatch on Lambda) under the same id, so an operator can find
 * them from what the client reports.
 */
import { randomBytes } from "node:crypto";
import { StrataError } from "../../core/errors.ts";

/** Response header that carries the request id of an internal error. */
export const REQUEST_ID_HEADER = "x-strata-request-id";

/** Log `err` with a new request id and return the error the client gets (EIO, generic). */
export function internalError(err: unknown, where = "api"): StrataError {
  const requestId = randomBytes(8).toString("hex");
  console.error(`strata ${where}: unexpected error (request ${requestId})`, err);
  return new StrataError(
    "EIO",
    `internal error (request ${requestId}); the details are in the server's log under this id`,
    { details: { requestId } },
  );
}
