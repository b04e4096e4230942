/**
 * Issue 20's rough edges, with the CLI in-process on an embedded deployment: `ls -lh` / `ls -la`
 * (ls(1) habits), `-v`, `rm -r /` asking on a terminal, and `strata completion` scripts that a
 * shell runs.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../cli/main.ts";
import { capture, cli, tempDir } from "./cli-helpers.ts";

const has = (tool: string) => ["/usr/bin", "/bin", "/usr/local/bin"].some((d) => existsSync(`${d}/${tool}`));

describe("CLI rough edges", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let run: (...args: string[]) => ReturnType<typeof cli>;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("strata-cli-edges-"));
    run = (...args) => cli(["--local", path.join(dir, "data"), ...args], { cwd: dir });
    await writeFile(path.join(dir, "big.bin"), new Uint8Array(1536));
    expect((await run("put", path.join(dir, "big.bin"), "/big.bin")).code).toBe(0);
  }, 60_000);
  afterAll(() => cleanup());

  it("ls -lh prints human sizes (not the help); ls -la lists like ls -l; --help still helps", async () => {
    const lh = await run("ls", "-lh", "/");
    expect(lh.code).toBe(0);
    expect(lh.stdout).toMatch(/1\.50 KiB\s+\S+ \S+\s+big\.bin/);
    const la = await run("ls", "-la", "/");
    expect(la).toMatchObject({ code: 0, stderr: "" });
    expect(la.stdout).toMatch(/1536\s+\S+ \S+\s+big\.bin/);
    expect((await run("ls", "--help")).stdout).toContain("strata ls —");
  });

  it("-v and --version print the version", async () => {
    for (const flag of ["-v", "--version"]) {
      const r = await cli([flag]);
      expect(r).toMatchObject({ code: 0 });
      expect(r.stdout).toMatch(/^strata \d+\.\d+\.\d+\n$/);
    }
  });

  async function rmOnTerminal(answer: string) {
    const stdin = Object.assign(Readable.from([`${answer}\n`]), { isTTY: true });
    const stdout = capture();
    const stderr = capture();
    const code = await runCli(["--local", path.join(dir, "data"), "rm", "-r", "/"], {
      stdin,
      stdout,
      stderr,
      env: {},
      cwd: dir,
    });
    return { code, stderr: stderr.text() };
  }

  it("rm -r / on a terminal asks; anything but y removes nothing; y removes and says how to undo", async () => {
    const no = await rmOnTerminal("n");
    expect(no.code).toBe(1);
    expect(no.stderr).toContain("remove EVERYTHING");
    expect(no.stderr).toContain("nothing removed");
    expect((await run("ls", "/")).stdout).toBe("big.bin\n");

    const yes = await rmOnTerminal("y");
    expect(yes.code).toBe(0);
    const undo = /`(strata revert -r \/ --to [0-9a-f]{16})`/.exec(yes.stderr.split("\n").at(-2)!)?.[1];
    expect(undo).toBeDefined();
    expect((await run("ls", "/")).stdout).toBe("");
    // The printed undo is a command that works.
    expect((await run(...undo!.split(" ").slice(1))).code).toBe(0);
    expect((await run("ls", "/")).stdout).toBe("big.bin\n");
  }, 60_000);

  it("rm -r / without a terminal (scripts) or with -f does not ask", async () => {
    const r = await run("rm", "-rf", "/");
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain("[y/N]");
    expect(r.stderr).toContain("brings it back");
  });

  it("completion bash: a shell completes commands, subcommands and options from it", async () => {
    const script = (await cli(["completion", "bash"])).stdout;
    const complete = (...words: string[]) =>
      execFileSync(
        "bash",
        [
          "-c",
          `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _strata; echo "\${COMPREPLY[@]}"`,
        ],
        { encoding: "utf8" },
      ).trim();
    expect(complete("strata", "ta").split(" ")).toEqual(["tag"]);
    expect(complete("strata", "tag", "").split(" ").sort()).toEqual(["ls", "rm", "set"]);
    expect(complete("strata", "ls", "--lo").split(" ").sort()).toEqual(["--local", "--long"]);
    expect(complete("strata", "completion", "")).toBe("bash zsh fish");
  });

  it("completion zsh and fish: scripts their shells accept", async (ctx) => {
    const zsh = (await cli(["completion", "zsh"])).stdout;
    const fish = (await cli(["completion", "fish"])).stdout;
    expect(zsh).toContain("bashcompinit");
    expect(fish).toContain("complete -c strata -n __fish_use_subcommand -a ls");
    expect((await cli(["completion", "tcsh"])).code).toBe(1);
    if (!has("zsh") && !has("fish")) ctx.skip("zsh and fish are not installed: their syntax is not checked");
    if (has("zsh")) execFileSync("zsh", ["-n", "-c", zsh]);
    if (has("fish")) execFileSync("fish", ["-n", "-c", fish]);
  });
});
