/**
 * XML for WebDAV: a namespace-aware reading of request bodies (fast-xml-parser does the syntax,
 * this module resolves `xmlns` scopes, which WebDAV depends on), and the pieces responses are
 * written from. Malformed XML, an unbound prefix or a prefix bound to "" is EINVAL (→ 400).
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { strataError } from "../../core/errors.ts";

export const DAV = "DAV:";

/** An element with its namespace resolved (`ns` "" is the null namespace). */
export interface XmlElement {
  ns: string;
  name: string;
  /** Attributes other than namespace declarations, by `{ns}local` ("" ns: by local name). */
  attrs: Record<string, string>;
  children: XmlNode[];
}
export type XmlNode = XmlElement | { text: string };

export function isElement(node: XmlNode): node is XmlElement {
  return "name" in node;
}

/** The child elements of `el` (text between them dropped). */
export function elements(el: XmlElement): XmlElement[] {
  return el.children.filter(isElement);
}

/** The first child element named {ns}name. */
export function child(el: XmlElement, ns: string, name: string): XmlElement | undefined {
  return elements(el).find((c) => c.ns === ns && c.name === name);
}

/** Text content of an element and its descendants. */
export function textOf(el: XmlElement): string {
  return el.children.map((c) => (isElement(c) ? textOf(c) : c.text)).join("");
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  trimValues: false,
  parseTagValue: false,
  parseAttributeValue: false,
  // Entities are decoded here (the parser leaves numeric references such as &#65536; alone).
  processEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  cdataPropName: "#cdata",
  commentPropName: "#comment",
});

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, ref: string) => {
    if (ref.startsWith("#x")) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith("#")) return String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
    const named = ENTITIES[ref];
    if (named === undefined) throw strataError("EINVAL", `XML body: unknown entity ${whole}`);
    return named;
  });
}

type RawNode = Record<string, unknown>;

/**
 * Parse a request body into its root element with namespaces resolved.
 * @example parseXml("<D:propfind xmlns:D='DAV:'><D:allprop/></D:propfind>").name // "propfind"
 */
export function parseXml(body: string): XmlElement {
  const valid = XMLValidator.validate(body);
  if (valid !== true) throw strataError("EINVAL", `XML body is not well-formed: ${valid.err.msg}`);
  let raw: RawNode[];
  try {
    raw = parser.parse(body) as RawNode[];
  } catch (err) {
    throw strataError("EINVAL", `XML body is not well-formed: ${(err as Error).message}`, {}, err);
  }
  const roots = raw.map((n) => convert(n, new Map([["xml", "http://www.w3.org/XML/1998/namespace"]])));
  const root = roots.find((n): n is XmlElement => n !== undefined && isElement(n));
  if (!root) throw strataError("EINVAL", "XML body has no root element");
  return root;
}

function convert(node: RawNode, scope: Map<string, string>): XmlNode | undefined {
  const attrs = (node[":@"] ?? {}) as Record<string, string>;
  const key = Object.keys(node).find((k) => k !== ":@");
  if (key === undefined || key === "#comment") return undefined;
  if (key === "#text") return { text: decodeEntities(String(node[key])) };
  if (key === "#cdata") {
    const parts = node[key] as RawNode[];
    return { text: parts.map((p) => String(p["#text"] ?? "")).join("") };
  }
  const inner = new Map(scope);
  for (const [name, value] of Object.entries(attrs)) {
    const v = decodeEntities(value);
    if (name === "xmlns") inner.set("", v);
    else if (name.startsWith("xmlns:")) {
      // Namespaces in XML 1.0: a prefix cannot be undeclared (litmus propfind_invalid2).
      if (v === "") throw strataError("EINVAL", `XML body: prefix ${name.slice(6)} is bound to ""`);
      inner.set(name.slice(6), v);
    }
  }
  const { ns, local } = resolveName(key, inner, true);
  const out: XmlElement = { ns, name: local, attrs: {}, children: [] };
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "xmlns" || name.startsWith("xmlns:")) continue;
    const a = resolveName(name, inner, false);
    out.attrs[a.ns === "" ? a.local : `{${a.ns}}${a.local}`] = decodeEntities(value);
  }
  for (const c of (node[key] ?? []) as RawNode[]) {
    const converted = convert(c, inner);
    if (converted) out.children.push(converted);
  }
  return out;
}

function resolveName(qname: string, scope: Map<string, string>, element: boolean) {
  const colon = qname.indexOf(":");
  if (colon < 0) return { ns: element ? (scope.get("") ?? "") : "", local: qname };
  const prefix = qname.slice(0, colon);
  const ns = scope.get(prefix);
  if (ns === undefined) throw strataError("EINVAL", `XML body: prefix ${prefix} is not declared`);
  return { ns, local: qname.slice(colon + 1) };
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"]/g, (c) =>
    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&quot;",
  );
}

/**
 * Nodes as self-contained XML: every element declares its own default namespace, so the text
 * can be stored (a dead property's value) and later placed inside any response unchanged.
 */
export function serializeNodes(nodes: XmlNode[]): string {
  return nodes.map(serializeNode).join("");
}

function serializeNode(node: XmlNode): string {
  if (!isElement(node)) return escapeXml(node.text);
  let declared = 0;
  const attrs = Object.entries(node.attrs).map(([key, value]) => {
    if (!key.startsWith("{")) return ` ${key}="${escapeXml(value)}"`;
    const end = key.lastIndexOf("}");
    const prefix = `a${declared++}`;
    return ` xmlns:${prefix}="${escapeXml(key.slice(1, end))}" ${prefix}:${key.slice(end + 1)}="${escapeXml(value)}"`;
  });
  const open = `<${node.name} xmlns="${escapeXml(node.ns)}"${attrs.join("")}`;
  return node.children.length === 0 ? `${open}/>` : `${open}>${serializeNodes(node.children)}</${node.name}>`;
}

/** `{ns}name` as used for keys and dead-property names. */
export function clark(ns: string, name: string): string {
  return `{${ns}}${name}`;
}
