/**
 * The WebDAV `If` request header (RFC 4918 §10.4): lists of conditions on lock tokens and
 * entity tags, optionally tagged with the resource they apply to. Pure: parsing here,
 * evaluation by the server against its lock table and the resources' ETags.
 *
 *   If: (<urn:uuid:…> ["etag"]) (Not <DAV:no-lock>)
 *   If: </a/b> (<urn:uuid:…>)
 */
import { strataError } from "../../core/errors.ts";

export interface IfCondition {
  not: boolean;
  /** A state token (a lock token, or e.g. `DAV:no-lock`, which no lock has). */
  token?: string;
  /** An entity tag, as written (quotes and W/ kept). */
  etag?: string;
}

export interface IfList {
  /** The tagged resource (a URL or absolute path); absent: the request URI. */
  resource?: string;
  conditions: IfCondition[];
}

/**
 * Every list of the header (the header is true when any list is true; a list when all of its
 * conditions are). A syntax error is EINVAL (→ 400).
 * @example parseIf("(<urn:uuid:1> [\"e\"])") // [{ conditions: [{ not: false, token: "urn:uuid:1" }, { not: false, etag: "\"e\"" }] }]
 */
export function parseIf(header: string): IfList[] {
  const lists: IfList[] = [];
  let i = 0;
  let resource: string | undefined;
  const fail = (why: string): never => {
    throw strataError("EINVAL", `If header: ${why} at character ${i}: ${header}`);
  };
  const skip = () => {
    while (i < header.length && /\s/.test(header[i]!)) i++;
  };
  const until = (end: string) => {
    const at = header.indexOf(end, i);
    if (at < 0) fail(`missing ${end}`);
    const text = header.slice(i, at);
    i = at + 1;
    return text;
  };
  skip();
  if (i >= header.length) fail("empty");
  while (i < header.length) {
    if (header[i] === "<") {
      i++;
      resource = until(">");
      skip();
      if (header[i] !== "(") fail("a resource tag must be followed by a list");
      continue;
    }
    if (header[i] !== "(") fail("expected ( or <");
    i++;
    const conditions: IfCondition[] = [];
    for (;;) {
      skip();
      if (header[i] === ")") {
        i++;
        break;
      }
      let not = false;
      if (header.slice(i, i + 3).toLowerCase() === "not") {
        not = true;
        i += 3;
        skip();
      }
      if (header[i] === "<") {
        i++;
        conditions.push({ not, token: until(">") });
      } else if (header[i] === "[") {
        i++;
        conditions.push({ not, etag: until("]") });
      } else fail("expected a state token <…> or an entity tag […]");
    }
    if (conditions.length === 0) fail("an empty list");
    lists.push({ ...(resource !== undefined ? { resource } : {}), conditions });
    skip();
  }
  return lists;
}

/** Every state token named anywhere in the header: the lock tokens the request submits. */
export function submittedTokens(lists: IfList[]): Set<string> {
  return new Set(lists.flatMap((l) => l.conditions.flatMap((c) => (c.token !== undefined ? [c.token] : []))));
}

/** Weak comparison of two entity tags (W/ ignored), as If-header matching allows. */
export function sameEtag(a: string, b: string): boolean {
  const strip = (e: string) => e.trim().replace(/^W\//, "");
  return strip(a) === strip(b);
}
