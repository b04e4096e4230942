/**
 * strata's WebDAV server (RFC 4918 class 1 and 2): a client of a deployment through the SDK.
 * Every request runs on the client its credential selects (backend.ts), so the deployment's
 * confinement applies; locks are kept in this process (locks.ts); dead properties are xattrs
 * (`user.webdav.{ns}name`); history is readable, read-only, through as-of names (resources.ts).
 * docs/webdav.md lists the methods, properties and what is not supported.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream/promises";
import { mapLimit } from "../../core/concurrency.ts";
import { type ErrorCode, isStrataError, StrataError } from "../../core/errors.ts";
import type { Strata } from "../../sdk/index.ts";
import { principalOf, type WebDavBackend } from "./backend.ts";
import { type IfList, parseIf, sameEtag, submittedTokens } from "./if-header.ts";
import { type Lock, type LockScope, LockTable, timeoutFrom, within } from "./locks.ts";
import {
  clientPathOf,
  DEAD_PREFIX,
  deadProps,
  etagOf,
  exists,
  hrefOf,
  isCollection,
  isProtected,
  joinPath,
  LIVE,
  liveValue,
  locate,
  members,
  parentOf,
  type Resource,
  splitClark,
} from "./resources.ts";
import { child, clark, DAV, elements, escapeXml, parseXml, serializeNodes, type XmlElement } from "./xml.ts";

export interface WebDavOptions {
  backend: WebDavBackend;
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** The lock table (tests share or inspect one); default a new one. */
  locks?: LockTable;
  /** One line per failed request (5xx), for the operator. */
  log?: (line: string) => void;
}

export interface WebDavServer {
  readonly url: string;
  readonly port: number;
  readonly locks: LockTable;
  readonly server: Server;
  close(): Promise<void>;
}

/** Largest XML request body read (PROPFIND, PROPPATCH, LOCK). */
const MAX_XML_BYTES = 1 << 20;
/** Most responses one PROPFIND may produce (Depth: infinity beyond it: 403 propfind-finite-depth). */
const MAX_PROPFIND_RESPONSES = 10_000;
/** Stats in flight while listing a collection. */
const LIST_PARALLELISM = 8;

const METHODS = "OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, PROPFIND, PROPPATCH, LOCK, UNLOCK";

/** A reply decided before the end of a handler: status, optional body and headers. */
class Reply extends Error {
  constructor(
    readonly status: number,
    readonly body = "",
    readonly headers: Record<string, string> = {},
  ) {
    super(`${status}`);
  }
}

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  ENOENT: 404,
  EACCES: 403,
  EROFS: 403,
  EEXIST: 405,
  ENOTEMPTY: 409,
  ENOTDIR: 409,
  EISDIR: 409,
  ECONFLICT: 409,
  EXDEV: 502,
  EINVAL: 400,
  ENAMETOOLONG: 400,
  ELOOP: 400,
  E2BIG: 413,
  EPRUNED: 404,
  ENOTSUP: 501,
  EUNAVAIL: 503,
  ETHROTTLED: 503,
  ETIMEDOUT: 504,
};

/** A request's state: its client, who presented it, its path and its If header. */
interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  client: Strata;
  principal: string;
  path: string;
  ifLists: IfList[];
  tokens: Set<string>;
}

export async function startWebDavServer(options: WebDavOptions): Promise<WebDavServer> {
  const locks = options.locks ?? new LockTable();
  const dav = new WebDav(options.backend, locks, options.log ?? (() => {}));
  const server = createServer((req, res) => void dav.handle(req, res));
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    locks,
    server,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await options.backend.close();
    },
  };
}

/** One request header as a string (the first, if repeated). */
function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function tokenOf(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (!auth) return undefined;
  const [scheme, value = ""] = auth.split(/\s+/, 2);
  if (/^bearer$/i.test(scheme ?? "")) return value || undefined;
  if (/^basic$/i.test(scheme ?? "")) {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const password = colon < 0 ? decoded : decoded.slice(colon + 1);
    return password || undefined;
  }
  return undefined;
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Reply(413, `request body larger than ${limit} bytes`);
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts).toString("utf8");
}

