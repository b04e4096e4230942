/**
 * The S3-compatible gateway (docs/s3-gateway.md): an HTTP server that speaks S3's REST API and
 * serves every request as a strata client carrying the requester's own token
 * (credentials.ts), so what an access key can reach is exactly what its token can.
 *
 * One request: route (path-style `/bucket/key`, or virtual-hosted `bucket.<domain>`) → SigV4
 * (header or presigned query; sigv4.ts) → the principal (token.s3Credentials, cached 1 s) → the
 * body pipeline (aws-chunked decoding, chunk signatures, payload hash, Content-MD5,
 * x-amz-checksum-*; body.ts) → the operation → S3 XML or bytes. Errors are S3 XML documents
 * (errors.ts); a refused request changes nothing.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mapLimit } from "../../core/concurrency.ts";
import { isStrataError, type Strata, type StrataStats } from "../../sdk/index.ts";
import { type BodyFacts, checkedBody } from "./body.ts";
import type { CredentialSource, S3Principal } from "./credentials.ts";
import { S3Error, toS3Error } from "./errors.ts";
import { walk } from "./list.ts";
import { Uploads } from "./multipart.ts";
import {
  encodeMeta,
  etagMatches,
  etagOf,
  freshMeta,
  isoTime,
  keyToPath,
  META_XATTR,
  metaFromRequest,
  type ObjectMeta,
  parseMeta,
} from "./objects.ts";
import { parseQuery, parseSignature, type RequestParts, verifySignature } from "./sigv4.ts";
import { errorDocument, parseXml, type XmlNode, xmlDocument } from "./xml.ts";

export interface S3GatewayOptions {
  credentials: CredentialSource;
  /** The region clients sign for and GetBucketLocation answers (default us-east-1). */
  region?: string;
  /** Virtual-hosted-style base domain: `bucket.<domain>` names a bucket (path style always works). */
  domain?: string;
  /** Where multipart parts wait (default: a new directory under the OS temp dir, removed at close). */
  tmpDir?: string;
  clock?: () => number;
}

export interface S3Gateway {
  readonly server: http.Server;
  /** `http://host:port` */
  readonly endpoint: string;
  readonly region: string;
  close(): Promise<void>;
}

type Headers = Record<string, string | string[] | undefined>;

interface Ctx {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  parts: RequestParts;
  query: Map<string, string>;
  bucket?: string;
  key?: string;
  principal: S3Principal;
  signing?: { key: Uint8Array; signed: NonNullable<ReturnType<typeof parseSignature>> };
  payloadHash: string;
  client(bucket?: string): Promise<Strata>;
}

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
const httpDate = (ms: number) => new Date(ms).toUTCString();
const LIST_CONCURRENCY = 16;

function send(
  ctx: Ctx,
  status: number,
  body?: string | Uint8Array,
  headers: Record<string, string> = {},
): void {
  const res = ctx.res;
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (body === undefined) {
    if (!res.hasHeader("content-length")) res.setHeader("content-length", "0");
    res.end();
    return;
  }
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  if (!res.hasHeader("content-type")) res.setHeader("content-type", "application/xml");
  res.setHeader("content-length", String(bytes.length));
  res.end(ctx.req.method === "HEAD" ? undefined : bytes);
}

const sendXml = (ctx: Ctx, root: string, body: XmlNode, status = 200) =>
  send(ctx, status, xmlDocument(root, body));

/** Read a small request body (XML documents) through the checks. */
async function smallBody(ctx: Ctx): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const piece of checkedBody(ctx.req, bodyOptions(ctx), {})) {
    size += piece.length;
    if (size > 2 * 1024 * 1024) throw new S3Error("MalformedXML", "The XML document is too large.");
    chunks.push(piece);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function bodyOptions(ctx: Ctx) {
  return { headers: ctx.req.headers as Headers, payloadHash: ctx.payloadHash, signing: ctx.signing };
}

/** Drain what is left of a request body (after an early answer) so the connection can be reused. */
function drain(req: http.IncomingMessage): void {
  req.resume();
}

// ---- objects: reading ----------------------------------------------------------------------

interface Found {
  st: StrataStats;
  meta?: ObjectMeta;
  path: string;
  versionId: string;
}

async function readMeta(
  client: Strata | ReturnType<Strata["asOf"]>,
  path: string,
): Promise<ObjectMeta | undefined> {
  try {
    return parseMeta(await client.getxattr(path, META_XATTR));
  } catch (err) {
    if (isStrataError(err, "ENOENT") || isStrataError(err, "ENODATA" as never)) return undefined;
    throw err;
  }
}

/** The object a GET/HEAD names (a version with versionId), or NoSuchKey / NoSuchVersion. */
async function findObject(ctx: Ctx): Promise<Found> {
  const path = keyToPath(ctx.key!);
  const live = await ctx.client();
  const versionId = ctx.query.get("versionId");
  const reader =
    versionId !== undefined && versionId !== "null" ? live.asOf(checkVersionId(versionId)) : live;
  const missing = versionId !== undefined && versionId !== "null" ? "NoSuchVersion" : "NoSuchKey";
  let st: StrataStats;
  try {
    st = await reader.stat(path);
  } catch (err) {
    throw toS3Error(err, missing);
  }
  if (st.type === "dir" ? !ctx.key!.endsWith("/") : ctx.key!.endsWith("/") || st.type !== "file")
    throw new S3Error(
      missing,
      missing === "NoSuchKey" ? "The specified key does not exist." : "The specified version does not exist.",
    );
  const meta = freshMeta(await readMeta(reader, path).catch(() => undefined), st);
  return { st, meta, path, versionId: st.tid };
}

function checkVersionId(id: string): string {
  if (!/^[0-9a-f]{16}$/.test(id)) throw new S3Error("InvalidArgument", "Invalid version id specified");
  return id;
}

/** If-Match / If-Unmodified-Since (412) and If-None-Match / If-Modified-Since (304 for reads). */
function checkConditions(headers: Headers, etag: string, mtimeMs: number, read: boolean): number | undefined {
  const ifMatch = one(headers["if-match"]);
  const ifNoneMatch = one(headers["if-none-match"]);
  const ifUnmodified = one(headers["if-unmodified-since"]);
  const ifModified = one(headers["if-modified-since"]);
  const seconds = Math.floor(mtimeMs / 1000) * 1000;
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, etag)) return 412;
  } else if (ifUnmodified !== undefined) {
    const t = Date.parse(ifUnmodified);
    if (!Number.isNaN(t) && seconds > t) return 412;
  }
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, etag)) return read ? 304 : 412;
  } else if (ifModified !== undefined && read) {
    const t = Date.parse(ifModified);
    if (!Number.isNaN(t) && seconds <= t) return 304;
  }
  return undefined;
}

