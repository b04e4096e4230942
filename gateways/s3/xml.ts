/**
 * S3's XML: documents written with a tiny escaping builder (element order matters to some
 * clients), request documents read with fast-xml-parser (no entities, no DTDs).
 */
import { XMLParser } from "fast-xml-parser";
import { S3Error } from "./errors.ts";

export const S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/";

/** A node: text, or nested elements (arrays repeat the element). */
export type XmlValue = string | number | boolean | undefined | XmlNode | XmlNode[] | Array<string>;
export interface XmlNode {
  [name: string]: XmlValue;
}

export function escapeXml(text: string): string {
  return text
    .replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
    .replace(
      // Characters XML 1.0 cannot hold even escaped: S3 keys may contain them; encoding-type=url is the cure.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: those are exactly what is replaced
      /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g,
      (c) => `&#${c.charCodeAt(0)};`,
    );
}

function render(name: string, value: XmlValue): string {
  if (value === undefined) return "";
  if (Array.isArray(value)) return value.map((v) => render(name, v as XmlValue)).join("");
  if (typeof value === "object") {
    let inner = "";
    for (const [k, v] of Object.entries(value)) inner += render(k, v);
    return `<${name}>${inner}</${name}>`;
  }
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** `<?xml …?><Root xmlns="…">…</Root>` */
export function xmlDocument(root: string, body: XmlNode): string {
  let inner = "";
  for (const [k, v] of Object.entries(body)) inner += render(k, v);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${S3_NS}">${inner}</${root}>`;
}

export function errorDocument(code: string, message: string, extra: Record<string, string>): string {
  let inner = `<Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message>`;
  for (const [k, v] of Object.entries(extra)) inner += `<${k}>${escapeXml(v)}</${k}>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${inner}</Error>`;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  removeNSPrefix: true,
  isArray: (name) => ["Object", "Part", "Tag"].includes(name),
});

/** A request document's root element, or MalformedXML. */
export function parseXml(text: string, root: string): Record<string, unknown> {
  if (text.length > 2 * 1024 * 1024) throw new S3Error("MalformedXML", "The XML document is too large.");
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(text, true) as Record<string, unknown>;
  } catch {
    throw new S3Error(
      "MalformedXML",
      "The XML you provided was not well-formed or did not validate against our published schema.",
    );
  }
  const node = doc[root];
  if (node === undefined || node === null || typeof node !== "object")
    throw new S3Error(
      "MalformedXML",
      "The XML you provided was not well-formed or did not validate against our published schema.",
    );
  return node as Record<string, unknown>;
}
