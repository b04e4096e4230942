/**
 * Listing a PFS as S3 keys, in S3's order (UTF-8 byte order of whole keys), with prefix,
 * delimiter and a resume point. The tree is walked directory by directory; within a directory,
 * names are ordered as the keys they start (`a-b` before `a/…`: a directory sorts as `name/`), so
 * the walk yields keys in key order. With delimiter `/`, a directory under the prefix is one
 * common prefix and is not descended into.
 *
 * A token scoped to a prefix cannot read the directories above it: there the walk goes down
 * the scope's own path only (nothing else is visible to it anyway; the deployment still checks
 * every read).
 */
import { isStrataError, type Strata, type StrataDirent } from "../../sdk/index.ts";
import { dirKey, META_XATTR, parseMeta } from "./objects.ts";

export interface ListItem {
  /** The key, or the common prefix. */
  name: string;
  kind: "file" | "marker" | "prefix";
  /** strata path of a file or marker. */
  path?: string;
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Is `ancestor` a strict ancestor directory of `path`? */
function strictAncestor(ancestor: string, path: string): boolean {
  if (ancestor === path) return false;
  return ancestor === "/" ? path !== "/" : path.startsWith(`${ancestor}/`);
}

export interface WalkOptions {
  prefix: string;
  delimiter?: string;
  /** Resume after this key or common prefix (exclusive). */
  after?: string;
  /** The token's prefix ("/" for a whole-PFS token). */
  scope: string;
}

async function entries(
  client: Strata,
  path: string,
  scope: string,
): Promise<Array<{ name: string; type: string }>> {
  if (strictAncestor(path, scope)) {
    const rest = scope.slice(path === "/" ? 1 : path.length + 1);
    return [{ name: rest.split("/")[0]!, type: "dir" }];
  }
  try {
    return (await client.readdir(path, { withFileTypes: true })) as StrataDirent[];
  } catch (err) {
    // A directory removed while walking, or a path that is not one: nothing under it.
    if (isStrataError(err, "ENOENT") || isStrataError(err, "ENOTDIR")) return [];
    throw err;
  }
}

async function isMarker(client: Strata, path: string): Promise<boolean> {
  try {
    return parseMeta(await client.getxattr(path, META_XATTR))?.marker === true;
  } catch {
    return false;
  }
}

/** The items of a listing, in order, lazily. */
export async function* walk(client: Strata, options: WalkOptions): AsyncGenerator<ListItem> {
  const { prefix, delimiter, after, scope } = options;
  // The deepest directory that holds every key with this prefix.
  const cut = prefix.lastIndexOf("/");
  const startPath = cut < 0 ? "/" : `/${prefix.slice(0, cut)}`;
  if (
    startPath !== "/" &&
    startPath.split("/").some((s, i) => i > 0 && (s === "" || s === "." || s === ".."))
  )
    return;
  let lastPrefix: string | undefined;
  const emit = (item: ListItem): ListItem | undefined => {
    if (!item.name.startsWith(prefix)) return undefined;
    let out = item;
    if (delimiter) {
      const at = item.name.indexOf(delimiter, prefix.length);
      if (at >= 0) out = { name: item.name.slice(0, at + delimiter.length), kind: "prefix" };
    }
    if (after !== undefined && byteOrder(out.name, after) <= 0) return undefined;
    if (out.kind === "prefix") {
      if (out.name === lastPrefix) return undefined;
      lastPrefix = out.name;
    }
    return out;
  };
  async function* dir(path: string): AsyncGenerator<ListItem> {
    const base = dirKey(path);
    const list = (await entries(client, path, scope))
      .filter((e) => e.type === "file" || e.type === "dir")
      .map((e) => ({ ...e, key: base + e.name + (e.type === "dir" ? "/" : "") }))
      .sort((a, b) => byteOrder(a.key, b.key));
    for (const e of list) {
      const childPath = path === "/" ? `/${e.name}` : `${path}/${e.name}`;
      if (e.type === "file") {
        const item = emit({ name: e.key, kind: "file", path: childPath });
        if (item) yield item;
        continue;
      }
      // A directory: skip it when every key under it sorts before the resume point or outside the prefix.
      if (!(prefix.startsWith(e.key) || e.key.startsWith(prefix))) continue;
      if (after !== undefined && byteOrder(e.key, after) < 0 && !after.startsWith(e.key)) continue;
      if (delimiter === "/" && e.key.startsWith(prefix) && e.key.length > prefix.length) {
        // Every key below rolls up into this common prefix: no need to look inside.
        const item = emit({ name: e.key, kind: "prefix" });
        if (item) yield item;
        continue;
      }
      if (!strictAncestor(childPath, scope) && (await isMarker(client, childPath))) {
        const item = emit({ name: e.key, kind: "marker", path: childPath });
        if (item) yield item;
      }
      yield* dir(childPath);
    }
  }
  if (startPath !== "/" && !strictAncestor(startPath, scope) && (await isMarker(client, startPath))) {
    const item = emit({ name: dirKey(startPath), kind: "marker", path: startPath });
    if (item) yield item;
  }
  yield* dir(startPath);
}
