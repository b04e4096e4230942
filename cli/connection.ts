/**
 * Finding the deployment the CLI talks to, in this order:
 * 1. `--local <dir>`: an embedded deployment in `dir` (no server);
 * 2. `--endpoint` (or `STRATA_ENDPOINT`) with `--token` (or `STRATA_TOKEN`);
 * 3. `connection.json` ({ endpoint, token, pfs }) that `npm start` writes, in `$STRATA_HOME`,
 *    then in `.strata/` of this directory or the nearest parent that has one (as git finds `.git`).
 * The PFS is `--pfs`, else `STRATA_PFS`, else the file's `pfs`, else "default".
 */
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { isStrataError, strataError } from "../core/errors.ts";
import { connect, DEFAULT_PFS, type Strata } from "../sdk/index.ts";

export type Target =
  | { kind: "local"; dir: string; pfs: string }
  | { kind: "remote"; endpoint: string; token?: string; pfs: string; source: string };

export interface TargetFlags {
  local?: string;
  endpoint?: string;
  token?: string;
  pfs?: string;
}

export const CONNECTION_FILE = "connection.json";

export async function findTarget(
  flags: TargetFlags,
  env: Record<string, string | undefined>,
  cwd: string,
): Promise<Target> {
  const pfsFromUser = nonEmpty(flags.pfs) ?? nonEmpty(env.STRATA_PFS);
  if (nonEmpty(flags.local)) {
    return { kind: "local", dir: resolve(cwd, flags.local!), pfs: pfsFromUser ?? DEFAULT_PFS };
  }
  const endpoint = nonEmpty(flags.endpoint) ?? nonEmpty(env.STRATA_ENDPOINT);
  if (endpoint) {
    const token = nonEmpty(flags.token) ?? nonEmpty(env.STRATA_TOKEN);
    const source = nonEmpty(flags.endpoint) ? "--endpoint" : "STRATA_ENDPOINT";
    return { kind: "remote", endpoint, token, pfs: pfsFromUser ?? DEFAULT_PFS, source };
  }
  const files = connectionFiles(env, cwd);
  for (const file of files) {
    const saved = await readConnectionFile(file);
    if (saved) {
      return {
        kind: "remote",
        endpoint: saved.endpoint,
        // An explicit token (e.g. a read-only one) beats the admin token npm start saved.
        token: nonEmpty(flags.token) ?? nonEmpty(env.STRATA_TOKEN) ?? saved.token,
        pfs: pfsFromUser ?? saved.pfs ?? DEFAULT_PFS,
        source: file,
      };
    }
  }
  throw strataError(
    "EINVAL",
    "no strata deployment found: run `npm start` (it writes .strata/connection.json, which the CLI " +
      "reads from $STRATA_HOME, this directory or a parent), or pass --endpoint <url> --token <token> " +
      "(or set STRATA_ENDPOINT and STRATA_TOKEN), or use --local <dir> for an embedded deployment without a server",
    { reason: "no-deployment", looked: files },
  );
}

/**
 * Where a saved connection may be, in order: `$STRATA_HOME/connection.json`, then
 * `<dir>/.strata/connection.json` for `cwd` and each parent up to the root (the nearest wins).
 */
export function connectionFiles(env: Record<string, string | undefined>, cwd: string): string[] {
  const files: string[] = [];
  const home = nonEmpty(env.STRATA_HOME);
  if (home) files.push(join(resolve(cwd, home), CONNECTION_FILE));
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    files.push(join(dir, ".strata", CONNECTION_FILE));
    if (dirname(dir) === dir) break;
  }
  return files;
}

async function readConnectionFile(
  file: string,
): Promise<{ endpoint: string; token?: string; pfs?: string } | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw strataError("EIO", `cannot read ${file}: ${(err as Error).message}`, { file }, err);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw strataError(
      "EINVAL",
      `${file} is not JSON; restart \`npm start\` to rewrite it, or delete it and pass --endpoint`,
      { file },
      err,
    );
  }
  const saved = parsed as { endpoint?: unknown; token?: unknown; pfs?: unknown };
  if (typeof saved?.endpoint !== "string" || saved.endpoint.length === 0) {
    throw strataError(
      "EINVAL",
      `${file} has no "endpoint"; restart \`npm start\` to rewrite it, or pass --endpoint`,
      { file },
    );
  }
  return {
    endpoint: saved.endpoint,
    token: typeof saved.token === "string" ? saved.token : undefined,
    pfs: typeof saved.pfs === "string" ? saved.pfs : undefined,
  };
}

export async function openTarget(target: Target): Promise<Strata> {
  if (target.kind === "local") return connect({ local: target.dir, pfs: target.pfs });
  try {
    return await connect({ endpoint: target.endpoint, token: target.token, pfs: target.pfs });
  } catch (err) {
    if (isStrataError(err, "ENOTSUP")) {
      throw strataError(
        "ENOTSUP",
        `this SDK cannot reach a server yet (${target.endpoint}, from ${target.source}); use --local <dir> for an embedded deployment`,
        { endpoint: target.endpoint },
        err,
      );
    }
    throw err;
  }
}

/** Where the CLI is pointed, for `status` and messages. */
export function describeTarget(target: Target): string {
  return target.kind === "local"
    ? `embedded deployment in ${target.dir}, PFS ${target.pfs}`
    : `${target.endpoint} (from ${target.source}), PFS ${target.pfs}`;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.length === 0 ? undefined : value;
}
