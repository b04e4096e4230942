/**
 * A small Google Cloud Storage JSON-API server (node:http, objects held in memory), the GCS
 * stand-in for tests and for `npm start`. It implements exactly what `@google-cloud/storage` 7.x
 * sends for strata's GCS volume, with GCS's own status codes, error bodies and field formats:
 *
 * - buckets: create, get, delete (empty only)
 *   https://cloud.google.com/storage/docs/json_api/v1/buckets
 * - uploads: `uploadType=media`, `multipart` (multipart/related) and `resumable`, the latter both
 *   single-request (`Content-Range: bytes 0-*` + `/*`) and chunked (`bytes a-b/total`, 308 + `Range`)
 *   https://cloud.google.com/storage/docs/performing-resumable-uploads
 * - preconditions on writes, rewrites and deletes: `ifGenerationMatch` (0 = "must not exist"),
 *   `ifGenerationNotMatch`, `ifMetagenerationMatch`; checked atomically when an upload finalizes
 *   https://cloud.google.com/storage/docs/request-preconditions
 * - checksums: `crc32c` and `md5Hash` computed on every object; client-supplied values (resource
 *   fields or `X-Goog-Hash`) are validated, a mismatch is a 400 and nothing is stored
 *   https://cloud.google.com/storage/docs/data-validation
 * - objects: get metadata, media download with `Range` (206 / 416), list with prefix, delimiter,
 *   maxResults (≤ 1,000) and pageToken in UTF-8 byte order, delete, rewrite (server-side copy).
 *
 * - V4 signed URLs (XML API path style, what `file.getSignedUrl({version: "v4"})` produces):
 *   `PUT|GET /{bucket}/{object}?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=…&X-Goog-Date=…
 *   &X-Goog-Expires=…&X-Goog-SignedHeaders=…&X-Goog-Signature=…`. The RSA-SHA256 signature is
 *   VERIFIED against the public key configured for the credential's service account, over the
 *   canonical request of Google's spec (method, path, sorted query without the signature, signed
 *   headers, payload hash), and the URL is refused after X-Goog-Date + X-Goog-Expires.
 *   https://cloud.google.com/storage/docs/authentication/signatures
 *   A PUT may carry `x-goog-hash: crc32c=…` (validated; a mismatch stores nothing).
 * - persistence (option `dir`): buckets and objects are written through to files and loaded at
 *   start, so a restart keeps them (resumable sessions are not kept).
 *
 * Not implemented (real GCS has them; strata does not use them): ACLs/IAM, object versioning
 * (only the live generation is kept), composition, gzip transcoding, customer encryption keys,
 * notifications, the rest of the XML API, authentication of JSON-API requests.
 *
 * The signed `host` header is compared by hostname without the port, as @google-cloud/storage 7
 * signs it (`new URL(apiEndpoint).hostname`); real GCS is always on the default port.
 *
 * Test-only hooks (never in real GCS; only with `testHooks: true`): `POST /_strata/corrupt/b/{bucket}/o/{object}`
 * flips one stored byte without updating the checksums, so tests can prove corruption at rest is
 * detected; `POST /_strata/signers` `{clientEmail, publicKeyPem}` trusts one more signing key.
 */
import { createHash, createVerify, randomUUID } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { crc32c as crc32cOf, crc32cToBase64 } from "../core/crc32c.ts";

interface StoredObject {
  bucket: string;
  name: string;
  generation: number;
  metageneration: number;
  data: Buffer;
  contentType: string;
  metadata: Record<string, string>;
  crc32c: string;
  md5Hash: string;
  created: Date;
  updated: Date;
}

interface Bucket {
  name: string;
  created: Date;
  objects: Map<string, StoredObject>;
}

/** Preconditions as sent in query parameters (strings, as on the wire). */
interface Preconditions {
  ifGenerationMatch?: string;
  ifGenerationNotMatch?: string;
  ifMetagenerationMatch?: string;
  ifMetagenerationNotMatch?: string;
}

interface UploadSession {
  id: string;
  bucket: string;
  name: string;
  resource: Record<string, unknown>;
  contentType: string;
  preconditions: Preconditions;
  chunks: Buffer[];
  received: number;
  createdAt: number;
  /** The object's resource once finalized (answers status queries after completion). */
  finished?: Record<string, unknown>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_LIST = 1000;

export interface GcsServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export interface GcsServerOptions {
  /** 0 = any free port. Always bound to 127.0.0.1. */
  port?: number;
  /** Serve `/_strata/corrupt` and `/_strata/signers` (tests only). */
  testHooks?: boolean;
  /** Keep buckets and objects in this directory (loaded at start); default: memory only. */
  dir?: string;
  /** Public keys (PEM) that signed URLs may be signed with, by service-account email. */
  signers?: Record<string, string>;
}

export async function startGcsServer(options: GcsServerOptions = {}): Promise<GcsServer> {
  const state = new GcsState(options.testHooks ?? false, options.dir);
  for (const [email, pem] of Object.entries(options.signers ?? {})) state.signers.set(email, pem);
  const server = http.createServer((req, res) => {
    handle(state, req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, err);
      else res.destroy();
    });
  });
  // Large single-request uploads can take a while on a loaded machine; never time them out here.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Write-through files of a persistent stand-in: `<dir>/<bucket>/bucket.json` and per object
 * `<dir>/<bucket>/o/<base64url(name)>.json` (fields) + `.bin` (bytes), each replaced atomically
 * (write, then rename). Synchronous on purpose: a commit stays one step, so preconditions stay
 * atomic, and objects are chunk-sized.
 */