function objectHeaders(found: Found, etag: string): Record<string, string> {
  const { st, meta } = found;
  const headers: Record<string, string> = {
    etag,
    "last-modified": httpDate(st.mtimeMs),
    "accept-ranges": "bytes",
    "x-amz-version-id": found.versionId,
    "content-type": "binary/octet-stream",
  };
  for (const [k, v] of Object.entries(meta?.headers ?? {})) headers[k] = v;
  for (const [k, v] of Object.entries(meta?.meta ?? {})) headers[`x-amz-meta-${k}`] = v;
  if (meta?.parts && meta.parts.length > 0) headers["x-amz-mp-parts-count"] = String(meta.parts.length);
  return headers;
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` → inclusive [start, end], or undefined (whole), or InvalidRange. */
function parseRange(header: string | undefined, size: number): [number, number] | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined; // S3 ignores a malformed Range
  if (m[1] === "") {
    const n = Number(m[2]);
    if (n === 0 || size === 0)
      throw new S3Error("InvalidRange", "The requested range is not satisfiable", 416, {
        ActualObjectSize: String(size),
      });
    return [Math.max(0, size - n), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start)
    throw new S3Error("InvalidRange", "The requested range is not satisfiable", 416, {
      ActualObjectSize: String(size),
    });
  return [start, end];
}

async function getObject(ctx: Ctx, head: boolean): Promise<void> {
  const found = await findObject(ctx);
  const etag = etagOf(found.st, found.meta);
  const conditional = checkConditions(ctx.req.headers as Headers, etag, found.st.mtimeMs, true);
  if (conditional === 412)
    throw new S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold");
  const headers = objectHeaders(found, etag);
  if (conditional === 304) {
    delete headers["content-type"];
    return send(ctx, 304, undefined, headers);
  }
  // response-* overrides (signed requests only: every request here is signed).
  for (const name of [
    "content-type",
    "content-language",
    "expires",
    "cache-control",
    "content-disposition",
    "content-encoding",
  ])
    if (ctx.query.has(`response-${name}`)) headers[name] = ctx.query.get(`response-${name}`)!;
  const size = found.st.type === "dir" ? 0 : found.st.size;
  let range: [number, number] | undefined;
  const partNumber = ctx.query.get("partNumber");
  if (partNumber !== undefined) {
    const n = Number(partNumber);
    const parts = found.meta?.parts ?? [size];
    if (!Number.isInteger(n) || n < 1 || n > parts.length)
      throw new S3Error("InvalidPart", "The requested partnumber is not satisfiable");
    const start = parts.slice(0, n - 1).reduce((a, b) => a + b, 0);
    range = [start, start + parts[n - 1]! - 1];
    headers["x-amz-mp-parts-count"] = String(parts.length);
    if (parts[n - 1] === 0) range = undefined;
  } else range = parseRange(one(ctx.req.headers.range), size);
  // A stored checksum describes the whole object: answered only with the whole object.
  if (
    !range &&
    partNumber === undefined &&
    one(ctx.req.headers["x-amz-checksum-mode"])?.toUpperCase() === "ENABLED" &&
    found.meta?.checksum &&
    !found.meta.parts
  )
    headers[`x-amz-checksum-${found.meta.checksum.algorithm}`] = found.meta.checksum.value;
  const status = range ? 206 : 200;
  const length = range ? range[1] - range[0] + 1 : size;
  if (range) headers["content-range"] = `bytes ${range[0]}-${range[1]}/${size}`;
  headers["content-length"] = String(length);
  const res = ctx.res;
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (head || length === 0 || found.st.type === "dir") {
    res.end();
    return;
  }
  const live = await ctx.client();
  const versionId = ctx.query.get("versionId");
  const reader = versionId !== undefined && versionId !== "null" ? live.asOf(versionId) : live;
  const stream = reader.createReadStream(found.path, range ? { start: range[0], end: range[1] } : {});
  await new Promise<void>((resolve) => {
    stream.on("error", () => {
      // Headers are out: the only honest signal left is a cut connection.
      res.destroy();
      resolve();
    });
    res.on("close", () => {
      stream.destroy();
      resolve();
    });
    stream.pipe(res);
  });
}

// ---- objects: writing ----------------------------------------------------------------------

/** mkdir -p of a key's parent directory (nothing for a top-level key). */
async function ensureParent(client: Strata, path: string): Promise<void> {
  const parent = path.slice(0, path.lastIndexOf("/"));
  if (parent === "") return;
  try {
    await client.mkdir(parent, { recursive: true });
  } catch (err) {
    if (isStrataError(err, "ENOTDIR") || isStrataError(err, "EEXIST"))
      throw new S3Error(
        "InvalidRequest",
        "A parent of this key is an object: in strata a key's parents are directories (docs/s3-gateway.md).",
        409,
      );
    throw err;
  }
}

function checkDigestHeader(headers: Headers): void {
  const md5 = one(headers["content-md5"]);
  if (md5 !== undefined && Buffer.from(md5, "base64").length !== 16)
    throw new S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.");
}

/** Write a whole object from a checked body; its metadata right after. Returns the ETag and version. */
async function writeObject(
  ctx: Ctx,
  path: string,
  body: AsyncIterable<Uint8Array>,
  meta: Pick<ObjectMeta, "headers" | "meta" | "parts">,
  options: { exclusive: boolean; facts: Partial<BodyFacts>; etag?: string },
): Promise<{ etag: string; versionId?: string }> {
  const client = await ctx.client();
  await ensureParent(client, path);
  try {
    await client.writeFile(path, body, options.exclusive ? { flag: "wx" } : {});
  } catch (err) {
    if (err instanceof S3Error) throw err;
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof S3Error) throw cause;
    if (isStrataError(err, "EISDIR"))
      throw new S3Error("InvalidRequest", "This key is a directory (it has keys below it).", 409);
    throw toS3Error(err);
  }
  const facts = options.facts;
  const st = await client.stat(path);
  const etag = options.etag ?? facts.md5Hex!;
  const record: ObjectMeta = {
    etag,
    size: st.size,
    mtimeMs: st.mtimeMs,
    ...meta,
    ...(facts.checksum ? { checksum: facts.checksum } : {}),
  };
  await client.setxattr(path, META_XATTR, encodeMeta(record));
  return { etag: `"${etag}"` };
}

async function putObject(ctx: Ctx): Promise<void> {
  const key = ctx.key!;
  const path = keyToPath(key);
  const headers = ctx.req.headers as Headers;
  checkDigestHeader(headers);
  if (headers["x-amz-copy-source"] !== undefined) return copyObject(ctx, path);
  const client = await ctx.client();
  const meta = metaFromRequest(headers);
  if (key.endsWith("/")) {
    // A directory marker: the directory itself, marked as put by a client.
    const facts: Partial<BodyFacts> = {};
    for await (const piece of checkedBody(ctx.req, bodyOptions(ctx), facts))
      if (piece.length > 0)
        throw new S3Error(
          "InvalidRequest",
          "A key ending in / is a directory marker: its body must be empty.",
        );
    await client.mkdir(path, { recursive: true }).catch((err) => {
      throw toS3Error(err);
    });
    await client.setxattr(path, META_XATTR, encodeMeta({ marker: true, ...meta }));
    return send(ctx, 200, undefined, { etag: `"${facts.md5Hex}"` });
  }
  const ifNoneMatch = one(headers["if-none-match"]);
  const ifMatch = one(headers["if-match"]);
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== "*")
    throw new S3Error("NotImplemented", "If-None-Match on PUT takes only *", 501);
  if (ifMatch !== undefined) {
    // Checked before the write (not atomic with it: docs/s3-gateway.md "Not supported").
    let current: Found;
    try {
      current = await findObject(ctx);
    } catch (err) {
      if (err instanceof S3Error && err.code === "NoSuchKey")
        throw new S3Error("NoSuchKey", "The specified key does not exist.");
      throw err;
    }
    if (!etagMatches(ifMatch, etagOf(current.st, current.meta)))
      throw new S3Error(
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
      );
  }
  const facts: Partial<BodyFacts> = {};
  const body = checkedBody(ctx.req, bodyOptions(ctx), facts);
  const made = await writeObject(ctx, path, body, meta, { exclusive: ifNoneMatch !== undefined, facts });
  const out: Record<string, string> = { etag: made.etag };
  if (facts.checksum) out[`x-amz-checksum-${facts.checksum.algorithm}`] = facts.checksum.value;
  send(ctx, 200, undefined, out);
}

/** `x-amz-copy-source: /bucket/key[?versionId=…]` → bucket, key, version. */
function copySource(ctx: Ctx): { bucket: string; key: string; versionId?: string } {
  let text = one(ctx.req.headers["x-amz-copy-source"]) ?? "";
  let versionId: string | undefined;
  const q = text.indexOf("?");
  if (q >= 0) {
    const params = new Map(parseQuery(text.slice(q + 1)));
    versionId = params.get("versionId");
    text = text.slice(0, q);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(text).replace(/^\//, "");
  } catch {
    throw new S3Error(
      "InvalidArgument",
      "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
    );
  }
  const slash = decoded.indexOf("/");
  if (slash <= 0 || slash === decoded.length - 1)
    throw new S3Error(
      "InvalidArgument",
      "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
    );
  const header = one(ctx.req.headers["x-amz-copy-source-version-id"]);
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1), versionId: versionId ?? header };
}

/** The source object of a copy, read through the requester's own client (confined like any read). */
async function openSource(ctx: Ctx) {
  const src = copySource(ctx);
  const path = keyToPath(src.key);
  const live = await ctx.client(src.bucket);
  const reader = src.versionId && src.versionId !== "null" ? live.asOf(checkVersionId(src.versionId)) : live;
  const missing = src.versionId ? "NoSuchVersion" : "NoSuchKey";
  let st: StrataStats;
  try {
    st = await reader.stat(path);
  } catch (err) {
    throw toS3Error(err, missing);
  }
  if (st.type !== "file") throw new S3Error(missing, "The specified key does not exist.");
  const meta = freshMeta(await readMeta(reader, path).catch(() => undefined), st);
  const etag = etagOf(st, meta);
  const h = ctx.req.headers as Headers;
  const cond = checkConditions(
    {
      "if-match": h["x-amz-copy-source-if-match"],
      "if-none-match": h["x-amz-copy-source-if-none-match"],
      "if-unmodified-since": h["x-amz-copy-source-if-unmodified-since"],
      "if-modified-since": h["x-amz-copy-source-if-modified-since"],
    },
    etag,
    st.mtimeMs,
    false,
  );
  if (
    cond !== undefined ||
    (h["x-amz-copy-source-if-modified-since"] &&
      checkConditions(
        { "if-modified-since": h["x-amz-copy-source-if-modified-since"] },
        etag,
        st.mtimeMs,
        true,
      ))
  )
    throw new S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold");
  return { reader, path, st, meta, etag, src };
}

async function copyObject(ctx: Ctx, path: string): Promise<void> {
  drain(ctx.req);
  const source = await openSource(ctx);
  const directive = (one(ctx.req.headers["x-amz-metadata-directive"]) ?? "COPY").toUpperCase();
  if (directive !== "COPY" && directive !== "REPLACE")
    throw new S3Error("InvalidArgument", "Unknown metadata directive.");
  if (
    directive === "COPY" &&
    source.src.bucket === ctx.bucket &&
    keyToPath(source.src.key) === path &&
    !source.src.versionId
  )
    throw new S3Error(
      "InvalidRequest",
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  const meta =
    directive === "COPY"
      ? {
          headers: source.meta?.headers ?? {},
          meta: source.meta?.meta ?? {},
          ...(source.meta?.parts ? { parts: source.meta.parts } : {}),
        }
      : metaFromRequest(ctx.req.headers as Headers);
  const made =
    source.src.bucket === ctx.bucket
      ? await copyByReference(ctx, source, path, meta)
      : await copyThroughGateway(ctx, source, path, meta);
  const st = await (await ctx.client()).stat(path);
  const headers: Record<string, string> = {};
  if (source.src.versionId) headers["x-amz-copy-source-version-id"] = source.src.versionId;
  send(
    ctx,
    200,
    xmlDocument("CopyObjectResult", { LastModified: isoTime(st.mtimeMs), ETag: made.etag }),
    headers,
  );
}

type CopySource = Awaited<ReturnType<typeof openSource>>;

/**
 * Inside one bucket (one PFS): the copy references the source's chunks (client.copyFile, no
 * byte read or written; a versionId copies that version), then gets its object metadata.
 */
async function copyByReference(
  ctx: Ctx,
  source: CopySource,
  path: string,
  meta: Pick<ObjectMeta, "headers" | "meta" | "parts">,
): Promise<{ etag: string }> {
  const client = await ctx.client();
  await ensureParent(client, path);
  try {
    await client.copyFile(
      source.path,
      path,
      source.src.versionId ? { sourceAsOf: source.src.versionId } : {},
    );
  } catch (err) {
    if (isStrataError(err, "EISDIR"))
      throw new S3Error("InvalidRequest", "This key is a directory (it has keys below it).", 409);
    throw toS3Error(err);
  }
  const st = await client.stat(path);
  const etag = source.etag.replace(/"/g, "");
  const checksum = source.meta?.checksum;
  const record: ObjectMeta = {
    etag,
    size: st.size,
    mtimeMs: st.mtimeMs,
    ...meta,
    ...(checksum ? { checksum } : {}),
  };
  await client.setxattr(path, META_XATTR, encodeMeta(record));
  return { etag: `"${etag}"` };
}

/** Across buckets (PFSs): the bytes pass through the gateway once (the data plane stores no chunk twice). */
async function copyThroughGateway(
  ctx: Ctx,
  source: CopySource,
  path: string,
  meta: Pick<ObjectMeta, "headers" | "meta" | "parts">,
): Promise<{ etag: string }> {
  const facts: Partial<BodyFacts> = {};
  const body = checkedBody(
    source.reader.createReadStream(source.path),
    { headers: {}, payloadHash: "UNSIGNED-PAYLOAD" },
    facts,
  );
  return await writeObject(ctx, path, body, meta, {
    exclusive: false,
    facts,
    etag: source.etag.replace(/"/g, ""),
  });
}

/** Remove empty directories above `path` that no client PUT as a marker, up to the bucket root or the token's scope. */
async function pruneParents(client: Strata, path: string, scope: string): Promise<void> {
  let dir = path.slice(0, path.lastIndexOf("/"));
  while (dir !== "" && dir !== scope && !(scope !== "/" && !dir.startsWith(`${scope}/`))) {
    if (parseMeta(await client.getxattr(dir, META_XATTR).catch(() => undefined))?.marker) return;
    try {
      await client.rmdir(dir);
    } catch {
      return; // not empty (or not ours to remove): stop
    }
    dir = dir.slice(0, dir.lastIndexOf("/"));
  }
}

/** Delete one key: a file is unlinked, a marker loses its mark (and its directory when empty). Missing = done. */
async function deleteKey(ctx: Ctx, key: string): Promise<void> {
  const path = keyToPath(key);
  const client = await ctx.client();
  try {
    const st = await client.lstat(path);
    if (key.endsWith("/")) {
      if (st.type !== "dir") return;
      await client.removexattr(path, META_XATTR).catch(() => {});
      await client.rmdir(path).catch(() => {});
    } else {
      if (st.type === "dir") return;
      await client.unlink(path);
    }
  } catch (err) {
    if (isStrataError(err, "ENOENT") || isStrataError(err, "ENOTDIR")) return;
    throw toS3Error(err);
  }
  await pruneParents(client, path, ctx.principal.prefix);
}

async function deleteObject(ctx: Ctx): Promise<void> {
  drain(ctx.req);
  if (ctx.query.has("versionId") && ctx.query.get("versionId") !== "null")
    throw new S3Error(
      "NotImplemented",
      "Deleting one version of history is not supported: retention decides what history survives (docs/s3-gateway.md).",
      501,
    );
  await deleteKey(ctx, ctx.key!);
  send(ctx, 204);
}

async function deleteObjects(ctx: Ctx): Promise<void> {
  const doc = parseXml(await smallBody(ctx), "Delete");
  const objects = (doc.Object ?? []) as Array<{ Key?: unknown; VersionId?: unknown }>;
  if (!Array.isArray(objects) || objects.length === 0 || objects.length > 1000)
    throw new S3Error(
      "MalformedXML",
      "The XML you provided was not well-formed or did not validate against our published schema.",
    );
  const quiet = String(doc.Quiet ?? "false").toLowerCase() === "true";
  const deleted: XmlNode[] = [];
  const errors: XmlNode[] = [];
  for (const o of objects) {
    const key = typeof o.Key === "string" ? o.Key : "";
    try {
      if (o.VersionId !== undefined && o.VersionId !== "null")
        throw new S3Error("NotImplemented", "Deleting one version of history is not supported.", 501);
      await deleteKey(ctx, key);
      if (!quiet) deleted.push({ Key: key });
    } catch (err) {
      const e = toS3Error(err);
      errors.push({ Key: key, Code: e.code, Message: e.message });
    }
  }
  sendXml(ctx, "DeleteResult", { Deleted: deleted, Error: errors });
}

// ---- tagging ----------------------------------------------------------------------------------

async function getTagging(ctx: Ctx): Promise<void> {
  const found = await findObject(ctx);
  const live = await ctx.client();
  const versionId = ctx.query.get("versionId");
  const reader = versionId !== undefined && versionId !== "null" ? live.asOf(versionId) : live;
  const tags = await reader.tags.list(found.path).catch((err) => {
    throw toS3Error(err);
  });
  sendXml(ctx, "Tagging", {
    TagSet: { Tag: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
  });
}

async function putTagging(ctx: Ctx): Promise<void> {
  const doc = parseXml(await smallBody(ctx), "Tagging");
  const set = (doc.TagSet ?? {}) as { Tag?: Array<{ Key?: unknown; Value?: unknown }> };
  const wanted = new Map<string, string>();
  for (const t of set.Tag ?? []) {
    if (typeof t.Key !== "string" || t.Key === "")
      throw new S3Error("InvalidTag", "The tag key is empty.", 400);
    const value = typeof t.Value === "string" ? t.Value : "";
    if (wanted.has(t.Key))
      throw new S3Error("InvalidTag", "Cannot provide multiple Tags with the same key", 400);
    wanted.set(t.Key, value);
  }
  if (wanted.size > 10) throw new S3Error("BadRequest", "Object tags cannot be greater than 10", 400);
  if (ctx.query.has("versionId") && ctx.query.get("versionId") !== "null")
    throw new S3Error("NotImplemented", "Tags of a past version cannot change (history is immutable).", 501);
  const found = await findObject(ctx);
  const client = await ctx.client();
  const current = await client.tags.list(found.path);
  // One transaction: the old set is replaced by the new one, or nothing changes.
  const ops = [
    ...Object.keys(current)
      .filter((k) => !wanted.has(k))
      .map((key) => ({ op: "removeTag" as const, path: found.path, key })),
    ...[...wanted].map(([key, value]) => ({ op: "setTag" as const, path: found.path, key, value })),
  ];
  if (ops.length > 0)
    await client.batch(ops).catch((err) => {
      throw toS3Error(err);
    });
  send(ctx, 200);
}

async function deleteTagging(ctx: Ctx): Promise<void> {
  drain(ctx.req);
  const found = await findObject(ctx);
  const client = await ctx.client();
  const current = await client.tags.list(found.path);
  const ops = Object.keys(current).map((key) => ({ op: "removeTag" as const, path: found.path, key }));
  if (ops.length > 0) await client.batch(ops);
  send(ctx, 204);
}

// ---- buckets ------------------------------------------------------------------------------------

function owner(ctx: Ctx): XmlNode {
  return { ID: ctx.principal.accessKeyId, DisplayName: ctx.principal.accessKeyId };
}

async function listBuckets(ctx: Ctx): Promise<void> {
  drain(ctx.req);
  const client = await ctx.client("default");
  let names: Array<{ name: string; created: number }>;
  try {
    const list = await client.admin.listPfs();
    names = list.map((p) => ({ name: p.name, created: Number(BigInt(`0x${p.createdTid}`) >> 16n) }));
  } catch (err) {
    throw toS3Error(err);
  }
  sendXml(ctx, "ListAllMyBucketsResult", {
    Owner: owner(ctx),
    Buckets: { Bucket: names.map((b) => ({ Name: b.name, CreationDate: isoTime(b.created) })) },
  });
}

/** Does the bucket exist for this principal? Reads the token's own scope root. */
async function checkBucket(ctx: Ctx): Promise<void> {
  const p = ctx.principal;
  if (p.pfs !== "*" && p.pfs !== ctx.bucket) throw new S3Error("AccessDenied", "Access Denied");
  const client = await ctx.client();
  try {
    await client.stat(p.prefix);
  } catch (err) {
    if (isStrataError(err, "ENOENT") && p.prefix !== "/") return; // the scope dir is not made yet: the bucket exists
    throw toS3Error(err, "NoSuchBucket");
  }
}

async function createBucket(ctx: Ctx): Promise<void> {
  drain(ctx.req);
  const client = await ctx.client();
  try {
    await client.admin.createPfs(ctx.bucket!);
  } catch (err) {
    if (isStrataError(err, "EEXIST"))
      throw new S3Error(
        "BucketAlreadyOwnedByYou",
        "Your previous request to create the named bucket succeeded and you already own it.",
      );
    throw toS3Error(err);
  }
  send(ctx, 200, undefined, { location: `/${ctx.bucket}` });
}

async function deleteBucket(ctx: Ctx): Promise<void> {
  drain(ctx.req);
  const client = await ctx.client();
  try {
    await client.admin.deletePfs(ctx.bucket!);
  } catch (err) {
    throw toS3Error(err, "NoSuchBucket");
  }
  send(ctx, 204);
}

/** ListObjects (v1 and v2). */
async function listObjects(ctx: Ctx): Promise<void> {
  drain(ctx.req);
  await checkBucket(ctx);
  const q = ctx.query;
  const v2 = q.get("list-type") === "2";
  const prefix = q.get("prefix") ?? "";
  const delimiter = q.get("delimiter") || undefined;
  const encoding = q.get("encoding-type");
  if (encoding !== undefined && encoding !== "url")
    throw new S3Error("InvalidArgument", "Invalid Encoding Method specified in Request");
  const maxKeys = Math.min(1000, Number(q.get("max-keys") ?? 1000));
  if (!Number.isInteger(maxKeys) || maxKeys < 0)
    throw new S3Error("InvalidArgument", "Provided max-keys not an integer or within integer range");
  let after: string | undefined;
  if (v2) {
    const token = q.get("continuation-token");
    if (token !== undefined) {
      after = Buffer.from(token, "base64url").toString("utf8");
      if (after === "") throw new S3Error("InvalidArgument", "The continuation token provided is incorrect");
    } else after = q.get("start-after") || undefined;
  } else after = q.get("marker") || undefined;
  const client = await ctx.client();
  const items: Array<{ name: string; kind: string; path?: string }> = [];
  let truncated = false;
  if (maxKeys > 0)
    for await (const item of walk(client, { prefix, delimiter, after, scope: ctx.principal.prefix })) {
      if (items.length === maxKeys) {
        truncated = true;
        break;
      }
      items.push(item);
    }
  const enc = (s: string) => (encoding === "url" ? encodeURIComponent(s).replace(/%2F/g, "/") : s);
  const objects = await mapLimit(
    items.filter((i) => i.kind !== "prefix"),
    LIST_CONCURRENCY,
    async (i) => {
      try {
        const st = await client.stat(i.path!);
        const meta = freshMeta(await readMeta(client, i.path!).catch(() => undefined), st);
        return {
          Key: enc(i.name),
          LastModified: isoTime(st.mtimeMs),
          ETag: etagOf(st, meta),
          Size: st.type === "dir" ? 0 : st.size,
          StorageClass: "STANDARD",
          ...(v2 && q.get("fetch-owner") !== "true" ? {} : { Owner: owner(ctx) }),
        } as XmlNode;
      } catch {
        return undefined; // removed while listing
      }
    },
  );
  const last = items.at(-1)?.name;
  const body: XmlNode = {
    Name: ctx.bucket,
    Prefix: enc(prefix),
    ...(v2
      ? {
          ...(q.has("start-after") ? { StartAfter: enc(q.get("start-after")!) } : {}),
          ...(q.has("continuation-token") ? { ContinuationToken: q.get("continuation-token") } : {}),
          KeyCount: items.length,
        }
      : { Marker: enc(q.get("marker") ?? "") }),
    MaxKeys: maxKeys,
    ...(delimiter ? { Delimiter: enc(delimiter) } : {}),
    IsTruncated: truncated,
    ...(truncated && last !== undefined
      ? v2
        ? { NextContinuationToken: Buffer.from(last).toString("base64url") }
        : delimiter
          ? { NextMarker: enc(last) }
          : {}
      : {}),
    ...(encoding ? { EncodingType: encoding } : {}),
    Contents: objects.filter((o): o is XmlNode => o !== undefined),
    CommonPrefixes: items.filter((i) => i.kind === "prefix").map((i) => ({ Prefix: enc(i.name) })),
  };
  sendXml(ctx, "ListBucketResult", body);
}

/** Versions of one object from its history, newest first: one per content change. */
async function objectVersions(
  client: Strata,
  path: string,
): Promise<Array<{ versionId: string; st: StrataStats | undefined; time: number; deleted: boolean }>> {
  const history = await client.history(path, { limit: 1000 });
  // Oldest first: a content change opens a version; metadata changes after it (the gateway's
  // own user.s3 xattr, tags) belong to it, so its id is the TID of its last change.
  const out: Array<{ versionId: string; st: StrataStats | undefined; time: number; deleted: boolean }> = [];
  for (const v of [...history].reverse()) {
    const content = v.change !== "xattr" && v.change !== "tag" && v.change !== "setattr";
    if (content || out.length === 0)
      out.push({ versionId: v.tid, st: undefined, time: v.time.getTime(), deleted: v.stat === undefined });
    else out[out.length - 1]!.versionId = v.tid;
  }
  return out.reverse();
}

async function listObjectVersions(ctx: Ctx): Promise<void> {
  drain(ctx.req);
  await checkBucket(ctx);
  const q = ctx.query;
  const prefix = q.get("prefix") ?? "";
  const delimiter = q.get("delimiter") || undefined;
  const maxKeys = Math.min(1000, Number(q.get("max-keys") ?? 1000));
  const keyMarker = q.get("key-marker") || undefined;
  const client = await ctx.client();
  const entries: XmlNode[] = [];
  const markers: XmlNode[] = [];
  const prefixes: XmlNode[] = [];
  let truncated = false;
  let lastKey: string | undefined;
  let count = 0;
  for await (const item of walk(client, {
    prefix,
    delimiter,
    after: keyMarker,
    scope: ctx.principal.prefix,
  })) {
    if (count >= maxKeys) {
      truncated = true;
      break;
    }
    lastKey = item.name;
    if (item.kind === "prefix") {
      prefixes.push({ Prefix: item.name });
      count++;
      continue;
    }
    const versions = await objectVersions(client, item.path!).catch(() => []);
    let latest = true;
    for (const v of versions) {
      if (v.deleted) {
        markers.push({
          Key: item.name,
          VersionId: v.versionId,
          IsLatest: latest,
          LastModified: isoTime(v.time),
          Owner: owner(ctx),
        });
      } else {
        const view = client.asOf(v.versionId);
        const st = await view.stat(item.path!).catch(() => undefined);
        if (!st) continue;
        const meta = freshMeta(await readMeta(view, item.path!).catch(() => undefined), st);
        entries.push({
          Key: item.name,
          VersionId: v.versionId,
          IsLatest: latest,
          LastModified: isoTime(st.mtimeMs),
          ETag: etagOf(st, meta),
          Size: st.type === "dir" ? 0 : st.size,
          StorageClass: "STANDARD",
          Owner: owner(ctx),
        });
      }
      latest = false;
      count++;
    }
  }
  sendXml(ctx, "ListVersionsResult", {
    Name: ctx.bucket,
    Prefix: prefix,
    KeyMarker: keyMarker ?? "",
    VersionIdMarker: q.get("version-id-marker") ?? "",
    ...(truncated && lastKey ? { NextKeyMarker: lastKey } : {}),
    MaxKeys: maxKeys,
    ...(delimiter ? { Delimiter: delimiter } : {}),
    IsTruncated: truncated,
    Version: entries,
    DeleteMarker: markers,
    CommonPrefixes: prefixes,
  });
}

// ---- multipart ----------------------------------------------------------------------------------

async function createMultipart(ctx: Ctx, uploads: Uploads): Promise<void> {
  drain(ctx.req);
  const path = keyToPath(ctx.key!);
  // Refuse early what the requester may not write: its parent must be creatable by its token.
  const client = await ctx.client();
  await ensureParent(client, path).catch((err) => {
    throw toS3Error(err);
  });
  const upload = await uploads.create(
    ctx.bucket!,
    ctx.key!,
    ctx.principal.accessKeyId,
    metaFromRequest(ctx.req.headers as Headers),
  );
  sendXml(ctx, "InitiateMultipartUploadResult", { Bucket: ctx.bucket, Key: ctx.key, UploadId: upload.id });
}

async function uploadPart(ctx: Ctx, uploads: Uploads): Promise<void> {
  const upload = uploads.get(ctx.query.get("uploadId")!, ctx.bucket!, ctx.key!, ctx.principal.accessKeyId);
  const n = Number(ctx.query.get("partNumber"));
  const headers = ctx.req.headers as Headers;
  checkDigestHeader(headers);
  if (headers["x-amz-copy-source"] !== undefined) {
    drain(ctx.req);
    const source = await openSource(ctx);
    const range = one(headers["x-amz-copy-source-range"]);
    let opts = {};
    if (range !== undefined) {
      const m = /^bytes=(\d+)-(\d+)$/.exec(range);
      if (!m || Number(m[2]) < Number(m[1]) || Number(m[2]) >= source.st.size)
        throw new S3Error("InvalidRange", "The requested range is not satisfiable", 416);
      opts = { start: Number(m[1]), end: Number(m[2]) };
    }
    const part = await uploads.putPart(upload, n, source.reader.createReadStream(source.path, opts));
    return sendXml(ctx, "CopyPartResult", {
      LastModified: isoTime(part.lastModified),
      ETag: `"${part.etag}"`,
    });
  }
  const facts: Partial<BodyFacts> = {};
  const part = await uploads.putPart(upload, n, checkedBody(ctx.req, bodyOptions(ctx), facts));
  const out: Record<string, string> = { etag: `"${part.etag}"` };
  if (facts.checksum) out[`x-amz-checksum-${facts.checksum.algorithm}`] = facts.checksum.value;
  send(ctx, 200, undefined, out);
}

async function completeMultipart(ctx: Ctx, uploads: Uploads): Promise<void> {
  const upload = uploads.get(ctx.query.get("uploadId")!, ctx.bucket!, ctx.key!, ctx.principal.accessKeyId);
  const doc = parseXml(await smallBody(ctx), "CompleteMultipartUpload");
  const list = (doc.Part ?? []) as Array<{ PartNumber?: unknown; ETag?: unknown }>;
  const wanted = list.map((p) => ({ number: Number(p.PartNumber), etag: String(p.ETag ?? "") }));
  if (wanted.some((w) => !Number.isInteger(w.number)))
    throw new S3Error(
      "MalformedXML",
      "The XML you provided was not well-formed or did not validate against our published schema.",
    );
  const plan = uploads.plan(upload, wanted);
  const path = keyToPath(ctx.key!);
  const facts: Partial<BodyFacts> = {};
  const body = checkedBody(
    uploads.bytes(plan.parts),
    { headers: {}, payloadHash: "UNSIGNED-PAYLOAD" },
    facts,
  );
  const made = await writeObject(
    ctx,
    path,
    body,
    { ...upload.meta, parts: plan.parts.map((p) => p.size) },
    {
      exclusive: false,
      facts,
      etag: plan.etag,
    },
  );
  await uploads.remove(upload);
  sendXml(ctx, "CompleteMultipartUploadResult", {
    Location: `/${ctx.bucket}/${ctx.key}`,
    Bucket: ctx.bucket,
    Key: ctx.key,
    ETag: made.etag,
  });
}

async function abortMultipart(ctx: Ctx, uploads: Uploads): Promise<void> {
  drain(ctx.req);
  const upload = uploads.get(ctx.query.get("uploadId")!, ctx.bucket!, ctx.key!, ctx.principal.accessKeyId);
  await uploads.remove(upload);
  send(ctx, 204);
}

async function listParts(ctx: Ctx, uploads: Uploads): Promise<void> {
  drain(ctx.req);
  const upload = uploads.get(ctx.query.get("uploadId")!, ctx.bucket!, ctx.key!, ctx.principal.accessKeyId);
  const marker = Number(ctx.query.get("part-number-marker") ?? 0);
  const max = Math.min(1000, Number(ctx.query.get("max-parts") ?? 1000));
  const all = [...upload.parts.values()].sort((a, b) => a.number - b.number).filter((p) => p.number > marker);
  const page = all.slice(0, max);
  const truncated = all.length > page.length;
  sendXml(ctx, "ListPartsResult", {
    Bucket: ctx.bucket,
    Key: ctx.key,
    UploadId: upload.id,
    PartNumberMarker: marker,
    ...(truncated ? { NextPartNumberMarker: page.at(-1)!.number } : {}),
    MaxParts: max,
    IsTruncated: truncated,
    Part: page.map((p) => ({
      PartNumber: p.number,
      LastModified: isoTime(p.lastModified),
      ETag: `"${p.etag}"`,
      Size: p.size,
    })),
    Initiator: owner(ctx),
    Owner: owner(ctx),
    StorageClass: "STANDARD",
  });
}

async function listUploads(ctx: Ctx, uploads: Uploads): Promise<void> {
  drain(ctx.req);
  await checkBucket(ctx);
  const prefix = ctx.query.get("prefix") ?? "";
  const list = uploads.list(ctx.bucket!, ctx.principal.accessKeyId).filter((u) => u.key.startsWith(prefix));
  sendXml(ctx, "ListMultipartUploadsResult", {
    Bucket: ctx.bucket,
    KeyMarker: "",
    UploadIdMarker: "",
    Prefix: prefix,
    MaxUploads: 1000,
    IsTruncated: false,
    Upload: list.map((u) => ({
      Key: u.key,
      UploadId: u.id,
      Initiator: owner(ctx),
      Owner: owner(ctx),
      StorageClass: "STANDARD",
      Initiated: isoTime(u.initiated),
    })),
  });
}

// ---- routing ------------------------------------------------------------------------------------

const BUCKET = /^[a-z0-9][a-z0-9._-]{0,62}$/i;

async function route(ctx: Ctx, uploads: Uploads, region: string): Promise<void> {
  const { method } = ctx.req;
  const q = ctx.query;
  if (ctx.bucket === undefined) {
    if (method === "GET") return listBuckets(ctx);
    throw new S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.");
  }
  if (ctx.key === undefined) {
    if (method === "GET" && q.has("location")) {
      drain(ctx.req);
      await checkBucket(ctx);
      return send(
        ctx,
        200,
        `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${region === "us-east-1" ? "" : region}</LocationConstraint>`,
      );
    }
    if (method === "GET" && q.has("versioning")) {
      drain(ctx.req);
      await checkBucket(ctx);
      return sendXml(ctx, "VersioningConfiguration", { Status: "Enabled" });
    }
    if (method === "GET" && q.has("versions")) return listObjectVersions(ctx);
    if (method === "GET" && q.has("uploads")) return listUploads(ctx, uploads);
    if (method === "GET") {
      for (const sub of [
        "acl",
        "policy",
        "cors",
        "lifecycle",
        "tagging",
        "website",
        "encryption",
        "replication",
        "logging",
        "notification",
        "object-lock",
        "ownershipControls",
        "publicAccessBlock",
      ])
        if (q.has(sub))
          throw new S3Error(
            "NotImplemented",
            `The bucket subresource ${sub} is not implemented by the strata gateway.`,
            501,
          );
      return listObjects(ctx);
    }
    if (method === "HEAD") {
      drain(ctx.req);
      await checkBucket(ctx);
      return send(ctx, 200, undefined, { "x-amz-bucket-region": region });
    }
    if (method === "PUT" && [...q.keys()].length === 0) return createBucket(ctx);
    if (method === "DELETE" && [...q.keys()].length === 0) return deleteBucket(ctx);
    if (method === "POST" && q.has("delete")) return deleteObjects(ctx);
    throw new S3Error(
      "NotImplemented",
      "A header or query you provided implies functionality that is not implemented.",
      501,
    );
  }
  if (q.has("uploadId")) {
    if (method === "PUT") return uploadPart(ctx, uploads);
    if (method === "POST") return completeMultipart(ctx, uploads);
    if (method === "DELETE") return abortMultipart(ctx, uploads);
    if (method === "GET") return listParts(ctx, uploads);
  }
  if (method === "POST" && q.has("uploads")) return createMultipart(ctx, uploads);
  if (q.has("tagging")) {
    if (method === "GET") return getTagging(ctx);
    if (method === "PUT") return putTagging(ctx);
    if (method === "DELETE") return deleteTagging(ctx);
  }
  for (const sub of ["acl", "retention", "legal-hold", "torrent", "restore", "attributes", "select"])
    if (q.has(sub))
      throw new S3Error(
        "NotImplemented",
        `The object subresource ${sub} is not implemented by the strata gateway.`,
        501,
      );
  if (method === "GET") return getObject(ctx, false);
  if (method === "HEAD") return getObject(ctx, true);
  if (method === "PUT") return putObject(ctx);
  if (method === "DELETE") return deleteObject(ctx);
  throw new S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.");
}

/** Start the gateway on `host:port` (port 0: a free one). */
export async function startS3Gateway(
  options: S3GatewayOptions & { host?: string; port?: number },
): Promise<S3Gateway> {
  const region = options.region ?? "us-east-1";
  const clock = options.clock ?? Date.now;
  const ownTmp = options.tmpDir === undefined;
  const tmp = options.tmpDir ?? (await mkdtemp(join(tmpdir(), "strata-s3-")));
  const uploads = new Uploads(tmp, clock);
  const domain = options.domain?.toLowerCase();

  const server = http.createServer((req, res) => {
    const requestId = randomBytes(8).toString("hex").toUpperCase();
    res.setHeader("x-amz-request-id", requestId);
    res.setHeader("server", "strata-s3");
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? "" : url.slice(q + 1);
    const parts: RequestParts = {
      method: req.method ?? "GET",
      rawPath,
      rawQuery,
      headers: req.headers as Headers,
    };
    const partial: Partial<Ctx> & { req: http.IncomingMessage; res: http.ServerResponse } = {
      req,
      res,
      parts,
    };
    const run = async () => {
      let decodedPath: string;
      try {
        decodedPath = decodeURIComponent(rawPath);
      } catch {
        throw new S3Error("InvalidURI", "Couldn't parse the specified URI.");
      }
      const host = (one(req.headers.host) ?? "").toLowerCase().replace(/:\d+$/, "");
      let bucket: string | undefined;
      let key: string | undefined;
      if (domain && host.endsWith(`.${domain}`)) {
        bucket = host.slice(0, -domain.length - 1);
        key = decodedPath.length > 1 ? decodedPath.slice(1) : undefined;
      } else {
        const rest = decodedPath.replace(/^\//, "");
        const slash = rest.indexOf("/");
        bucket = rest === "" ? undefined : slash < 0 ? rest : rest.slice(0, slash);
        key = slash < 0 || slash === rest.length - 1 ? undefined : rest.slice(slash + 1);
      }
      if (bucket !== undefined && !BUCKET.test(bucket))
        throw new S3Error("InvalidBucketName", "The specified bucket is not valid.");
      partial.bucket = bucket;
      partial.key = key;
      partial.query = new Map(parseQuery(rawQuery));
      const signed = parseSignature(parts);
      if (!signed)
        throw new S3Error(
          "AccessDenied",
          "Anonymous requests are not accepted: sign with a strata token's S3 credentials.",
        );
      const principal = await options.credentials.resolve(signed.accessKeyId);
      const key4 = verifySignature(parts, signed, principal.secretAccessKey, clock());
      const ctx: Ctx = {
        ...(partial as Ctx),
        principal,
        payloadHash: signed.payloadHash,
        signing: { key: key4, signed },
        client: (b?: string) => options.credentials.client(principal, b ?? bucket ?? "default"),
      };
      await route(ctx, uploads, region);
    };
    run().catch((err) => {
      const e = toS3Error(unwrap(err), partial.key ? "NoSuchKey" : "NoSuchBucket");
      if (e.code === "InternalError") console.error("strata s3 gateway:", err);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      drain(req);
      const extra: Record<string, string> = { ...e.extra, RequestId: requestId };
      if (partial.key) extra.Key = partial.key;
      else if (partial.bucket) extra.BucketName = partial.bucket;
      const body = Buffer.from(errorDocument(e.code, e.message, extra));
      res.statusCode = e.status;
      res.setHeader("content-type", "application/xml");
      res.setHeader("content-length", String(body.length));
      // A refused upload: close the connection rather than read a large body we will not use.
      if (req.method === "PUT" || req.method === "POST") res.setHeader("connection", "close");
      res.end(req.method === "HEAD" ? undefined : body);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const endpoint = `http://${address.address.includes(":") ? `[${address.address}]` : address.address}:${address.port}`;
  return {
    server,
    endpoint,
    region,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await uploads.close();
      if (ownTmp) await rm(tmp, { recursive: true, force: true });
    },
  };
}

/** An S3Error thrown inside a body stream reaches us wrapped by the SDK (as `cause`): unwrap it. */
function unwrap(err: unknown): unknown {
  let e = err as { cause?: unknown } | undefined;
  for (let i = 0; i < 5 && e; i++) {
    if (e instanceof S3Error) return e;
    e = e.cause as { cause?: unknown } | undefined;
  }
  return err;
}
