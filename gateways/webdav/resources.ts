/**
 * What a WebDAV URL names: a path of the live tree, a path read as of a point in history
 * (`name@@<point>`, `/.strata/as-of/<tid|time>/…`, `/.strata/snapshots/<name>/…`, read-only, through
 * core/namespace/as-of-names.ts), or one of the synthetic `/.strata` directories. Also the
 * properties computed from a resource (the live properties of RFC 4918 §15, plus strata's tid
 * and ino) and the dead properties kept as xattrs.
 */
import { isStrataError, strataError } from "../../core/errors.ts";
import { CONTROL_DIR, resolveAsOfName } from "../../core/namespace/as-of-names.ts";
import type { Strata, StrataReader, StrataStats } from "../../sdk/index.ts";
import { clark, DAV, escapeXml } from "./xml.ts";

/** strata's own live properties (read-only): the version's TID and the object id. */
export const STRATA_NS = "urn:strata:webdav";

/** Dead properties live in xattrs named `user.webdav.{namespace}name` holding the value as XML. */
export const DEAD_PREFIX = "user.webdav.";

export type Resource =
  | { kind: "control"; dir: "root" | "as-of" | "snapshots"; clientPath: string }
  | {
      kind: "node";
      clientPath: string;
      /** The namespace path. */
      path: string;
      view: StrataReader;
      readOnly: boolean;
      /** Absent: nothing at that path. */
      stat?: StrataStats;
    };

/** Split a request path ("/a/b%20c/") into its decoded client path ("/a/b c"); `..` is EINVAL. */
export function clientPathOf(rawPath: string): string {
  const parts: string[] = [];
  for (const seg of rawPath.split("/")) {
    if (seg === "") continue;
    let name: string;
    try {
      name = decodeURIComponent(seg);
    } catch (err) {
      throw strataError("EINVAL", `bad percent-encoding in ${rawPath}`, { path: rawPath }, err);
    }
    if (name === "." || name === ".." || name.includes("/") || name.includes("\u0000"))
      throw strataError("EINVAL", `${rawPath}: a path segment cannot be . or .. or hold / or NUL`, {
        path: rawPath,
      });
    parts.push(name);
  }
  return `/${parts.join("/")}`;
}

