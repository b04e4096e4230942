/**
 * The compiled CLI (scripts/build-cli.mjs, issue 20 item 3): what each way of running strata
 * loads at start, read from the build's import graph (no timing), and when cli/bin.mjs runs the
 * compiled code rather than the sources.
 */
import { mkdir, rm, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: plain JavaScript without type declarations (it runs before any TypeScript).
import { compiledCli } from "../../cli/launch.mjs";
// @ts-expect-error: plain JavaScript without type declarations (a build script).
import { buildCli } from "../../scripts/build-cli.mjs";
import { tempDir } from "./cli-helpers.ts";

type Outputs = Record<string, { entryPoint?: string; imports: string[] }>;

/** Every module an output file loads before its code runs: its static imports, transitively. */
function staticClosure(outputs: Outputs, file: string): Set<string> {
  const seen = new Set<string>();
  const visit = (f: string) => {
    for (const i of outputs[f]?.imports ?? []) {
      if (seen.has(i)) continue;
      seen.add(i);
      visit(i);
    }
  };
  visit(file);
  return seen;
}

/** The npm packages (not node: builtins, not our own chunks) in a closure. */
const packages = (closure: Set<string>) =>
  [...closure].filter((m) => !m.startsWith("node:") && !m.endsWith(".js")).sort();

const outputOf = (outputs: Outputs, entry: string) =>
  Object.entries(outputs).find(([, o]) => o.entryPoint === entry)?.[0];

describe("the compiled CLI", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let split: { outputs: Outputs; inputs: string[] };
  let single: { outputs: Outputs };

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("strata-cli-build-"));
    split = await buildCli({ out: path.join(dir, "split") });
    single = await buildCli({ out: path.join(dir, "single"), splitting: false });
  }, 120_000);
  afterAll(() => cleanup());

  it("`strata --help` and every command's parsing load no npm package, only node: builtins", () => {
    expect(split.inputs).toContain("cli/main.ts");
    expect(packages(staticClosure(split.outputs, "main.js"))).toEqual([]);
  });

  it("a client of a server (sdk/remote.ts) loads no npm package; only the embedded deployment loads SQLite", () => {
    const remote = outputOf(split.outputs, "sdk/remote.ts");
    const embedded = outputOf(split.outputs, "runtime/embedded.ts");
    expect(remote && embedded).toBeTruthy();
    expect(packages(staticClosure(split.outputs, remote!))).toEqual([]);
    expect(packages(staticClosure(split.outputs, embedded!))).toContain("better-sqlite3");
  });

  it("counter-check: built without code splitting, --help would load SQLite and the cloud SDKs", () => {
    const loaded = packages(staticClosure(single.outputs, "main.js"));
    expect(loaded).toContain("better-sqlite3");
    expect(loaded).toContain("@aws-sdk/client-s3");
  });

  it("the compiled code runs: --help from the build prints what the sources print", async () => {
    const { runCli } = await import(pathToFileURL(path.join(dir, "split", "main.js")).href);
    const { capture } = await import("./cli-helpers.ts");
    const { mainHelp } = await import("../../cli/main.ts");
    const stdout = capture();
    expect(await runCli(["--help"], { stdout, stderr: capture(), env: {}, cwd: dir })).toBe(0);
    expect(stdout.text()).toBe(mainHelp());
  });
});

describe("cli/bin.mjs: compiled or sources", () => {
  let root: string;
  let cleanup: () => Promise<void>;
  const at = (seconds: number) => new Date(seconds * 1000);

  beforeAll(async () => {
    ({ dir: root, cleanup } = await tempDir("strata-cli-launch-"));
    await mkdir(path.join(root, "dist/cli"), { recursive: true });
    await mkdir(path.join(root, "cli"));
    // Built at t = 1,000 s from cli/a.ts; mtimes set explicitly (no wall clock involved).
    await writeFile(
      path.join(root, "dist/cli/manifest.json"),
      JSON.stringify({ builtAt: 1_000_000, inputs: ["cli/a.ts"], outputs: {} }),
    );
    await writeFile(path.join(root, "dist/cli/main.js"), "export {};\n");
    await writeFile(path.join(root, "cli/a.ts"), "export {};\n");
    await utimes(path.join(root, "dist/cli/main.js"), at(1_001), at(1_001));
  });
  afterAll(() => cleanup());

  const pick = (env: Record<string, string> = {}) => compiledCli(pathToFileURL(`${root}/`), env)?.pathname;

  it("runs the build while no source it was built from is newer", async () => {
    await utimes(path.join(root, "cli/a.ts"), at(900), at(900));
    expect(pick()).toBe(path.join(root, "dist/cli/main.js"));
  });

  it("runs the sources when a source changed after the build, when asked to, or when a source is gone", async () => {
    await utimes(path.join(root, "cli/a.ts"), at(1_100), at(1_100));
    expect(pick()).toBeUndefined();
    await utimes(path.join(root, "cli/a.ts"), at(900), at(900));
    expect(pick({ STRATA_CLI_SOURCE: "1" })).toBeUndefined();
    await rm(path.join(root, "cli/a.ts"));
    expect(pick()).toBeUndefined();
  });
});