function multistatus(responses: string[]): string {
  return `<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">${responses.join("")}</D:multistatus>`;
}

function statusLine(code: number): string {
  const text: Record<number, string> = {
    200: "OK",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    423: "Locked",
    424: "Failed Dependency",
    507: "Insufficient Storage",
  };
  return `HTTP/1.1 ${code} ${text[code] ?? ""}`.trimEnd();
}

/** `<{ns}name>value</>` with the name's namespace declared on the element when it is not DAV:. */
function propXml(key: string, value: string | undefined): string {
  const { ns, name } = splitClark(key);
  const open = ns === DAV ? `D:${name}` : `${name} xmlns="${escapeXml(ns)}"`;
  const close = ns === DAV ? `D:${name}` : name;
  return value === undefined || value === "" ? `<${open}/>` : `<${open}>${value}</${close}>`;
}

function activeLockXml(lock: Lock): string {
  return (
    "<D:activelock>" +
    "<D:locktype><D:write/></D:locktype>" +
    `<D:lockscope><D:${lock.scope}/></D:lockscope>` +
    `<D:depth>${lock.depth === "0" ? "0" : "infinity"}</D:depth>` +
    (lock.owner ? `<D:owner>${lock.owner}</D:owner>` : "") +
    `<D:timeout>Second-${lock.timeoutSeconds}</D:timeout>` +
    `<D:locktoken><D:href>${escapeXml(lock.token)}</D:href></D:locktoken>` +
    `<D:lockroot><D:href>${escapeXml(hrefOf(lock.root, false))}</D:href></D:lockroot>` +
    "</D:activelock>"
  );
}

const SUPPORTED_LOCK =
  "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>" +
  "<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>";

