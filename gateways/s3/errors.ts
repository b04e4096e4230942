/**
 * S3 errors: AWS's codes and statuses, rendered as S3's XML error document, and the one mapping
 * from strata's error codes (core/errors.ts) to them.
 */
import { isStrataError, type StrataError } from "../../core/errors.ts";

/** AWS's HTTP status for each error code the gateway answers. */
const STATUS: Record<string, number> = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidObjectState: 403,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  InvalidURI: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NoSuchVersion: 404,
  NotImplemented: 501,
  PreconditionFailed: 412,
  RequestTimeTooSkewed: 403,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  SlowDown: 503,
  XAmzContentSHA256Mismatch: 400,
  ConditionalRequestConflict: 409,
};

/** An S3 error answer: code, message, HTTP status. */
export class S3Error extends Error {
  readonly status: number;
  constructor(
    readonly code: string,
    message: string,
    status?: number,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
    this.status = status ?? STATUS[code] ?? 400;
  }
}

/**
 * strata's error → S3's. `missing` says what an ENOENT means here (NoSuchKey for an object,
 * NoSuchBucket for a PFS, NoSuchVersion for an as-of read).
 */
export function toS3Error(err: unknown, missing = "NoSuchKey"): S3Error {
  if (err instanceof S3Error) return err;
  if (!isStrataError(err))
    return new S3Error("InternalError", "We encountered an internal error. Please try again.");
  const e = err as StrataError;
  switch (e.code) {
    case "ENOENT":
      return new S3Error(
        missing,
        missing === "NoSuchBucket"
          ? "The specified bucket does not exist"
          : missing === "NoSuchVersion"
            ? "The specified version does not exist."
            : "The specified key does not exist.",
      );
    case "EACCES":
      // 401 from the deployment (details.auth = "token"): the credentials stopped working.
      if ((e.details as Record<string, unknown> | undefined)?.auth === "token")
        return new S3Error(
          "InvalidAccessKeyId",
          `The AWS Access Key Id you provided is not valid: ${e.message}`,
        );
      return new S3Error("AccessDenied", "Access Denied");
    case "EXDEV":
    case "EROFS":
      return new S3Error("AccessDenied", "Access Denied");
    case "EEXIST":
    case "ECONFLICT":
      return new S3Error(
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
      );
    case "ENAMETOOLONG":
      return new S3Error("KeyTooLongError", "Your key is too long");
    case "E2BIG":
      return new S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
    case "ENOTDIR":
    case "EISDIR":
    case "ELOOP":
      // A key that names through a file, or a directory as an object: no such key in S3's terms.
      return new S3Error(missing, "The specified key does not exist.");
    case "ENOTEMPTY":
      return new S3Error("BucketNotEmpty", "The bucket you tried to delete is not empty");
    case "EINVAL":
      return new S3Error("InvalidArgument", e.message);
    case "ENOTSUP":
      return new S3Error("NotImplemented", e.message);
    case "ETHROTTLED":
      return new S3Error("SlowDown", "Please reduce your request rate.");
    case "ETIMEDOUT":
    case "EUNAVAIL":
      return new S3Error("ServiceUnavailable", "Please reduce your request rate.");
    case "EPRUNED":
      return new S3Error("NoSuchVersion", "The specified version does not exist (pruned by retention).");
    default:
      return new S3Error("InternalError", e.message);
  }
}