export function joinPath(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

export function parentOf(path: string): string {
  const at = path.lastIndexOf("/");
  return at <= 0 ? "/" : path.slice(0, at);
}

/** A client path as an href: each segment percent-encoded (RFC 3986 pchar kept), collections with a slash. */
export function hrefOf(clientPath: string, collection: boolean): string {
  const encoded = clientPath
    .split("/")
    .map((s) => encodeURIComponent(s).replace(/%40/g, "@").replace(/%3A/g, ":"))
    .join("/");
  return collection && !encoded.endsWith("/") ? `${encoded}/` : encoded;
}

async function statOf(view: StrataReader, path: string): Promise<StrataStats | undefined> {
  try {
    return await view.stat(path);
  } catch (err) {
    if (!isStrataError(err, "ENOENT")) throw err;
  }
  // A dangling symlink still names something (shown as an empty file).
  try {
    return await view.lstat(path);
  } catch (err) {
    if (isStrataError(err, "ENOENT") || isStrataError(err, "ENOTDIR")) return undefined;
    throw err;
  }
}

/** The resource a client path names, stat'ed (ENOENT from the as-of names: a bad point under /.strata). */
export async function locate(client: Strata, clientPath: string): Promise<Resource> {
  const name = resolveAsOfName(clientPath);
  if (name.kind === "control") return { kind: "control", dir: name.dir, clientPath };
  const view: StrataReader = name.asOf === undefined ? client : client.asOf(name.asOf);
  let stat: StrataStats | undefined;
  try {
    stat = await statOf(view, name.path);
  } catch (err) {
    if (!isStrataError(err, "ENOTDIR")) throw err;
  }
  return {
    kind: "node",
    clientPath,
    path: name.path,
    view,
    readOnly: name.readOnly,
    ...(stat ? { stat } : {}),
  };
}

export function exists(r: Resource): boolean {
  return r.kind === "control" || r.stat !== undefined;
}

export function isCollection(r: Resource): boolean {
  return r.kind === "control" || r.stat?.type === "dir";
}

/** The ETag of a resource version: the object and the TID of its version (strong: a new version, a new tag). */
export function etagOf(r: Resource): string | undefined {
  if (r.kind !== "node" || !r.stat) return undefined;
  return `"${r.stat.ino}-${r.stat.tid}"`;
}

/** The members of a collection: child client paths (the root hides /.strata, reachable by name). */
export async function members(client: Strata, r: Resource): Promise<string[]> {
  if (r.kind === "control") {
    if (r.dir === "root") return ["as-of", "snapshots"].map((n) => joinPath(r.clientPath, n));
    if (r.dir === "as-of") return [];
    return (await client.snapshots.list()).map((s) => joinPath(r.clientPath, s.name));
  }
  if (r.stat?.type !== "dir") return [];
  const names = await r.view.readdir(r.path);
  return names
    .filter((n) => !(r.clientPath === "/" && n === CONTROL_DIR))
    .map((n) => joinPath(r.clientPath, n));
}

const TYPES: Record<string, string> = {
  txt: "text/plain",
  html: "text/html",
  htm: "text/html",
  css: "text/css",
  js: "text/javascript",
  json: "application/json",
  xml: "application/xml",
  pdf: "application/pdf",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  svg: "image/svg+xml",
  md: "text/markdown",
  csv: "text/csv",
  zip: "application/zip",
  gz: "application/gzip",
  tar: "application/x-tar",
  mp4: "video/mp4",
  exr: "image/x-exr",
};

export function contentTypeOf(clientPath: string): string {
  const dot = clientPath.lastIndexOf(".");
  const ext = dot > clientPath.lastIndexOf("/") ? clientPath.slice(dot + 1).toLowerCase() : "";
  return TYPES[ext] ?? "application/octet-stream";
}

/** The live properties this server computes, by `{ns}name` (lock properties are the server's). */
export const LIVE = [
  clark(DAV, "creationdate"),
  clark(DAV, "displayname"),
  clark(DAV, "getcontentlength"),
  clark(DAV, "getcontenttype"),
  clark(DAV, "getetag"),
  clark(DAV, "getlastmodified"),
  clark(DAV, "resourcetype"),
  clark(DAV, "lockdiscovery"),
  clark(DAV, "supportedlock"),
  clark(STRATA_NS, "tid"),
  clark(STRATA_NS, "ino"),
] as const;

/** Every name in the DAV: namespace is protected: a PROPPATCH of one answers 403. */
export function isProtected(ns: string, _name: string): boolean {
  return ns === DAV || ns === STRATA_NS;
}

/**
 * A live property's value as inner XML, or undefined when the resource has no such property
 * (getcontentlength of a collection, every property of /.strata but the basic ones).
 */
export function liveValue(r: Resource, key: string): string | undefined {
  const collection = isCollection(r);
  const stat = r.kind === "node" ? r.stat : undefined;
  const segs = r.clientPath.split("/");
  switch (key) {
    case clark(DAV, "resourcetype"):
      return collection ? "<D:collection/>" : "";
    case clark(DAV, "displayname"):
      return escapeXml(segs[segs.length - 1] ?? "");
    case clark(DAV, "creationdate"):
      return stat ? new Date(stat.birthtimeMs).toISOString() : undefined;
    case clark(DAV, "getlastmodified"):
      return stat ? new Date(stat.mtimeMs).toUTCString() : undefined;
    case clark(DAV, "getcontentlength"):
      return stat && !collection ? String(stat.type === "file" ? stat.size : 0) : undefined;
    case clark(DAV, "getcontenttype"):
      return stat && !collection ? contentTypeOf(r.clientPath) : undefined;
    case clark(DAV, "getetag"):
      return stat ? escapeXml(etagOf(r) ?? "") : undefined;
    case clark(STRATA_NS, "tid"):
      return stat?.tid;
    case clark(STRATA_NS, "ino"):
      return stat?.ino;
    default:
      return undefined;
  }
}

/** Dead properties of a resource: `{ns}name` → value (self-contained XML). */
export async function deadProps(r: Resource): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (r.kind !== "node" || !r.stat) return out;
  const names = (await r.view.listxattr(r.path)).filter((n) => n.startsWith(DEAD_PREFIX));
  const values = await Promise.all(names.map((n) => r.view.getxattr(r.path, n)));
  names.forEach((n, i) => {
    out.set(n.slice(DEAD_PREFIX.length), Buffer.from(values[i]!).toString("utf8"));
  });
  return out;
}

/** `{ns}name` → its parts. */
export function splitClark(key: string): { ns: string; name: string } {
  const end = key.lastIndexOf("}");
  return { ns: key.slice(1, end), name: key.slice(end + 1) };
}