class Persistence {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private objectPath(bucket: string, name: string): string {
    return join(this.dir, bucket, "o", Buffer.from(name, "utf8").toString("base64url"));
  }

  private writeAtomic(path: string, data: string | Buffer): void {
    writeFileSync(`${path}.tmp`, data);
    renameSync(`${path}.tmp`, path);
  }

  saveBucket(b: Bucket): void {
    mkdirSync(join(this.dir, b.name, "o"), { recursive: true });
    this.writeAtomic(join(this.dir, b.name, "bucket.json"), JSON.stringify({ created: b.created }));
  }

  removeBucket(name: string): void {
    rmSync(join(this.dir, name), { recursive: true, force: true });
  }

  saveObject(o: StoredObject): void {
    const path = this.objectPath(o.bucket, o.name);
    this.writeAtomic(`${path}.bin`, o.data);
    const { data: _bytes, ...fields } = o;
    this.writeAtomic(`${path}.json`, JSON.stringify(fields));
  }

  removeObject(bucket: string, name: string): void {
    const path = this.objectPath(bucket, name);
    for (const suffix of [".json", ".bin"]) if (existsSync(path + suffix)) unlinkSync(path + suffix);
  }

  load(): Bucket[] {
    const buckets: Bucket[] = [];
    for (const name of readdirSync(this.dir)) {
      const meta = join(this.dir, name, "bucket.json");
      if (!existsSync(meta)) continue;
      const bucket: Bucket = {
        name,
        created: new Date((JSON.parse(readFileSync(meta, "utf8")) as { created: string }).created),
        objects: new Map(),
      };
      const objects = join(this.dir, name, "o");
      for (const file of existsSync(objects) ? readdirSync(objects) : []) {
        if (!file.endsWith(".json")) continue; // .bin written first: a .json always has its bytes
        const base = join(objects, file.slice(0, -".json".length));
        const fields = JSON.parse(readFileSync(`${base}.json`, "utf8")) as Omit<StoredObject, "data"> & {
          created: string;
          updated: string;
        };
        bucket.objects.set(fields.name, {
          ...fields,
          created: new Date(fields.created),
          updated: new Date(fields.updated),
          data: readFileSync(`${base}.bin`),
        });
      }
      buckets.push(bucket);
    }
    return buckets;
  }
}

class GcsState {
  readonly persistence?: Persistence;
  /** Public keys (PEM) trusted for V4 signed URLs, by service-account email. */
  readonly signers = new Map<string, string>();

  constructor(
    readonly testHooks: boolean,
    dir?: string,
  ) {
    if (dir === undefined) return;
    this.persistence = new Persistence(dir);
    for (const bucket of this.persistence.load()) {
      this.buckets.set(bucket.name, bucket);
      for (const o of bucket.objects.values())
        this.lastGeneration = Math.max(this.lastGeneration, o.generation);
    }
  }

  readonly buckets = new Map<string, Bucket>();
  readonly sessions = new Map<string, UploadSession>();
  private lastGeneration = 0;

  /** Generations look like GCS's (microseconds since the epoch) and strictly increase. */
  nextGeneration(): number {
    this.lastGeneration = Math.max(this.lastGeneration + 1, Date.now() * 1000);
    return this.lastGeneration;
  }

  /** Forget sessions older than an hour (GCS keeps them a week; we hold their bytes in memory). */
  sweepSessions(): void {
    const cutoff = Date.now() - 3_600_000;
    for (const [id, s] of this.sessions) if (s.createdAt < cutoff) this.sessions.delete(id);
  }

  bucket(name: string): Bucket {
    const bucket = this.buckets.get(name);
    if (!bucket) throw new HttpError(404, "notFound", "The specified bucket does not exist.");
    return bucket;
  }

  object(bucketName: string, name: string, generation?: string): StoredObject {
    const found = this.bucket(bucketName).objects.get(name);
    if (!found || (generation !== undefined && String(found.generation) !== generation))
      throw new HttpError(404, "notFound", `No such object: ${bucketName}/${name}`);
    return found;
  }

