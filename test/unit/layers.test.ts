/**
 * The layer table of DESIGN.md and "no import circles", as .dependency-cruiser.cjs encodes them
 * (`npm run check:layers`, part of `npm run lint`). Proves three things:
 * - the tree passes, and only thanks to the listed temporary exceptions, each of which names an
 *   edge that really violates its rule (so a fixed edge's exception cannot linger);
 * - on a synthetic tree, every pair of layers is allowed or refused exactly as the table says,
 *   node builtins and npm packages are refused in core/, and a circle is reported;
 * - an exception exempts exactly its file pair, not the file.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const configPath = join(root, ".dependency-cruiser.cjs");
const depcruise = join(root, "node_modules/dependency-cruiser/bin/dependency-cruise.mjs");

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}
interface Cruise {
  summary: { violations: Violation[] };
  modules: Array<{
    source: string;
    dependencies: Array<{ resolved: string; rules?: Array<{ name: string }> }>;
  }>;
}

/** Run the CLI as `npm run check:layers` does, on `cwd`, and return its JSON report. */
function cruise(cwd: string, env: Record<string, string> = {}): Promise<Cruise> {
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      [depcruise, "--config", configPath, "--output-type", "json", "."],
      { cwd, env: { ...process.env, ...env }, maxBuffer: 256 * 1024 * 1024 },
      // Exit code ≠ 0 when there are violations: the JSON report is on stdout either way.
      (err, stdout, stderr) => {
        if (stdout.trim().startsWith("{")) done(JSON.parse(stdout) as Cruise);
        else fail(new Error(`depcruise failed: ${stderr || err?.message}`));
      },
    );
  });
}

const edges = (c: Cruise) => c.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort();

const LONG = 180_000;

describe("the layer check on this tree", () => {
  let report: Cruise;
  beforeAll(async () => {
    report = await cruise(root);
  }, LONG);

  it("passes: no import outside the layer table and no circle", () => {
    expect(edges(report)).toEqual([]);
  });

  it("reads this tree's imports, dynamic ones included (counter-check: a check that saw nothing would pass too)", () => {
    expect(report.modules.length).toBeGreaterThan(300);
    const connect = report.modules.find((m) => m.source === "sdk/connect.ts");
    expect(connect?.dependencies.map((d) => d.resolved)).toContain("runtime/embedded.ts");
  });
});

