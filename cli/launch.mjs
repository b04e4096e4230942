// Which CLI cli/bin.mjs runs (plain JavaScript: it decides before any TypeScript is loaded).
import { readFileSync, statSync } from "node:fs";

/**
 * The compiled CLI (`<root>/dist/cli/main.js`, scripts/build-cli.mjs) when it exists and none of
 * the source files it was built from (its manifest's `inputs`) is newer than the build;
 * undefined otherwise, and with STRATA_CLI_SOURCE set: then the sources run through tsx.
 * @param {URL} root the package's root directory (with a trailing slash)
 * @param {Record<string, string | undefined>} env
 * @returns {URL | undefined}
 */
export function compiledCli(root, env) {
  if (env.STRATA_CLI_SOURCE) return undefined;
  try {
    const dist = new URL("dist/cli/", root);
    const manifest = JSON.parse(readFileSync(new URL("manifest.json", dist), "utf8"));
    const main = new URL("main.js", dist);
    if (statSync(main).mtimeMs < manifest.builtAt) return undefined;
    for (const input of manifest.inputs) {
      if (statSync(new URL(input, root)).mtimeMs > manifest.builtAt) return undefined;
    }
    return main;
  } catch {
    // No build, or a source it lists is gone: run the sources.
    return undefined;
  }
}
