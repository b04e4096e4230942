/**
 * AWS Signature Version 4 as S3 uses it (docs/s3-gateway.md "Auth"): the `Authorization` header,
 * presigned query strings (`X-Amz-Signature`), and the per-chunk and trailer signatures of
 * `aws-chunked` bodies (chunked.ts). Pure: the caller supplies the secret for an access key id.
 *
 * Every refusal is an {@link S3Error} with AWS's code: a request that fails here touches nothing.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { S3Error } from "./errors.ts";

export const ALGORITHM = "AWS4-HMAC-SHA256";
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/** Largest clock difference a signed request may have (AWS: 15 minutes). */
export const MAX_SKEW_MS = 15 * 60_000;
/** Longest presigned URL lifetime (AWS: 7 days). */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

/** What a request's signature covers, parsed from its header or query string. */
export interface SignedRequest {
  accessKeyId: string;
  /** yyyymmdd */
  date: string;
  region: string;
  service: string;
  /** yyyymmddThhmmssZ */
  amzDate: string;
  signedHeaders: string[];
  signature: string;
  /** The payload hash the signature covers (hex, UNSIGNED-PAYLOAD or STREAMING-…). */
  payloadHash: string;
  presigned: boolean;
  /** Presigned URLs: lifetime in seconds. */
  expires?: number;
}

/** The parts of an HTTP request a signature is computed over. */
export interface RequestParts {
  method: string;
  /** The raw path as sent (percent-encoded). */
  rawPath: string;
  /** The raw query pairs, in order, still percent-encoded. */
  rawQuery: string;
  /** Lower-cased header names. */
  headers: Record<string, string | string[] | undefined>;
}

const hmac = (key: Uint8Array | string, data: string) => createHmac("sha256", key).update(data).digest();
export const sha256Hex = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

/** AWS's URI encoding: unreserved characters stay, everything else %XX (upper case); `/` optionally kept. */
export function awsEncode(text: string, keepSlash: boolean): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === "/")) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3Error("InvalidURI", "Couldn't parse the specified URI.");
  }
}

/** Query pairs decoded (a key may repeat). */
export function parseQuery(rawQuery: string): Array<[string, string]> {
  if (rawQuery === "") return [];
  return rawQuery.split("&").map((pair) => {
    const eq = pair.indexOf("=");
    return eq < 0 ? [decode(pair), ""] : [decode(pair.slice(0, eq)), decode(pair.slice(eq + 1))];
  });
}

function header(parts: RequestParts, name: string): string | undefined {
  const v = parts.headers[name];
  return Array.isArray(v) ? v.join(",") : v;
}

const CREDENTIAL = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/;

function credential(text: string): Pick<SignedRequest, "accessKeyId" | "date" | "region" | "service"> {
  const m = CREDENTIAL.exec(text);
  if (!m)
    throw new S3Error(
      "AuthorizationHeaderMalformed",
      "The authorization header is malformed; the Credential is mal-formed.",
    );
  return { accessKeyId: m[1]!, date: m[2]!, region: m[3]!, service: m[4]! };
}

/**
 * The signature a request carries, or undefined for an anonymous request. Header or query, never
 * both; SigV2 and malformed values are refused.
 */