describe("the layer check on a synthetic tree", () => {
  const LAYERS = [
    "core",
    "adapters",
    "runtime",
    "functions",
    "sdk",
    "cli",
    "stacks",
    "standins",
    "test",
    "bench",
  ];
  /** DESIGN.md's table: what each layer may import (besides itself). */
  const ALLOWED: Record<string, string[]> = {
    core: [],
    adapters: ["core"],
    runtime: ["core", "adapters", "sdk", "standins"],
    functions: ["core", "adapters", "runtime"],
    sdk: ["core"],
    cli: ["core", "sdk"],
    stacks: ["core"],
    standins: ["core"],
    test: LAYERS,
    bench: LAYERS,
  };
  let dir: string;
  let report: Cruise;
  const file = async (path: string, text: string) => {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-layers-"));
    await symlink(join(root, "node_modules"), join(dir, "node_modules"), "dir");
    for (const to of LAYERS) await file(`${to}/leaf.ts`, "export const leaf = 1;\n");
    // One file per ordered pair of layers, importing the other layer's leaf.
    for (const from of LAYERS)
      for (const to of LAYERS)
        if (from !== to) await file(`${from}/to-${to}.ts`, `import "../${to}/leaf.ts";\n`);
    // Outside packages: core refuses node builtins and SDKs, adapters take both.
    await file("core/to-node.ts", 'import "node:fs";\n');
    await file("core/to-aws-sdk.ts", 'import "@aws-sdk/client-dynamodb";\n');
    await file("adapters/to-node-and-aws-sdk.ts", 'import "node:fs";\nimport "@aws-sdk/client-dynamodb";\n');
    // The two places that may use what their layer otherwise may not.
    await file("functions/mirror/sources.ts", 'import "../../sdk/leaf.ts";\n');
    await file("functions/local/stand-ins.ts", 'import "../../standins/leaf.ts";\n');
    // A circle inside one layer.
    await file("core/circle-a.ts", 'import "./circle-b.ts";\nexport const a = 1;\n');
    await file("core/circle-b.ts", 'import "./circle-a.ts";\nexport const b = 1;\n');
    // Embedded mode: sdk/connect.ts loads runtime/embedded.ts, which loads functions/api/, on demand.
    await file("sdk/connect.ts", 'export const local = () => import("../runtime/embedded.ts");\n');
    await file(
      "runtime/embedded.ts",
      'export const admin = () => import("../functions/api/leaf.ts");\n' +
        'export const other = () => import("../functions/local/leaf.ts");\n',
    );
    await file("functions/api/leaf.ts", "export const api = 1;\n");
    await file("functions/local/leaf.ts", "export const local = 1;\n");
    report = await cruise(dir);
  }, LONG);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("allows and refuses each pair of layers exactly as the table says", () => {
    const refused = new Set(
      report.summary.violations
        .filter((v) => /^[a-z]+\/to-[a-z]+\.ts$/.test(v.from) && v.to.endsWith("/leaf.ts"))
        .map((v) => `${v.from.split("/")[0]} → ${v.to.split("/")[0]}`),
    );
    const expected = new Set(
      LAYERS.flatMap((from) =>
        LAYERS.filter((to) => to !== from && !ALLOWED[from]!.includes(to)).map((to) => `${from} → ${to}`),
      ),
    );
    expect([...refused].sort()).toEqual([...expected].sort());
  });

  it("refuses node builtins and npm packages in core/, allows them in adapters/", () => {
    const from = (f: string) => report.summary.violations.filter((v) => v.from === f).map((v) => v.rule.name);
    expect(from("core/to-node.ts")).toEqual(["core-is-pure"]);
    expect(from("core/to-aws-sdk.ts")).toEqual(["core-is-pure"]);
    expect(from("adapters/to-node-and-aws-sdk.ts")).toEqual([]);
  });

  it("lets functions/mirror/sources.ts use the sdk and functions/local/ start stand-ins", () => {
    const froms = report.summary.violations.map((v) => v.from);
    expect(froms).not.toContain("functions/mirror/sources.ts");
    expect(froms).not.toContain("functions/local/stand-ins.ts");
    // …while any other function may not (the pairwise probe above).
    expect(froms).toContain("functions/to-sdk.ts");
    expect(froms).toContain("functions/to-standins.ts");
  });

  it("reports an import circle", () => {
    const circle = report.summary.violations.filter((v) => v.rule.name === "no-import-circles");
    expect(circle.map((v) => v.from)).toEqual(expect.arrayContaining(["core/circle-a.ts"]));
  });

  it("allows embedded mode's dynamic imports, and from runtime/embedded.ts only into functions/api/", () => {
    const from = (f: string) => report.summary.violations.filter((v) => v.from === f).map((v) => v.to);
    expect(from("sdk/connect.ts")).toEqual([]);
    expect(from("runtime/embedded.ts")).toEqual(["functions/local/leaf.ts"]);
  });

  it(
    "refuses the same edges as static imports (counter-check of the allowance above)",
    async () => {
      const statics = await mkdtemp(join(tmpdir(), "strata-layers-static-"));
      try {
        await symlink(join(root, "node_modules"), join(statics, "node_modules"), "dir");
        const put = async (path: string, text: string) => {
          await mkdir(dirname(join(statics, path)), { recursive: true });
          await writeFile(join(statics, path), text);
        };
        await put("sdk/connect.ts", 'import "../runtime/embedded.ts";\n');
        await put("runtime/embedded.ts", 'import "../functions/api/leaf.ts";\nexport const e = 1;\n');
        await put("functions/api/leaf.ts", "export const api = 1;\n");
        const found = edges(await cruise(statics));
        expect(found).toEqual([
          "runtime-imports-core-adapters-sdk: runtime/embedded.ts → functions/api/leaf.ts",
          "sdk-and-cli-speak-http: sdk/connect.ts → runtime/embedded.ts",
        ]);
      } finally {
        await rm(statics, { recursive: true, force: true });
      }
    },
    LONG,
  );
});
