/**
 * litmus (the WebDAV server test suite from neon's author) against the WebDAV gateway in front of
 * a whole local deployment, in remote mode: litmus authenticates with the admin token as its
 * Basic password. The basic, copymove, props, locks and http suites must pass 100 %, with no
 * warning; the counts are printed.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { has, startWebDavFixture, type WebDavFixture } from "../support/webdav.ts";

const SUITES = ["basic", "copymove", "props", "locks", "http"];

interface Summary {
  suite: string;
  run: number;
  passed: number;
  failed: number;
  warnings: number;
}

/** Parse litmus's "<- summary for `x': of N tests run: P passed, F failed." lines. */
export function parseLitmus(output: string): Summary[] {
  const out: Summary[] = [];
  const lines = output.split("\n");
  lines.forEach((line, i) => {
    const m = /summary for `([^']+)': of (\d+) tests run: (\d+) passed, (\d+) failed/.exec(line);
    if (!m) return;
    const next = lines[i + 1] ?? "";
    const w = /-> (\d+) warnings? (?:was|were) issued/.exec(next);
    out.push({
      suite: m[1]!,
      run: Number(m[2]),
      passed: Number(m[3]),
      failed: Number(m[4]),
      warnings: w ? Number(w[1]) : 0,
    });
  });
  return out;
}

describe.skipIf(!has("litmus"))("litmus against the WebDAV gateway", () => {
  let fx: WebDavFixture;
  let cwd: string;
  beforeAll(async () => {
    fx = await startWebDavFixture();
    cwd = await mkdtemp(join(tmpdir(), "strata-litmus-"));
  }, 60_000);
  afterAll(async () => {
    await fx?.dispose();
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  it("passes basic, copymove, props, locks and http 100 % with no warning", async () => {
    const output = await new Promise<string>((resolve, reject) => {
      // litmus <url> <user> <password>; it writes debug.log into its working directory.
      const child = spawn("litmus", [fx.dav.url, "strata", fx.token], {
        cwd,
        env: { ...process.env, TESTS: SUITES.join(" ") },
      });
      let text = "";
      child.stdout.on("data", (d: Buffer) => {
        text += d.toString();
      });
      child.stderr.on("data", (d: Buffer) => {
        text += d.toString();
      });
      child.on("error", reject);
      child.on("close", () => resolve(text));
    });
    const summaries = parseLitmus(output);
    for (const s of summaries)
      console.log(
        `litmus ${s.suite}: ${s.passed}/${s.run} passed, ${s.failed} failed, ${s.warnings} warnings (${((100 * s.passed) / s.run).toFixed(1)} %)`,
      );
    expect(
      summaries.map((s) => s.suite),
      output,
    ).toEqual(SUITES);
    for (const s of summaries) {
      expect(s.failed, `${s.suite}\n${output}`).toBe(0);
      expect(s.passed, s.suite).toBe(s.run);
      expect(s.warnings, `${s.suite}\n${output}`).toBe(0);
    }
  }, 300_000);
});
