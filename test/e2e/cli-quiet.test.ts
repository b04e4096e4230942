/**
 * Zero process warnings in normal use (issue 20 item 9): a tree of files put and got back with
 * `put -r` / `get -r` (more files than the transfers run at once) prints nothing on stderr —
 * no MaxListenersExceededWarning. Every CLI run of the e2e suite also fails on any process
 * warning (test/e2e/cli-process.ts); the counter-check shows that check catches one.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processWarnings, strata } from "./cli-process.ts";

describe("the CLI is quiet", () => {
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), "strata-cli-quiet-"));
    await mkdir(path.join(work, "tree/sub"), { recursive: true });
    for (let i = 0; i < 24; i++) {
      await writeFile(path.join(work, "tree", `f${i}.bin`), Buffer.alloc(6000 + i, i));
      await writeFile(path.join(work, "tree/sub", `s${i}.txt`), `small ${i}\n`);
    }
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  it("put -r and get -r of 48 files print no warning (stderr empty) and round-trip the bytes", async () => {
    const put = await strata(["--local", "data", "put", "-r", "tree", "/tree"], { cwd: work });
    expect(put).toMatchObject({ code: 0, stderr: "" });
    const get = await strata(["--local", "data", "get", "-r", "/tree", "back"], { cwd: work });
    expect(get).toMatchObject({ code: 0, stderr: "" });
    expect(await readFile(path.join(work, "back/sub/s7.txt"), "utf8")).toBe("small 7\n");
    expect(await readFile(path.join(work, "back/f23.bin"))).toEqual(Buffer.alloc(6023, 23));
  }, 120_000);

  it("counter-check: the warning check recognises Node's warnings in a process's stderr", async () => {
    const stderr = await new Promise<string>((resolve) =>
      execFile(
        process.execPath,
        [
          "-e",
          "const { EventEmitter } = require('node:events'); const e = new EventEmitter(); for (let i = 0; i < 11; i++) e.on('x', () => {}); process.emitWarning('x', 'DeprecationWarning', 'DEP0137');",
        ],
        (_err, _stdout, err) => resolve(err),
      ),
    );
    expect(processWarnings(stderr)).toHaveLength(2);
    expect(processWarnings("strata ls: ENOENT: no such file\n  `strata ls /` shows what is there\n")).toEqual(
      [],
    );
  });
});
