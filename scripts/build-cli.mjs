#!/usr/bin/env node
/**
 * Compile the `strata` CLI to JavaScript (`npm run build`; `prepare` runs it on `npm ci`,
 * `npm install` of a clone and `npm pack`), so the command starts without loading TypeScript
 * through tsx (docs/cli.md "Start-up").
 *
 * Output: dist/cli/main.js and its chunks (esbuild, ESM, code split at every dynamic import, so
 * `strata --help` loads no npm package and `--endpoint` never loads SQLite or the volume SDKs;
 * npm packages stay external). dist/cli/manifest.json lists the source files the bundle was built
 * from and when: cli/bin.mjs uses the bundle only while none of them is newer (an edited checkout
 * falls back to the sources through tsx, never to stale code).
 *
 * esbuild is the one tsx already depends on (no new dependency).
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("../", import.meta.url));

/**
 * Build into `out` (default dist/cli). `splitting: false` is test-only: one file with every
 * dynamic import inlined (and its npm packages loaded at start), the counter-check of the
 * start-up test.
 */
export async function buildCli({ out = `${root}dist/cli`, splitting = true } = {}) {
  const builtAt = Date.now();
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: { main: "cli/main.ts" },
    outdir: out,
    bundle: true,
    splitting,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    metafile: true,
    logLevel: "warning",
  });
  const inputs = Object.keys(result.metafile.inputs).sort();
  // Per output file: the modules it imports statically (chunks by file name, npm packages and
  // node: builtins by specifier) and the source module it is the entry of (dynamic imports get
  // their own): what `strata --help` loads is main.js's static closure (test/unit/cli-startup.test.ts).
  const name = (file) => file.slice(file.lastIndexOf("/") + 1);
  const outputs = Object.fromEntries(
    Object.entries(result.metafile.outputs).map(([file, o]) => [
      name(file),
      {
        ...(o.entryPoint ? { entryPoint: o.entryPoint } : {}),
        imports: o.imports
          .filter((i) => i.kind === "import-statement")
          .map((i) => (i.external ? i.path : name(i.path))),
      },
    ]),
  );
  await writeFile(`${out}/manifest.json`, `${JSON.stringify({ builtAt, inputs, outputs }, null, 1)}\n`);
  return { builtAt, inputs, outputs };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { inputs } = await buildCli();
  process.stdout.write(`strata CLI compiled: dist/cli/main.js (${inputs.length} source files)\n`);
}
