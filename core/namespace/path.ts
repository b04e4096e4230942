/**
 * Path canonicalisation, done once per call before anything is read or written.
 *
 * Rules (docs/namespace.md, "Paths"):
 * - Paths are absolute ('/'-separated, leading '/'); a relative path is EINVAL.
 * - Empty components collapse ('//a///b' = '/a/b'); '.' is dropped.
 * - '..' is resolved LEXICALLY on the path as written ('/a/b/../c' = '/a/c', '/..' = '/'),
 *   before any lookup — like URLs and Go's path.Clean, unlike POSIX (which walks the real
 *   parent after symlinks). Symlink targets are joined to the link's directory path and then
 *   cleaned by the same rule.
 * - A name is at most {@link NAME_MAX} UTF-8 bytes (ENAMETOOLONG); a whole path at most
 *   {@link PATH_MAX} bytes (ENAMETOOLONG) and at most {@link PATH_DEPTH_MAX} components once
 *   cleaned (ENAMETOOLONG: each level costs lookups — resolution and placement walk every
 *   ancestor — so one request's work stays bounded); NUL anywhere is EINVAL.
 * - Names are stored exactly as given: no Unicode normalisation, so NFC "é" (U+00E9) and NFD
 *   "é" (U+0065 U+0301) are two different names, and names sort by UTF-8 bytes.
 */
import { strataError } from "../errors.ts";
import { utf8Length, wellFormed } from "../metadata/values.ts";

export const NAME_MAX = 255;
export const PATH_MAX = 4096;
/** Most components a path may have (its depth); `mkdir -p` of a deeper path is refused up front. */
export const PATH_DEPTH_MAX = 128;

/** Checks one directory-entry name (no '/', not '.' or '..', 1..255 bytes, no NUL). */
export function checkName(name: string, path = name): void {
  if (typeof name !== "string" || name.length === 0)
    throw strataError("EINVAL", "a name must be a non-empty string", { path });
  if (name.includes("\u0000")) throw strataError("EINVAL", "a name cannot contain NUL", { path });
  if (!wellFormed(name)) throw strataError("EINVAL", "a name cannot hold a lone UTF-16 surrogate", { path });
  if (name.includes("/")) throw strataError("EINVAL", `name ${JSON.stringify(name)} contains '/'`, { path });
  if (name === "." || name === "..")
    throw strataError("EINVAL", `'${name}' cannot be used as a name`, { path });
  if (utf8Length(name) > NAME_MAX)
    throw strataError("ENAMETOOLONG", `a name is longer than ${NAME_MAX} UTF-8 bytes`, { path });
}

/** Splits and canonicalises an absolute path into its components ([] is the root). */
export function parsePath(path: string): string[] {
  if (typeof path !== "string") throw strataError("EINVAL", "a path must be a string", { path });
  if (!path.startsWith("/"))
    throw strataError("EINVAL", `path ${JSON.stringify(path)} is not absolute (start it with '/')`, { path });
  if (path.includes("\u0000")) throw strataError("EINVAL", "a path cannot contain NUL", { path });
  if (!wellFormed(path))
    throw strataError("EINVAL", "a path cannot hold a lone UTF-16 surrogate (it has no UTF-8 form)", {
      path,
    });
  if (utf8Length(path) > PATH_MAX)
    throw strataError("ENAMETOOLONG", `a path is longer than ${PATH_MAX} UTF-8 bytes`, { path });
  const components = cleanComponents(path.split("/"), path);
  if (components.length > PATH_DEPTH_MAX)
    throw strataError(
      "ENAMETOOLONG",
      `a path is deeper than ${PATH_DEPTH_MAX} components (it has ${components.length}); the depth limit bounds one request's work`,
      { path, limit: PATH_DEPTH_MAX, depth: components.length },
    );
  return components;
}

/** Applies the '.', '..' and empty-component rules to raw components. */
export function cleanComponents(raw: string[], path: string): string[] {
  const out: string[] = [];
  for (const part of raw) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      out.pop();
      continue;
    }
    if (utf8Length(part) > NAME_MAX)
      throw strataError("ENAMETOOLONG", `a name is longer than ${NAME_MAX} UTF-8 bytes`, { path });
    out.push(part);
  }
  return out;
}

/** The canonical string form of components. */
export function formatPath(components: readonly string[]): string {
  return "/" + components.join("/");
}

/**
 * Where following a symlink leads: an absolute target replaces the path; a relative one is
 * joined to the directory holding the link. `rest` are the components after the link.
 */
export function followTarget(linkDir: readonly string[], target: string, rest: readonly string[]): string[] {
  const joined = target.startsWith("/") ? target.split("/") : [...linkDir, ...target.split("/")];
  return [...cleanComponents(joined, target), ...rest];
}

/** True when `inner` is `outer` or lies below it. */
export function isWithin(inner: readonly string[], outer: readonly string[]): boolean {
  return outer.length <= inner.length && outer.every((c, i) => inner[i] === c);
}