class WebDav {
  constructor(
    private readonly backend: WebDavBackend,
    private readonly locks: LockTable,
    private readonly log: (line: string) => void,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const token = tokenOf(req);
      if (this.backend.requiresAuth && token === undefined) {
        throw new Reply(
          401,
          "credentials required: a strata token as the Basic password, or a Bearer token",
          {
            "WWW-Authenticate": 'Basic realm="strata", charset="UTF-8"',
          },
        );
      }
      const raw = req.url ?? "/";
      // A fragment never belongs in a Request-URI; acting on the rest would be unsafe (litmus delete_fragment).
      if (raw.includes("#")) throw new Reply(400, "a Request-URI cannot carry a fragment");
      const pathname = new URL(raw, "http://gateway.invalid").pathname;
      const ifHeader = req.headers.if;
      const ifLists = typeof ifHeader === "string" ? parseIf(ifHeader) : [];
      const ctx: Ctx = {
        req,
        res,
        client: await this.backend.clientFor(token),
        principal: principalOf(token),
        path: clientPathOf(pathname),
        ifLists,
        tokens: submittedTokens(ifLists),
      };
      await this.dispatch(ctx);
    } catch (err) {
      this.fail(req, res, err);
    }
  }

  private async dispatch(ctx: Ctx): Promise<void> {
    switch (ctx.req.method) {
      case "OPTIONS":
        return this.options(ctx);
      case "GET":
        return this.get(ctx, true);
      case "HEAD":
        return this.get(ctx, false);
      case "PUT":
        return this.put(ctx);
      case "DELETE":
        return this.delete(ctx);
      case "MKCOL":
        return this.mkcol(ctx);
      case "COPY":
        return this.copyMove(ctx, false);
      case "MOVE":
        return this.copyMove(ctx, true);
      case "PROPFIND":
        return this.propfind(ctx);
      case "PROPPATCH":
        return this.proppatch(ctx);
      case "LOCK":
        return this.lock(ctx);
      case "UNLOCK":
        return this.unlock(ctx);
      default:
        throw new Reply(405, `${ctx.req.method} is not supported`, { Allow: METHODS });
    }
  }

  private fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    let reply: Reply;
    if (err instanceof Reply) reply = err;
    else if (err instanceof StrataError) {
      const auth = isStrataError(err, "EACCES") && err.details.auth === "token";
      reply = auth
        ? new Reply(401, `${err.code}: ${err.message}`, {
            "WWW-Authenticate": 'Basic realm="strata", charset="UTF-8"',
          })
        : new Reply(STATUS_OF[err.code] ?? 500, `${err.code}: ${err.message}`);
    } else reply = new Reply(500, "internal error");
    if (reply.status >= 500) this.log(`${req.method} ${req.url}: ${reply.status} ${(err as Error).message}`);
    // The request body may be unread (a refused PUT): drain it so the connection stays usable.
    req.resume();
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = reply.body ? `${reply.body}\n` : "";
    res.writeHead(reply.status, {
      "Content-Type": body.startsWith("<?xml")
        ? "application/xml; charset=utf-8"
        : "text/plain; charset=utf-8",
      "Content-Length": Buffer.byteLength(body),
      ...reply.headers,
    });
    res.end(body);
  }

  private send(ctx: Ctx, status: number, body = "", headers: Record<string, string | number> = {}): void {
    ctx.req.resume();
    ctx.res.writeHead(status, {
      ...(body ? { "Content-Type": "application/xml; charset=utf-8" } : {}),
      "Content-Length": Buffer.byteLength(body),
      ...headers,
    });
    ctx.res.end(body);
  }

  // ---- conditions ----

  /** 423 unless the request holds a token for every lock on `path` (and below, with `tree`). */
  private checkLocks(ctx: Ctx, path: string, tree: boolean): void {
    const blocking = this.locks.blocking(path, ctx.tokens, ctx.principal, tree);
    if (blocking.length > 0) {
      const lock = blocking[0]!;
      throw new Reply(
        423,
        `<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:"><D:lock-token-submitted><D:href>${escapeXml(hrefOf(lock.root, false))}</D:href></D:lock-token-submitted></D:error>`,
      );
    }
  }

  /** 412 when the If header is present and no list of it is true. */
  private async checkIf(ctx: Ctx, known: Resource): Promise<void> {
    if (ctx.ifLists.length === 0) return;
    const cache = new Map<string, Resource>([[known.clientPath, known]]);
    for (const list of ctx.ifLists) {
      let path = ctx.path;
      if (list.resource !== undefined) {
        try {
          path = clientPathOf(new URL(list.resource, "http://gateway.invalid").pathname);
        } catch {
          continue;
        }
      }
      let r = cache.get(path);
      if (!r) {
        r = await locate(ctx.client, path);
        cache.set(path, r);
      }
      const tag = etagOf(r);
      const held = new Set(this.locks.covering(path).map((l) => l.token));
      const ok = list.conditions.every((c) => {
        const match =
          c.token !== undefined ? held.has(c.token) : tag !== undefined && sameEtag(tag, c.etag ?? "");
        return c.not ? !match : match;
      });
      if (ok) return;
    }
    throw new Reply(412, "no list of the If header matched");
  }

  /** If-Match / If-None-Match / If-(Un)Modified-Since for GET, HEAD and PUT. */
  private httpConditions(ctx: Ctx, r: Resource, read: boolean): void {
    const tag = etagOf(r);
    const h = ctx.req.headers;
    const list = (v: string) => v.split(",").map((s) => s.trim());
    if (h["if-match"] !== undefined) {
      const ok =
        tag !== undefined && (h["if-match"].trim() === "*" || list(h["if-match"]).some((e) => e === tag));
      if (!ok) throw new Reply(412, "If-Match failed");
    }
    if (h["if-none-match"] !== undefined) {
      const hit =
        tag !== undefined &&
        (h["if-none-match"].trim() === "*" || list(h["if-none-match"]).some((e) => sameEtag(e, tag)));
      if (hit) throw read ? new Reply(304, "", { ETag: tag }) : new Reply(412, "If-None-Match failed");
    }
    const mtime = r.kind === "node" && r.stat ? Math.floor(r.stat.mtimeMs / 1000) * 1000 : undefined;
    if (read && h["if-none-match"] === undefined && h["if-modified-since"] && mtime !== undefined) {
      const since = Date.parse(h["if-modified-since"]);
      if (!Number.isNaN(since) && mtime <= since) throw new Reply(304, "", tag ? { ETag: tag } : {});
    }
    if (h["if-unmodified-since"] && mtime !== undefined) {
      const since = Date.parse(h["if-unmodified-since"]);
      if (!Number.isNaN(since) && mtime > since) throw new Reply(412, "If-Unmodified-Since failed");
    }
  }

  private writable(r: Resource): asserts r is Extract<Resource, { kind: "node" }> {
    if (r.kind === "control" || r.readOnly)
      throw new Reply(403, `${r.clientPath} is read-only (a point in history, or /.strata)`);
  }

  /** 409 unless the parent of `path` is an existing collection. */
  private async checkParent(ctx: Ctx, path: string): Promise<void> {
    const parent = await locate(ctx.client, parentOf(path));
    if (!isCollection(parent) || !exists(parent))
      throw new Reply(409, `the parent of ${path} is not an existing collection`);
  }

  // ---- methods ----

  private options(ctx: Ctx): void {
    this.send(ctx, 200, "", {
      DAV: "1, 2",
      Allow: METHODS,
      "MS-Author-Via": "DAV",
      "Accept-Ranges": "bytes",
    });
  }

  private async get(ctx: Ctx, body: boolean): Promise<void> {
    const r = await locate(ctx.client, ctx.path);
    if (!exists(r)) throw new Reply(404, `${ctx.path} does not exist`);
    if (isCollection(r)) {
      const names = await members(ctx.client, r);
      const rows = names.map((p) => {
        const name = p.slice(p.lastIndexOf("/") + 1);
        return `<li><a href="${escapeXml(hrefOf(p, false))}">${escapeXml(name)}</a></li>`;
      });
      const html = `<!doctype html><meta charset="utf-8"><title>${escapeXml(ctx.path)}</title><h1>${escapeXml(ctx.path)}</h1><ul>${rows.join("")}</ul>\n`;
      ctx.req.resume();
      ctx.res.writeHead(200, {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Length": Buffer.byteLength(html),
      });
      ctx.res.end(body ? html : undefined);
      return;
    }
    if (r.kind !== "node" || !r.stat) throw new Reply(404, `${ctx.path} does not exist`);
    this.httpConditions(ctx, r, true);
    const size = r.stat.type === "file" ? r.stat.size : 0;
    const tag = etagOf(r)!;
    const headers: Record<string, string | number> = {
      ETag: tag,
      "Last-Modified": new Date(r.stat.mtimeMs).toUTCString(),
      "Content-Type": liveValue(r, clark(DAV, "getcontenttype")) ?? "application/octet-stream",
      "Accept-Ranges": "bytes",
    };
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = ctx.req.headers.range;
    const ifRange = ctx.req.headers["if-range"];
    if (range && size > 0 && (ifRange === undefined || ifRange === tag)) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (m && (m[1] !== "" || m[2] !== "")) {
        if (m[1] === "") {
          start = Math.max(0, size - Number(m[2]));
        } else {
          start = Number(m[1]);
          end = m[2] === "" ? size - 1 : Math.min(size - 1, Number(m[2]));
        }
        if (start >= size || start > end)
          throw new Reply(416, "range not satisfiable", { "Content-Range": `bytes */${size}` });
        status = 206;
        headers["Content-Range"] = `bytes ${start}-${end}/${size}`;
      }
      // Several ranges, or a malformed one: the whole body (RFC 9110 allows ignoring Range).
    }
    headers["Content-Length"] = size === 0 ? 0 : end - start + 1;
    ctx.req.resume();
    if (!body || size === 0 || r.stat.type !== "file") {
      ctx.res.writeHead(status, headers);
      ctx.res.end();
      return;
    }
    const stream = r.view.createReadStream(r.path, { start, end });
    // The first bytes decide the status: an error before them is still an HTTP error.
    const first = await new Promise<void>((resolve, reject) => {
      stream.once("readable", resolve);
      stream.once("error", reject);
    });
    void first;
    ctx.res.writeHead(status, headers);
    await pipeline(stream, ctx.res).catch(() => ctx.res.destroy());
  }

  private async put(ctx: Ctx): Promise<void> {
    const r = await locate(ctx.client, ctx.path);
    this.writable(r);
    if (ctx.req.headers["content-range"])
      throw new Reply(400, "partial PUT (Content-Range) is not supported");
    if (r.stat?.type === "dir") throw new Reply(405, `${ctx.path} is a collection`);
    if (!r.stat) await this.checkParent(ctx, ctx.path);
    await this.checkIf(ctx, r);
    this.checkLocks(ctx, ctx.path, false);
    this.httpConditions(ctx, r, false);
    await ctx.client.writeFile(r.path, ctx.req);
    const mtime = Number(ctx.req.headers["x-oc-mtime"]);
    if (Number.isFinite(mtime) && mtime > 0) await ctx.client.utimes(r.path, new Date(), mtime);
    const after = await locate(ctx.client, ctx.path);
    this.send(ctx, r.stat ? 204 : 201, "", {
      ETag: etagOf(after) ?? "",
      ...(Number.isFinite(mtime) && mtime > 0 ? { "X-OC-Mtime": "accepted" } : {}),
    });
  }

  private async delete(ctx: Ctx): Promise<void> {
    const r = await locate(ctx.client, ctx.path);
    if (!exists(r)) throw new Reply(404, `${ctx.path} does not exist`);
    this.writable(r);
    if (ctx.path === "/") throw new Reply(403, "the root cannot be deleted");
    await this.checkIf(ctx, r);
    this.checkLocks(ctx, ctx.path, true);
    await ctx.client.rm(r.path, { recursive: true });
    this.locks.dropTree(ctx.path);
    this.send(ctx, 204);
  }

  private async mkcol(ctx: Ctx): Promise<void> {
    const body = await readBody(ctx.req, MAX_XML_BYTES);
    const r = await locate(ctx.client, ctx.path);
    if (exists(r)) throw new Reply(405, `${ctx.path} already exists`);
    this.writable(r);
    if (body.length > 0) throw new Reply(415, "MKCOL with a body is not supported");
    await this.checkParent(ctx, ctx.path);
    await this.checkIf(ctx, r);
    this.checkLocks(ctx, ctx.path, false);
    await ctx.client.mkdir(r.path);
    this.send(ctx, 201);
  }

  /** The Destination header as a client path (502 for another server). */
  private destination(ctx: Ctx): string {
    const dest = ctx.req.headers.destination;
    if (typeof dest !== "string" || dest === "") throw new Reply(400, "Destination header required");
    let url: URL;
    try {
      url = new URL(dest, `http://${ctx.req.headers.host ?? "gateway.invalid"}`);
    } catch {
      throw new Reply(400, "Destination is not a URL");
    }
    if (ctx.req.headers.host && url.host !== ctx.req.headers.host)
      throw new Reply(502, "Destination names another server");
    return clientPathOf(url.pathname);
  }

  private async copyMove(ctx: Ctx, move: boolean): Promise<void> {
    const to = this.destination(ctx);
    const depth = (header(ctx.req, "depth") ?? "infinity").toLowerCase();
    const overwrite = (header(ctx.req, "overwrite") ?? "T").toUpperCase() !== "F";
    const src = await locate(ctx.client, ctx.path);
    if (!exists(src)) throw new Reply(404, `${ctx.path} does not exist`);
    if (src.kind !== "node") throw new Reply(403, "/.strata cannot be copied or moved");
    const collection = isCollection(src);
    if (move && collection && depth !== "infinity")
      throw new Reply(400, "MOVE of a collection needs Depth: infinity");
    if (!move && depth !== "0" && depth !== "infinity")
      throw new Reply(400, "COPY takes Depth 0 or infinity");
    if (move) this.writable(src);
    if (to === ctx.path) throw new Reply(403, "source and destination are the same");
    if (collection && within(to, ctx.path))
      throw new Reply(403, "cannot copy or move a collection into itself");
    const dst = await locate(ctx.client, to);
    this.writable(dst);
    if (move && ctx.path === "/") throw new Reply(403, "the root cannot be moved");
    await this.checkParent(ctx, to);
    if (exists(dst) && !overwrite) throw new Reply(412, `${to} exists and Overwrite is F`);
    // The If header first (412), then the locks (423): a lock token in a false If header is not enough.
    await this.checkIf(ctx, src);
    if (move) this.checkLocks(ctx, ctx.path, true);
    this.checkLocks(ctx, to, true);
    const replaced = exists(dst);
    // A file over a file is replaced atomically (rename, or the copy's commit); anything else
    // is deleted first, as RFC 4918 §9.8.4/§9.9.3 describe.
    if (replaced && (collection || dst.stat?.type === "dir")) {
      await ctx.client.rm(dst.path, { recursive: true });
    }
    this.locks.dropTree(to);
    if (move) {
      await ctx.client.rename(src.path, dst.path);
      this.locks.dropTree(ctx.path);
    } else {
      await this.copyTree(ctx, src, dst.path, depth === "infinity");
    }
    this.send(ctx, replaced ? 204 : 201);
  }

  /** COPY: files by reference (copyFile: no bytes move), collections rebuilt, dead properties copied. */
  private async copyTree(
    ctx: Ctx,
    src: Extract<Resource, { kind: "node" }>,
    to: string,
    deep: boolean,
  ): Promise<void> {
    const { client } = ctx;
    const point = src.view.point;
    if (src.stat?.type === "dir") {
      await client.mkdir(to);
    } else if (src.stat?.type === "symlink") {
      await client.symlink(await src.view.readlink(src.path), to);
    } else {
      await client.copyFile(src.path, to, point === undefined ? {} : { sourceAsOf: point });
    }
    for (const [key, value] of await deadProps(src)) await client.setxattr(to, DEAD_PREFIX + key, value);
    if (!deep || src.stat?.type !== "dir") return;
    for (const childPath of await members(client, src)) {
      const name = childPath.slice(childPath.lastIndexOf("/") + 1);
      const c = await locate(client, childPath);
      if (c.kind === "node" && c.stat) await this.copyTree(ctx, c, joinPath(to, name), true);
    }
  }

  private async propfind(ctx: Ctx): Promise<void> {
    const depth = (header(ctx.req, "depth") ?? "infinity").toLowerCase();
    if (depth !== "0" && depth !== "1" && depth !== "infinity")
      throw new Reply(400, "Depth must be 0, 1 or infinity");
    const text = await readBody(ctx.req, MAX_XML_BYTES);
    let mode: "allprop" | "propname" | "prop" = "allprop";
    let wanted: string[] = [];
    if (text.trim().length > 0) {
      const root = parseXml(text);
      if (root.ns !== DAV || root.name !== "propfind")
        throw new Reply(400, "PROPFIND body must be DAV:propfind");
      const prop = child(root, DAV, "prop");
      if (prop) {
        mode = "prop";
        wanted = elements(prop).map((e) => clark(e.ns, e.name));
      } else if (child(root, DAV, "propname")) mode = "propname";
      else if (child(root, DAV, "allprop")) mode = "allprop";
      else throw new Reply(400, "PROPFIND body needs prop, propname or allprop");
    }
    const r = await locate(ctx.client, ctx.path);
    if (!exists(r)) throw new Reply(404, `${ctx.path} does not exist`);
    const all: Resource[] = [r];
    let frontier: Resource[] = depth === "0" ? [] : [r];
    while (frontier.length > 0) {
      const next: Resource[] = [];
      for (const dir of frontier) {
        if (!isCollection(dir)) continue;
        const paths = await members(ctx.client, dir);
        if (all.length + paths.length > MAX_PROPFIND_RESPONSES)
          throw new Reply(
            403,
            `<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>`,
          );
        const found = await mapLimit(paths, LIST_PARALLELISM, (p) => this.memberOf(ctx, p));
        for (const m of found) if (m && exists(m)) all.push(m);
        if (depth === "infinity")
          next.push(...found.filter((m): m is Resource => m !== undefined && isCollection(m)));
      }
      frontier = next;
    }
    const responses = await mapLimit(all, LIST_PARALLELISM, (res) => this.propResponse(res, mode, wanted));
    this.send(ctx, 207, multistatus(responses));
  }

  /** A member of a listed collection (its view is the parent's: as-of listings stay as-of). */
  private async memberOf(ctx: Ctx, clientPath: string): Promise<Resource | undefined> {
    try {
      return await locate(ctx.client, clientPath);
    } catch (err) {
      // A member that vanished between the listing and its stat, or a name the as-of syntax rejects.
      if (isStrataError(err, "ENOENT") || isStrataError(err, "EINVAL")) return undefined;
      throw err;
    }
  }

  private async propResponse(
    r: Resource,
    mode: "allprop" | "propname" | "prop",
    wanted: string[],
  ): Promise<string> {
    const found: string[] = [];
    const missing: string[] = [];
    const dead =
      mode === "prop" && !wanted.some((k) => !LIVE.includes(k as (typeof LIVE)[number]))
        ? new Map()
        : await deadProps(r);
    const value = (key: string): string | undefined => {
      if (key === clark(DAV, "lockdiscovery"))
        return this.locks.covering(r.clientPath).map(activeLockXml).join("");
      if (key === clark(DAV, "supportedlock"))
        return r.kind === "node" && !r.readOnly ? SUPPORTED_LOCK : undefined;
      return LIVE.includes(key as (typeof LIVE)[number]) ? liveValue(r, key) : dead.get(key);
    };
    const keys = mode === "prop" ? wanted : [...LIVE, ...dead.keys()];
    for (const key of keys) {
      const v = value(key);
      if (v === undefined) {
        if (mode === "prop") missing.push(propXml(key, undefined));
        continue;
      }
      found.push(propXml(key, mode === "propname" ? undefined : v));
    }
    const propstat = (props: string[], code: number) =>
      props.length === 0
        ? ""
        : `<D:propstat><D:prop>${props.join("")}</D:prop><D:status>${statusLine(code)}</D:status></D:propstat>`;
    return `<D:response><D:href>${escapeXml(hrefOf(r.clientPath, isCollection(r)))}</D:href>${propstat(found, 200)}${propstat(missing, 404)}</D:response>`;
  }

  private async proppatch(ctx: Ctx): Promise<void> {
    const text = await readBody(ctx.req, MAX_XML_BYTES);
    const r = await locate(ctx.client, ctx.path);
    if (!exists(r)) throw new Reply(404, `${ctx.path} does not exist`);
    this.writable(r);
    await this.checkIf(ctx, r);
    this.checkLocks(ctx, ctx.path, false);
    const root = parseXml(text);
    if (root.ns !== DAV || root.name !== "propertyupdate")
      throw new Reply(400, "PROPPATCH body must be DAV:propertyupdate");
    // Document order matters (set then remove of one name leaves it removed).
    const updates: Array<{ set: boolean; key: string; value: string; el: XmlElement }> = [];
    for (const action of elements(root)) {
      if (action.ns !== DAV || (action.name !== "set" && action.name !== "remove")) continue;
      const prop = child(action, DAV, "prop");
      for (const el of prop ? elements(prop) : []) {
        updates.push({
          set: action.name === "set",
          key: clark(el.ns, el.name),
          value: serializeNodes(el.children),
          el,
        });
      }
    }
    const refused = updates.filter((u) => isProtected(u.el.ns, u.el.name));
    const results: Array<{ key: string; code: number }> = [];
    if (refused.length > 0) {
      // All or nothing: a protected property fails the whole request before anything is written.
      for (const u of updates)
        results.push({ key: u.key, code: isProtected(u.el.ns, u.el.name) ? 403 : 424 });
    } else {
      for (const u of updates) {
        if (u.set) await ctx.client.setxattr(r.path, DEAD_PREFIX + u.key, u.value);
        else {
          try {
            await ctx.client.removexattr(r.path, DEAD_PREFIX + u.key);
          } catch (err) {
            if (!isStrataError(err, "ENOENT")) throw err;
          }
        }
        results.push({ key: u.key, code: 200 });
      }
    }
    const byCode = new Map<number, string[]>();
    for (const { key, code } of results) {
      const list = byCode.get(code) ?? [];
      if (!list.includes(key)) list.push(key);
      byCode.set(code, list);
    }
    const propstats = [...byCode].map(
      ([code, keys]) =>
        `<D:propstat><D:prop>${keys.map((k) => propXml(k, undefined)).join("")}</D:prop><D:status>${statusLine(code)}</D:status></D:propstat>`,
    );
    this.send(
      ctx,
      207,
      multistatus([
        `<D:response><D:href>${escapeXml(hrefOf(ctx.path, isCollection(r)))}</D:href>${propstats.join("")}</D:response>`,
      ]),
    );
  }

  private async lock(ctx: Ctx): Promise<void> {
    const text = await readBody(ctx.req, MAX_XML_BYTES);
    const timeout = timeoutFrom(header(ctx.req, "timeout"));
    const r = await locate(ctx.client, ctx.path);
    if (text.trim().length === 0) {
      // A refresh: the If header names the lock (directly, or one on an ancestor covering this path).
      const lock = [...ctx.tokens]
        .map((t) => this.locks.get(t))
        .find(
          (l) =>
            l !== undefined && within(ctx.path, l.root) && (l.root === ctx.path || l.depth === "infinity"),
        );
      if (!lock) throw new Reply(412, "LOCK without a body refreshes a lock: name it in the If header");
      if (lock.principal !== ctx.principal) throw new Reply(403, "that lock belongs to another principal");
      this.locks.refresh(lock, timeout);
      this.send(ctx, 200, this.lockBody(lock), { "Lock-Token": `<${lock.token}>` });
      return;
    }
    this.writable(r);
    if (this.backend.mayLock && !(await this.backend.mayLock(ctx.client)))
      throw new Reply(403, "taking a lock needs a token with the write right");
    const root = parseXml(text);
    if (root.ns !== DAV || root.name !== "lockinfo") throw new Reply(400, "LOCK body must be DAV:lockinfo");
    const scopeEl = child(root, DAV, "lockscope");
    const scope: LockScope | undefined =
      scopeEl && child(scopeEl, DAV, "exclusive")
        ? "exclusive"
        : scopeEl && child(scopeEl, DAV, "shared")
          ? "shared"
          : undefined;
    if (!scope) throw new Reply(400, "lockinfo needs lockscope exclusive or shared");
    const typeEl = child(root, DAV, "locktype");
    if (!typeEl || !child(typeEl, DAV, "write")) throw new Reply(400, "only write locks exist");
    const ownerEl = child(root, DAV, "owner");
    const depthHeader = (header(ctx.req, "depth") ?? "infinity").toLowerCase();
    if (depthHeader !== "0" && depthHeader !== "infinity")
      throw new Reply(400, "LOCK takes Depth 0 or infinity");
    await this.checkIf(ctx, r);
    if (!exists(r)) await this.checkParent(ctx, ctx.path);
    let lock: Lock;
    try {
      lock = this.locks.acquire({
        root: ctx.path,
        scope,
        depth: isCollection(r) ? (depthHeader === "0" ? "0" : "infinity") : "0",
        owner: ownerEl ? serializeNodes(ownerEl.children) : "",
        timeoutSeconds: timeout,
        principal: ctx.principal,
      });
    } catch (err) {
      if (isStrataError(err, "ECONFLICT")) throw new Reply(423, err.message);
      throw err;
    }
    let created = false;
    if (!exists(r)) {
      // RFC 4918 §7.3: locking an unmapped URL creates an empty resource.
      try {
        await ctx.client.writeFile(r.path, "", { flag: "wx" });
        created = true;
      } catch (err) {
        this.locks.release(lock.token);
        throw err;
      }
    }
    this.send(ctx, created ? 201 : 200, this.lockBody(lock), { "Lock-Token": `<${lock.token}>` });
  }

  private lockBody(lock: Lock): string {
    return `<?xml version="1.0" encoding="utf-8"?>\n<D:prop xmlns:D="DAV:"><D:lockdiscovery>${activeLockXml(lock)}</D:lockdiscovery></D:prop>`;
  }

  private unlock(ctx: Ctx): void {
    const header = ctx.req.headers["lock-token"];
    const m = typeof header === "string" ? /^\s*<([^>]+)>\s*$/.exec(header) : null;
    if (!m) throw new Reply(400, "UNLOCK needs a Lock-Token header: <token>");
    const lock = this.locks.get(m[1]!);
    if (!lock || !(lock.root === ctx.path || (lock.depth === "infinity" && within(ctx.path, lock.root))))
      throw new Reply(
        409,
        `<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:"><D:lock-token-matches-request-uri/></D:error>`,
      );
    if (lock.principal !== ctx.principal) throw new Reply(403, "that lock belongs to another principal");
    this.locks.release(lock.token);
    this.send(ctx, 204);
  }
}