  /** Check preconditions against the live object (or its absence), then store atomically. */
  commit(
    bucketName: string,
    name: string,
    data: Buffer,
    resource: Record<string, unknown>,
    contentType: string,
    preconditions: Preconditions,
    googHash?: string,
  ): StoredObject {
    const bucket = this.bucket(bucketName);
    checkPreconditions(bucket.objects.get(name), preconditions);
    const crc32c = crc32cToBase64(crc32cOf(data));
    const md5Hash = createHash("md5").update(data).digest("base64");
    const claimed = { crc32c: resource.crc32c, md5Hash: resource.md5Hash, ...parseGoogHash(googHash) };
    if (typeof claimed.crc32c === "string" && claimed.crc32c !== crc32c)
      throw new HttpError(
        400,
        "invalid",
        `Provided CRC32C "${claimed.crc32c}" doesn't match calculated CRC32C "${crc32c}".`,
      );
    if (typeof claimed.md5Hash === "string" && claimed.md5Hash !== md5Hash)
      throw new HttpError(
        400,
        "invalid",
        `Provided MD5 hash "${claimed.md5Hash}" doesn't match calculated MD5 hash "${md5Hash}".`,
      );
    const now = new Date();
    const object: StoredObject = {
      bucket: bucketName,
      name,
      generation: this.nextGeneration(),
      metageneration: 1,
      data,
      contentType: typeof resource.contentType === "string" ? resource.contentType : contentType,
      metadata: stringRecord(resource.metadata),
      crc32c,
      md5Hash,
      created: now,
      updated: now,
    };
    this.persistence?.saveObject(object);
    bucket.objects.set(name, object);
    return object;
  }
}

function parseGoogHash(header: string | undefined): { crc32c?: string; md5Hash?: string } {
  const out: { crc32c?: string; md5Hash?: string } = {};
  for (const part of (header ?? "").split(",")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    const kind = part.slice(0, i).trim();
    const value = part.slice(i + 1).trim();
    if (kind === "crc32c") out.crc32c = value;
    if (kind === "md5") out.md5Hash = value;
  }
  return out;
}

function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (value && typeof value === "object")
    for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = String(v);
  return out;
}

function checkPreconditions(current: StoredObject | undefined, p: Preconditions): void {
  const generation = current ? String(current.generation) : "0";
  const failed = () =>
    new HttpError(412, "conditionNotMet", "At least one of the pre-conditions you specified did not hold.");
  if (p.ifGenerationMatch !== undefined && p.ifGenerationMatch !== generation) throw failed();
  if (p.ifGenerationNotMatch !== undefined && p.ifGenerationNotMatch === generation) throw failed();
  if (p.ifMetagenerationMatch !== undefined && (!current || p.ifMetagenerationMatch !== "1")) throw failed();
  if (p.ifMetagenerationNotMatch !== undefined && current && p.ifMetagenerationNotMatch === "1")
    throw failed();
}

function preconditionsOf(query: URLSearchParams, prefix = ""): Preconditions {
  const p: Preconditions = {};
  const read = (name: keyof Preconditions) => {
    const key = prefix ? prefix + name.charAt(0).toUpperCase() + name.slice(1) : name;
    const value = query.get(key);
    if (value !== null) p[name] = value;
  };
  read("ifGenerationMatch");
  read("ifGenerationNotMatch");
  read("ifMetagenerationMatch");
  read("ifMetagenerationNotMatch");
  return p;
}

function origin(req: http.IncomingMessage): string {
  return `http://${req.headers.host ?? "127.0.0.1"}`;
}