export function parseSignature(parts: RequestParts): SignedRequest | undefined {
  const auth = header(parts, "authorization");
  const query = new Map(parseQuery(parts.rawQuery));
  if (auth !== undefined) {
    if (!auth.startsWith(`${ALGORITHM} `)) {
      if (auth.startsWith("AWS "))
        throw new S3Error("InvalidRequest", "Signature Version 2 is not supported; use Signature Version 4.");
      throw new S3Error("InvalidArgument", "Unsupported Authorization Type", 400);
    }
    const fields = new Map<string, string>();
    for (const part of auth.slice(ALGORITHM.length + 1).split(",")) {
      const eq = part.indexOf("=");
      if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    const cred = fields.get("Credential");
    const signedHeaders = fields.get("SignedHeaders");
    const signature = fields.get("Signature");
    if (!cred || !signedHeaders || !signature)
      throw new S3Error("AuthorizationHeaderMalformed", "The authorization header is malformed.");
    const amzDate = header(parts, "x-amz-date") ?? "";
    const payloadHash = header(parts, "x-amz-content-sha256");
    if (payloadHash === undefined)
      throw new S3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256");
    return {
      ...credential(cred),
      amzDate,
      signedHeaders: signedHeaders.split(";"),
      signature,
      payloadHash,
      presigned: false,
    };
  }
  if (query.has("X-Amz-Signature") || query.has("X-Amz-Algorithm")) {
    if (query.get("X-Amz-Algorithm") !== ALGORITHM)
      throw new S3Error(
        "AuthorizationQueryParametersError",
        "X-Amz-Algorithm only supports AWS4-HMAC-SHA256",
      );
    const cred = query.get("X-Amz-Credential");
    const signedHeaders = query.get("X-Amz-SignedHeaders");
    const signature = query.get("X-Amz-Signature");
    const expires = Number(query.get("X-Amz-Expires"));
    if (!cred || !signedHeaders || !signature || !Number.isInteger(expires))
      throw new S3Error(
        "AuthorizationQueryParametersError",
        "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
      );
    if (expires < 1 || expires > MAX_PRESIGN_SECONDS)
      throw new S3Error(
        "AuthorizationQueryParametersError",
        "X-Amz-Expires must be less than a week (in seconds) that is; 604800 seconds",
      );
    return {
      ...credential(cred),
      amzDate: query.get("X-Amz-Date") ?? "",
      signedHeaders: signedHeaders.split(";"),
      signature,
      payloadHash: query.get("X-Amz-Content-Sha256") ?? "UNSIGNED-PAYLOAD",
      presigned: true,
      expires,
    };
  }
  if (query.has("AWSAccessKeyId"))
    throw new S3Error("InvalidRequest", "Signature Version 2 is not supported; use Signature Version 4.");
  return undefined;
}

/** yyyymmddThhmmssZ → ms, or NaN. */
export function parseAmzDate(text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return Number.NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request");
}

/** The canonical request (AWS's definition), from the request as sent. */
export function canonicalRequest(parts: RequestParts, signed: SignedRequest): string {
  // S3 signs the path as sent (its clients encode it once and sign that; no normalisation).
  const path = parts.rawPath;
  const pairs = parseQuery(parts.rawQuery)
    .filter(([k]) => !(signed.presigned && k === "X-Amz-Signature"))
    .map(([k, v]) => [awsEncode(k, false), awsEncode(v, false)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  const query = pairs.map(([k, v]) => `${k}=${v}`).join("&");
  const headers = signed.signedHeaders
    .map((name) => `${name}:${(header(parts, name) ?? "").trim().replace(/\s+/g, " ")}\n`)
    .join("");
  return [
    parts.method,
    path,
    query,
    headers,
    signed.signedHeaders.join(";"),
    signed.presigned && signed.payloadHash === "UNSIGNED-PAYLOAD" ? "UNSIGNED-PAYLOAD" : signed.payloadHash,
  ].join("\n");
}

export function scopeOf(signed: SignedRequest): string {
  return `${signed.date}/${signed.region}/${signed.service}/aws4_request`;
}

export function stringToSign(signed: SignedRequest, canonical: string): string {
  return [ALGORITHM, signed.amzDate, scopeOf(signed), sha256Hex(canonical)].join("\n");
}

export function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Check a request's signature against `secret` at time `now`: the date, the scope, the expiry of a
 * presigned URL, `host` among the signed headers, then the signature. Returns the signing key
 * (for chunk signatures). SignatureDoesNotMatch / RequestTimeTooSkewed / AccessDenied otherwise.
 */
export function verifySignature(
  parts: RequestParts,
  signed: SignedRequest,
  secret: string,
  now: number,
): Buffer {
  const at = parseAmzDate(signed.amzDate);
  if (Number.isNaN(at))
    throw new S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header");
  if (signed.amzDate.slice(0, 8) !== signed.date)
    throw new S3Error("SignatureDoesNotMatch", "The credential date does not match the request date.");
  if (signed.service !== "s3")
    throw new S3Error(
      "SignatureDoesNotMatch",
      `The credential scope names service ${signed.service}, not s3.`,
    );
  if (signed.presigned) {
    if (now > at + signed.expires! * 1000) throw new S3Error("AccessDenied", "Request has expired");
    if (at > now + MAX_SKEW_MS) throw new S3Error("AccessDenied", "Request is not valid yet");
  } else if (Math.abs(now - at) > MAX_SKEW_MS)
    throw new S3Error(
      "RequestTimeTooSkewed",
      "The difference between the request time and the current time is too large.",
    );
  if (!signed.signedHeaders.includes("host"))
    throw new S3Error("AccessDenied", "The host header must be signed.");
  const key = signingKey(secret, signed.date, signed.region, signed.service);
  const canonical = canonicalRequest(parts, signed);
  const expected = hmac(key, stringToSign(signed, canonical)).toString("hex");
  if (!sameSignature(expected, signed.signature))
    throw new S3Error(
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    );
  return key;
}

/** The signature of one aws-chunked chunk, chained from the previous one. */
export function chunkSignature(
  key: Uint8Array,
  signed: SignedRequest,
  previous: string,
  chunkSha256Hex: string,
): string {
  const text = [
    "AWS4-HMAC-SHA256-PAYLOAD",
    signed.amzDate,
    scopeOf(signed),
    previous,
    EMPTY_SHA256,
    chunkSha256Hex,
  ].join("\n");
  return hmac(key, text).toString("hex");
}

/** The signature of an aws-chunked body's trailer headers. */
export function trailerSignature(
  key: Uint8Array,
  signed: SignedRequest,
  previous: string,
  trailerText: string,
): string {
  const text = [
    "AWS4-HMAC-SHA256-TRAILER",
    signed.amzDate,
    scopeOf(signed),
    previous,
    sha256Hex(trailerText),
  ].join("\n");
  return hmac(key, text).toString("hex");
}

/** Sign a request (tests, the bench): the Authorization header for these parts. */
export function signForTest(
  parts: RequestParts,
  options: { accessKeyId: string; secret: string; amzDate: string; region?: string; payloadHash: string },
): string {
  const signedHeaders = Object.keys(parts.headers)
    .map((h) => h.toLowerCase())
    .filter((h) => h === "host" || h.startsWith("x-amz-") || h === "content-md5" || h === "content-type")
    .sort();
  const signed: SignedRequest = {
    accessKeyId: options.accessKeyId,
    date: options.amzDate.slice(0, 8),
    region: options.region ?? "us-east-1",
    service: "s3",
    amzDate: options.amzDate,
    signedHeaders,
    signature: "",
    payloadHash: options.payloadHash,
    presigned: false,
  };
  const key = signingKey(options.secret, signed.date, signed.region, "s3");
  const signature = hmac(key, stringToSign(signed, canonicalRequest(parts, signed))).toString("hex");
  return `${ALGORITHM} Credential=${options.accessKeyId}/${scopeOf(signed)}, SignedHeaders=${signedHeaders.join(";")}, Signature=${signature}`;
}
