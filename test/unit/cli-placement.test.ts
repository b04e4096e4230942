/**
 * `strata tag set` / `strata placement --wait` when the objectives ask for a site no volume has
 * (issue 20, item 1): the tag is kept with a warning naming the site and the sites that exist;
 * the wait fails at once (exit 1) naming the rule, the site and the sites, with hints that are
 * commands. The CLI runs in-process on an embedded deployment (placement included).
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, tempDir } from "./cli-helpers.ts";

describe("CLI: unsatisfiable placement", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let run: (...args: string[]) => ReturnType<typeof cli>;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("strata-cli-placement-"));
    const data = path.join(dir, "data");
    run = (...args) => cli(["--local", data, ...args], { cwd: dir });
    expect(
      (await run("volume", "add", "earth-disk", "local", `root=${path.join(dir, "earth")}`, "site=earth"))
        .code,
    ).toBe(0);
    await writeFile(path.join(dir, "plate.exr"), new Uint8Array(100_000).fill(7));
    expect((await run("mkdir", "-p", "/show/shot43")).code).toBe(0);
    expect((await run("put", path.join(dir, "plate.exr"), "/show/shot43/plate.exr")).code).toBe(0);
    expect(
      (await run("objective", "set", "/", "when tag:render-site place 1 on site:$tag:render-site")).code,
    ).toBe(0);
  }, 60_000);
  afterAll(() => cleanup());

  it("tag set of a site no volume has is kept, with a warning naming the site and the sites that exist", async () => {
    const r = await run("tag", "set", "/show/shot43", "render-site=gcs-eu");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("warning");
    expect(r.stderr).toContain("site:gcs-eu");
    expect(r.stderr).toContain("earth");
    const json = await run("tag", "set", "/show/shot43", "render-site=gcs-eu", "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({
      key: "render-site",
      value: "gcs-eu",
      warning: expect.any(String),
    });
    expect((await run("tag", "ls", "/show/shot43", "--json")).stdout).toContain("gcs-eu");
  });

  it("placement --wait fails at once (exit 1) naming the rule, the site and the sites; its hints are commands", async () => {
    // --timeout 900: only failing fast ends this test in time (vitest's 60 s limit).
    const r = await run("placement", "/show/shot43", "--wait", "--timeout", "900");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("EINVAL");
    expect(r.stderr).toContain("place 1 on site:$tag:render-site");
    expect(r.stderr).toContain("site:gcs-eu");
    expect(r.stderr).toContain("earth-disk (site earth)");
    expect(r.stderr).toContain("strata tag set /show/shot43/plate.exr render-site=earth");
    const json = await run("placement", "/show/shot43", "--wait", "--json");
    expect(JSON.parse(json.stderr).error).toMatchObject({
      code: "EINVAL",
      details: { reason: "unsatisfiable", sites: ["earth"], rule: { wants: "site:gcs-eu" } },
    });
  }, 60_000);

  it("a tag naming a site that has a volume gives no warning, and the plan then wants that volume", async () => {
    const r = await run("tag", "set", "/show/shot43", "render-site=earth");
    expect(r).toMatchObject({ code: 0, stderr: "" });
    const explained = await run("objective", "explain", "/show/shot43/plate.exr", "--json");
    expect(JSON.parse(explained.stdout).result).toMatchObject({ desired: ["earth-disk"], unsatisfied: [] });
  });
});