function objectResource(req: http.IncomingMessage, o: StoredObject): Record<string, unknown> {
  const base = origin(req);
  const enc = encodeURIComponent(o.name);
  const resource: Record<string, unknown> = {
    kind: "storage#object",
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `${base}/storage/v1/b/${o.bucket}/o/${enc}`,
    mediaLink: `${base}/download/storage/v1/b/${o.bucket}/o/${enc}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket: o.bucket,
    generation: String(o.generation),
    metageneration: String(o.metageneration),
    contentType: o.contentType,
    storageClass: "STANDARD",
    size: String(o.data.length),
    md5Hash: o.md5Hash,
    crc32c: o.crc32c,
    etag: `${o.generation}`,
    timeCreated: o.created.toISOString(),
    updated: o.updated.toISOString(),
    timeStorageClassUpdated: o.created.toISOString(),
  };
  if (Object.keys(o.metadata).length > 0) resource.metadata = { ...o.metadata };
  return resource;
}

function bucketResource(b: Bucket): Record<string, unknown> {
  return {
    kind: "storage#bucket",
    id: b.name,
    name: b.name,
    projectNumber: "0",
    metageneration: "1",
    location: "US",
    storageClass: "STANDARD",
    etag: "CAE=",
    timeCreated: b.created.toISOString(),
    updated: b.created.toISOString(),
  };
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: http.OutgoingHttpHeaders = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=UTF-8",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function sendError(res: http.ServerResponse, err: unknown) {
  const e =
    err instanceof HttpError
      ? err
      : new HttpError(500, "backendError", err instanceof Error ? err.message : String(err));
  sendJson(res, e.status, {
    error: {
      code: e.status,
      message: e.message,
      errors: [{ message: e.message, domain: "global", reason: e.reason }],
    },
  });
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readBody(req);
  if (body.length === 0) return {};
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    return parsed && typeof parsed === "object" ? (parsed as Record<string, unknown>) : {};
  } catch {
    throw new HttpError(400, "parseError", "Parse Error");
  }
}

/** Split a `multipart/related` body into its parts (headers + bytes). */
function parseMultipart(body: Buffer, contentType: string): { headers: string; data: Buffer }[] {
  const match = /boundary="?([^";]+)"?/i.exec(contentType);
  if (!match) throw new HttpError(400, "invalid", "Missing multipart boundary.");
  const delimiter = Buffer.from(`--${match[1]}`);
  const parts: { headers: string; data: Buffer }[] = [];
  let pos = body.indexOf(delimiter);
  while (pos >= 0) {
    let start = pos + delimiter.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break; // closing "--boundary--"
    if (body[start] === 0x0d && body[start + 1] === 0x0a) start += 2;
    const next = body.indexOf(delimiter, start);
    if (next < 0) throw new HttpError(400, "invalid", "Malformed multipart body.");
    let part = body.subarray(start, next);
    if (part.length >= 2 && part[part.length - 2] === 0x0d && part[part.length - 1] === 0x0a)
      part = part.subarray(0, part.length - 2);
    const split = part.indexOf("\r\n\r\n");
    if (split < 0) throw new HttpError(400, "invalid", "Malformed multipart part.");
    parts.push({ headers: part.subarray(0, split).toString("utf8"), data: part.subarray(split + 4) });
    pos = next;
  }
  return parts;
}

function partContentType(headers: string): string | undefined {
  return /^content-type:\s*(.+)$/im.exec(headers)?.[1]?.trim();
}

async function handle(state: GcsState, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const query = url.searchParams;
  const segments = url.pathname.split("/").slice(1).map(decodeURIComponent);
  const method = req.method ?? "GET";
  const [a, b, c] = segments;

  if (a === "_strata" && state.testHooks) return await handleTestHook(state, req, res, segments.slice(1));
  if (a === "storage" && b === "v1" && c === "b")
    return await handleJsonApi(state, req, res, segments.slice(3), query);
  if (a === "download" && b === "storage" && c === "v1" && segments[3] === "b" && method === "GET")
    return download(state, req, res, segments[4] ?? "", segments.slice(6).join("/"), query);
  if (a === "upload" && b === "storage" && c === "v1" && segments[3] === "b" && segments[5] === "o")
    return await handleUpload(state, req, res, segments[4] ?? "", query);
  if (query.has("X-Goog-Algorithm") && a && segments.length >= 2)
    return await handleSignedUrl(state, req, res, a, segments.slice(1).join("/"));
  await readBody(req);
  throw new HttpError(404, "notFound", `Not Found: ${method} ${url.pathname}`);
}

async function handleTestHook(
  state: GcsState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  rest: string[],
): Promise<void> {
  if (rest[0] === "signers" && req.method === "POST") {
    const body = await readJson(req);
    if (typeof body.clientEmail !== "string" || typeof body.publicKeyPem !== "string")
      throw new HttpError(400, "invalid", "give clientEmail and publicKeyPem");
    state.signers.set(body.clientEmail, body.publicKeyPem);
    res.writeHead(204).end();
    return;
  }
  await readBody(req);
  if (rest[0] === "health") return sendJson(res, 200, { ok: true });
  if (rest[0] === "corrupt" && rest[1] === "b" && rest[3] === "o" && req.method === "POST") {
    const object = state.object(rest[2] ?? "", rest.slice(4).join("/"));
    if (object.data.length === 0) throw new HttpError(400, "invalid", "cannot corrupt an empty object");
    const i = Math.floor(object.data.length / 2);
    const copy = Buffer.from(object.data);
    copy[i] = copy[i]! ^ 0xff;
    object.data = copy;
    state.persistence?.saveObject(object);
    res.writeHead(204).end();
    return;
  }
  throw new HttpError(404, "notFound", "unknown test hook");
}

async function handleJsonApi(
  state: GcsState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  rest: string[],
  query: URLSearchParams,
): Promise<void> {
  const method = req.method ?? "GET";
  // /storage/v1/b
  if (rest.length === 0) {
    if (method === "POST") {
      // https://cloud.google.com/storage/docs/json_api/v1/buckets/insert
      const body = await readJson(req);
      const name = typeof body.name === "string" ? body.name : "";
      if (!/^[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]$/.test(name))
        throw new HttpError(400, "invalid", `Invalid bucket name: '${name}'`);
      if (state.buckets.has(name))
        throw new HttpError(
          409,
          "conflict",
          "Your previous request to create the named bucket succeeded and you already own it.",
        );
      const bucket: Bucket = { name, created: new Date(), objects: new Map() };
      state.persistence?.saveBucket(bucket);
      state.buckets.set(name, bucket);
      return sendJson(res, 200, bucketResource(bucket));
    }
    await readBody(req);
    if (method === "GET")
      return sendJson(res, 200, {
        kind: "storage#buckets",
        items: [...state.buckets.values()].map(bucketResource),
      });
  }
  const bucketName = rest[0] ?? "";
  // /storage/v1/b/{bucket}
  if (rest.length === 1) {
    await readBody(req);
    if (method === "GET") return sendJson(res, 200, bucketResource(state.bucket(bucketName)));
    if (method === "DELETE") {
      const bucket = state.bucket(bucketName);
      if (bucket.objects.size > 0)
        throw new HttpError(409, "conflict", "The bucket you tried to delete is not empty.");
      state.persistence?.removeBucket(bucketName);
      state.buckets.delete(bucketName);
      res.writeHead(204).end();
      return;
    }
  }
  // /storage/v1/b/{bucket}/o
  if (rest[1] === "o" && rest.length === 2 && method === "GET") {
    await readBody(req);
    return list(state, req, res, bucketName, query);
  }
  // /storage/v1/b/{bucket}/o/{object}[/rewriteTo|copyTo/b/{bucket}/o/{object}]
  if (rest[1] === "o" && rest.length >= 3) {
    const verbAt = rest.findIndex(
      (s, i) => i >= 3 && (s === "rewriteTo" || s === "copyTo") && rest[i + 1] === "b",
    );
    if (verbAt > 0 && method === "POST") {
      const body = await readJson(req);
      return rewrite(
        state,
        req,
        res,
        { bucket: bucketName, name: rest.slice(2, verbAt).join("/") },
        { bucket: rest[verbAt + 2] ?? "", name: rest.slice(verbAt + 4).join("/") },
        body,
        query,
        rest[verbAt] === "rewriteTo",
      );
    }
    const name = rest.slice(2).join("/");
    if (method === "GET") {
      await readBody(req);
      if (query.get("alt") === "media") return download(state, req, res, bucketName, name, query);
      // https://cloud.google.com/storage/docs/json_api/v1/objects/get
      const object = state.object(bucketName, name, query.get("generation") ?? undefined);
      return sendJson(res, 200, objectResource(req, object));
    }
    if (method === "DELETE") {
      // https://cloud.google.com/storage/docs/json_api/v1/objects/delete
      await readBody(req);
      const bucket = state.bucket(bucketName);
      const object = state.object(bucketName, name, query.get("generation") ?? undefined);
      checkPreconditions(object, preconditionsOf(query));
      state.persistence?.removeObject(bucketName, name);
      bucket.objects.delete(name);
      res.writeHead(204).end();
      return;
    }
  }
  await readBody(req);
  throw new HttpError(404, "notFound", `Not Found: ${method} /storage/v1/b/${rest.join("/")}`);
}

/** https://cloud.google.com/storage/docs/json_api/v1/objects/list */
function list(
  state: GcsState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  bucketName: string,
  query: URLSearchParams,
): void {
  const bucket = state.bucket(bucketName);
  const prefix = query.get("prefix") ?? "";
  const delimiter = query.get("delimiter") ?? "";
  const startOffset = query.get("startOffset");
  const endOffset = query.get("endOffset");
  const max = Math.min(MAX_LIST, Math.max(1, Number(query.get("maxResults") ?? MAX_LIST) || MAX_LIST));
  const token = query.get("pageToken");
  const after = token ? Buffer.from(token, "base64url").toString("utf8") : undefined;
  const names = [...bucket.objects.keys()]
    .filter((n) => n.startsWith(prefix))
    .map((n) => ({ n, key: Buffer.from(n, "utf8") }))
    .sort((x, y) => Buffer.compare(x.key, y.key));
  const afterKey = after === undefined ? undefined : Buffer.from(after, "utf8");
  const items: Record<string, unknown>[] = [];
  const prefixes = new Set<string>();
  let last: string | undefined;
  let more = false;
  for (const { n, key } of names) {
    if (afterKey && Buffer.compare(key, afterKey) <= 0) continue;
    if (startOffset !== null && Buffer.compare(key, Buffer.from(startOffset, "utf8")) < 0) continue;
    if (endOffset !== null && Buffer.compare(key, Buffer.from(endOffset, "utf8")) >= 0) continue;
    if (items.length + prefixes.size >= max) {
      more = true;
      break;
    }
    const cut = delimiter ? n.indexOf(delimiter, prefix.length) : -1;
    if (cut >= 0) {
      const p = n.slice(0, cut + delimiter.length);
      if (!prefixes.has(p)) prefixes.add(p);
      last = n;
      continue;
    }
    items.push(objectResource(req, bucket.objects.get(n)!));
    last = n;
  }
  const body: Record<string, unknown> = { kind: "storage#objects" };
  if (items.length > 0) body.items = items;
  if (prefixes.size > 0) body.prefixes = [...prefixes];
  if (more && last !== undefined) body.nextPageToken = Buffer.from(last, "utf8").toString("base64url");
  sendJson(res, 200, body);
}

/** https://cloud.google.com/storage/docs/json_api/v1/objects/get (alt=media) with `Range` */
function download(
  state: GcsState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  bucketName: string,
  name: string,
  query: URLSearchParams,
): void {
  const object = state.object(bucketName, name, query.get("generation") ?? undefined);
  checkPreconditions(object, preconditionsOf(query));
  const size = object.data.length;
  const headers: http.OutgoingHttpHeaders = {
    "content-type": object.contentType,
    "x-goog-hash": `crc32c=${object.crc32c},md5=${object.md5Hash}`,
    "x-goog-generation": String(object.generation),
    "x-goog-metageneration": String(object.metageneration),
    "x-goog-stored-content-length": String(size),
    "x-goog-stored-content-encoding": "identity",
    "accept-ranges": "bytes",
    etag: String(object.generation),
  };
  for (const [k, v] of Object.entries(object.metadata)) headers[`x-goog-meta-${k}`] = v;
  const range = req.headers.range;
  let start = 0;
  let end = size; // exclusive
  let partial = false;
  if (range) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (m) {
      partial = true;
      if (m[1] === "" && m[2] !== "") {
        start = Math.max(0, size - Number(m[2]));
      } else {
        start = Number(m[1]);
        if (m[2] !== "") end = Math.min(size, Number(m[2]) + 1);
      }
      if (start >= size || start >= end) {
        sendJson(
          res,
          416,
          {
            error: {
              code: 416,
              message: "The requested range cannot be satisfied.",
              errors: [
                {
                  message: "Request range not satisfiable",
                  domain: "global",
                  reason: "requestedRangeNotSatisfiable",
                },
              ],
            },
          },
          { "content-range": `bytes */${size}` },
        );
        return;
      }
    }
  }
  const body = object.data.subarray(start, end);
  headers["content-length"] = body.length;
  if (partial) headers["content-range"] = `bytes ${start}-${end - 1}/${size}`;
  res.writeHead(partial ? 206 : 200, headers);
  res.end(body);
}

/** https://cloud.google.com/storage/docs/json_api/v1/objects/rewrite (and copy) */
function rewrite(
  state: GcsState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  source: { bucket: string; name: string },
  target: { bucket: string; name: string },
  body: Record<string, unknown>,
  query: URLSearchParams,
  isRewrite: boolean,
): void {
  const from = state.object(source.bucket, source.name, query.get("sourceGeneration") ?? undefined);
  checkPreconditions(from, preconditionsOf(query, "ifSource"));
  // An empty destination resource copies the source's metadata.
  const resource: Record<string, unknown> = {
    contentType: from.contentType,
    metadata: { ...from.metadata },
    ...Object.fromEntries(
      Object.entries(body).filter(([k]) => ["contentType", "metadata"].includes(k) && body[k] !== undefined),
    ),
  };
  const stored = state.commit(
    target.bucket,
    target.name,
    from.data,
    resource,
    from.contentType,
    preconditionsOf(query),
  );
  const out = objectResource(req, stored);
  if (!isRewrite) {
    sendJson(res, 200, out);
    return;
  }
  sendJson(res, 200, {
    kind: "storage#rewriteResponse",
    totalBytesRewritten: String(stored.data.length),
    objectSize: String(stored.data.length),
    done: true,
    resource: out,
  });
}

/** https://cloud.google.com/storage/docs/json_api/v1/objects/insert and resumable sessions */
async function handleUpload(
  state: GcsState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  bucketName: string,
  query: URLSearchParams,
): Promise<void> {
  const method = req.method ?? "POST";
  const uploadId = query.get("upload_id");
  if (uploadId !== null) return await resumablePut(state, req, res, uploadId, method);
  if (method !== "POST") {
    await readBody(req);
    throw new HttpError(405, "invalid", `${method} is not allowed here`);
  }
  const uploadType = query.get("uploadType") ?? "media";
  if (uploadType === "resumable") {
    // https://cloud.google.com/storage/docs/performing-resumable-uploads#initiate-session
    const resource = await readJson(req);
    state.bucket(bucketName);
    const name = query.get("name") ?? (typeof resource.name === "string" ? resource.name : "");
    if (!name) throw new HttpError(400, "required", "Required parameter: name");
    const preconditions = preconditionsOf(query);
    checkPreconditions(state.bucket(bucketName).objects.get(name), preconditions);
    const id = randomUUID();
    state.sweepSessions();
    state.sessions.set(id, {
      id,
      bucket: bucketName,
      name,
      resource,
      contentType: header(req, "x-upload-content-type") ?? "application/octet-stream",
      preconditions,
      chunks: [],
      received: 0,
      createdAt: Date.now(),
    });
    const location = new URL(`${origin(req)}/upload/storage/v1/b/${encodeURIComponent(bucketName)}/o`);
    location.searchParams.set("uploadType", "resumable");
    location.searchParams.set("name", name);
    location.searchParams.set("upload_id", id);
    res.writeHead(200, { location: location.toString(), "content-length": 0 }).end();
    return;
  }
  const body = await readBody(req);
  let resource: Record<string, unknown> = {};
  let data = body;
  let contentType = header(req, "content-type") ?? "application/octet-stream";
  if (uploadType === "multipart") {
    const parts = parseMultipart(body, contentType);
    const [meta, media] = parts;
    if (!meta || !media) throw new HttpError(400, "invalid", "A multipart upload needs two parts.");
    try {
      resource = JSON.parse(meta.data.toString("utf8")) as Record<string, unknown>;
    } catch {
      throw new HttpError(400, "parseError", "Parse Error");
    }
    data = Buffer.from(media.data);
    contentType = partContentType(media.headers) ?? "application/octet-stream";
  } else if (uploadType !== "media") {
    throw new HttpError(400, "invalid", `Invalid upload type: ${uploadType}`);
  }
  const name = query.get("name") ?? (typeof resource.name === "string" ? resource.name : "");
  if (!name) throw new HttpError(400, "required", "Required parameter: name");
  const stored = state.commit(
    bucketName,
    name,
    data,
    resource,
    contentType,
    preconditionsOf(query),
    header(req, "x-goog-hash"),
  );
  sendJson(res, 200, objectResource(req, stored));
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * One PUT to a resumable session URI. `Content-Range` forms:
 *   bytes * /*          status query → 308 (+ Range) or the finished object
 *   bytes * /T          finalize at T bytes
 *   bytes a-b/T|*       a chunk; finalize when the total is known and reached
 *   bytes a-* /T|*      the rest of the object in this request (single-request mode)
 * (spaces above only to keep this comment valid.) Bytes of a request that does not complete are
 * discarded, as GCS would not have persisted them either.
 */
async function resumablePut(
  state: GcsState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  id: string,
  method: string,
): Promise<void> {
  const session = state.sessions.get(id);
  if (!session) {
    await readBody(req);
    throw new HttpError(404, "notFound", "No such upload session.");
  }
  if (method === "DELETE") {
    await readBody(req);
    state.sessions.delete(id);
    res.writeHead(499, { "content-length": 0 }).end();
    return;
  }
  if (method !== "PUT" && method !== "POST") {
    await readBody(req);
    throw new HttpError(405, "invalid", `${method} is not allowed on an upload session`);
  }
  const range = (header(req, "content-range") ?? "").trim();
  const body = await readBodyOrAbort(req);
  if (body === undefined) return; // the client went away mid-request: keep nothing of it
  if (session.finished) return sendJson(res, 200, session.finished);

  let total: number | undefined;
  let final = false;
  if (range === "") {
    final = true;
  } else {
    const m = /^bytes (\*|(\d+)-(\d+|\*))\/(\*|\d+)$/.exec(range);
    if (!m) throw new HttpError(400, "invalid", `Invalid Content-Range: ${range}`);
    if (m[4] !== "*") total = Number(m[4]);
    if (m[1] !== "*") {
      const start = Number(m[2]);
      if (start > session.received)
        throw new HttpError(
          400,
          "invalid",
          `Chunk starts at ${start} but only ${session.received} bytes were received.`,
        );
      if (m[3] === "*") final = true;
      else if (Number(m[3]) - start + 1 !== body.length)
        throw new HttpError(400, "invalid", "Content-Range does not match the body length.");
      // A retried chunk may overlap what we already have: keep only the new tail.
      const skip = session.received - start;
      if (skip < body.length) {
        session.chunks.push(body.subarray(skip));
        session.received += body.length - skip;
      }
    }
  }
  if (total !== undefined) {
    if (session.received > total)
      throw new HttpError(400, "invalid", "More bytes received than the declared total.");
    if (session.received === total) final = true;
  }
  if (!final) {
    const headers: http.OutgoingHttpHeaders = { "content-length": 0 };
    if (session.received > 0) headers.range = `bytes=0-${session.received - 1}`;
    res.writeHead(308, headers).end();
    return;
  }
  const data = Buffer.concat(session.chunks, session.received);
  session.chunks = [];
  try {
    const stored = state.commit(
      session.bucket,
      session.name,
      data,
      session.resource,
      session.contentType,
      session.preconditions,
      header(req, "x-goog-hash"),
    );
    session.finished = objectResource(req, stored);
  } catch (err) {
    // A failed finalize (precondition, checksum) ends the session: GCS does not keep it either.
    state.sessions.delete(id);
    throw err;
  }
  sendJson(res, 200, session.finished);
}

async function readBodyOrAbort(req: http.IncomingMessage): Promise<Buffer | undefined> {
  try {
    const body = await readBody(req);
    return req.complete ? body : undefined;
  } catch {
    return undefined;
  }
}

/** An XML API error (signed URLs speak the XML API's error format). */
class XmlError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function sendXmlError(res: http.ServerResponse, e: XmlError): void {
  const text = `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${e.code}</Code><Message>${e.message.replace(/[<&>]/g, "")}</Message></Error>`;
  res.writeHead(e.status, {
    "content-type": "application/xml; charset=UTF-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** RFC 3986 encoding as Google's canonical query uses it (the client's `encodeURI(x, true)`). */
function strictEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** `20260101T120000Z` → ms since the epoch (NaN when malformed). */
function parseGoogDate(text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return Number.NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

/** Longest lifetime Google accepts for a V4 signed URL: 7 days. */
const MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600;

/**
 * Check a V4 signed request: algorithm, credential scope, date window and the RSA-SHA256
 * signature over the canonical request. Throws XmlError (403 for a bad signature or unknown
 * signer, 400 for malformed or expired URLs, as GCS answers).
 */
function verifySignedUrl(
  state: GcsState,
  req: http.IncomingMessage,
  rawPath: string,
  rawQuery: string,
): void {
  const params: Array<[string, string]> = [];
  for (const part of rawQuery.split("&")) {
    if (part === "") continue;
    const i = part.indexOf("=");
    const decode = (x: string) => decodeURIComponent(x.replace(/\+/g, " "));
    params.push(i < 0 ? [decode(part), ""] : [decode(part.slice(0, i)), decode(part.slice(i + 1))]);
  }
  const get = (name: string) => params.find(([k]) => k === name)?.[1];
  if (get("X-Goog-Algorithm") !== "GOOG4-RSA-SHA256")
    throw new XmlError(400, "InvalidArgument", "X-Goog-Algorithm must be GOOG4-RSA-SHA256.");
  const credential = get("X-Goog-Credential") ?? "";
  const date = get("X-Goog-Date") ?? "";
  const expires = Number(get("X-Goog-Expires"));
  const signedHeaders = get("X-Goog-SignedHeaders") ?? "";
  const signature = get("X-Goog-Signature") ?? "";
  const [email, scopeDate, location, service, request] = credential.split("/");
  const start = parseGoogDate(date);
  if (
    !email ||
    scopeDate !== date.slice(0, 8) ||
    location !== "auto" ||
    service !== "storage" ||
    request !== "goog4_request"
  )
    throw new XmlError(400, "AuthorizationQueryParametersError", "Malformed X-Goog-Credential.");
  if (Number.isNaN(start) || !Number.isInteger(expires) || expires < 1 || expires > MAX_SIGNED_URL_SECONDS)
    throw new XmlError(400, "AuthorizationQueryParametersError", "Malformed X-Goog-Date or X-Goog-Expires.");
  const now = Date.now();
  if (now < start - 60_000) throw new XmlError(400, "RequestNotYetValid", "The request is not yet valid.");
  if (now >= start + expires * 1000)
    throw new XmlError(400, "ExpiredToken", "The provided token has expired.");
  const publicKey = state.signers.get(email);
  if (!publicKey) throw new XmlError(403, "AccessDenied", `No trusted signing key for ${email}.`);

  const names = signedHeaders.split(";").filter(Boolean);
  if (!names.includes("host"))
    throw new XmlError(400, "AuthorizationQueryParametersError", "host must be signed.");
  const headerLines = names.map((name) => {
    let value = header(req, name) ?? "";
    if (name === "host") value = value.replace(/:\d+$/, "");
    return `${name}:${value.trim().replace(/\s{2,}/g, " ")}\n`;
  });
  const canonicalQuery = params
    .filter(([k]) => k !== "X-Goog-Signature")
    .map(([k, v]) => [strictEncode(k), strictEncode(v)] as const)
    .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalRequest = [
    req.method ?? "GET",
    rawPath,
    canonicalQuery,
    headerLines.join(""),
    signedHeaders,
    names.includes("x-goog-content-sha256")
      ? (header(req, "x-goog-content-sha256") ?? "")
      : "UNSIGNED-PAYLOAD",
  ].join("\n");
  const stringToSign = [
    "GOOG4-RSA-SHA256",
    date,
    `${scopeDate}/auto/storage/goog4_request`,
    createHash("sha256").update(canonicalRequest).digest("hex"),
  ].join("\n");
  let valid = false;
  try {
    valid =
      /^[0-9a-f]+$/.test(signature) &&
      createVerify("RSA-SHA256").update(stringToSign).verify(publicKey, Buffer.from(signature, "hex"));
  } catch {
    valid = false;
  }
  if (!valid)
    throw new XmlError(
      403,
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided.",
    );
}

/** `PUT` (store the body) or `GET` (download) of one object through a verified V4 signed URL. */
async function handleSignedUrl(
  state: GcsState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  bucketName: string,
  name: string,
): Promise<void> {
  const raw = req.url ?? "/";
  const q = raw.indexOf("?");
  const body = await readBody(req);
  try {
    verifySignedUrl(state, req, q < 0 ? raw : raw.slice(0, q), q < 0 ? "" : raw.slice(q + 1));
    if (req.method === "PUT") {
      const stored = state.commit(
        bucketName,
        name,
        body,
        {},
        header(req, "content-type") ?? "application/octet-stream",
        {},
        header(req, "x-goog-hash"),
      );
      res.writeHead(200, {
        etag: `"${stored.md5Hash}"`,
        "x-goog-generation": String(stored.generation),
        "x-goog-hash": `crc32c=${stored.crc32c},md5=${stored.md5Hash}`,
        "content-length": 0,
      });
      res.end();
      return;
    }
    if (req.method === "GET") return download(state, req, res, bucketName, name, new URLSearchParams());
    throw new XmlError(405, "MethodNotAllowed", `${req.method} is not allowed on a signed URL here.`);
  } catch (err) {
    if (err instanceof XmlError) return sendXmlError(res, err);
    if (err instanceof HttpError) return sendXmlError(res, new XmlError(err.status, err.reason, err.message));
    throw err;
  }
}
