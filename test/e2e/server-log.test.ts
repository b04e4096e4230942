/**
 * The local server's log (issue 20 item 9, functions/local/log.ts): one line per request with
 * op, PFS, status, error code, ms and the request id the response carries; levels; text or JSON;
 * one line per job run. A real server on 127.0.0.1, requests by fetch (so their number is known).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalDeployment, startLocalDeployment } from "../../functions/local/deployment.ts";
import { createLog, formatLine, type LogLevel, logOptions } from "../../functions/local/log.ts";
import { timerSchedules } from "../../functions/local/schedules.ts";

describe("the local server's log", () => {
  let dir: string;
  let deployment: LocalDeployment;
  let token: string;
  const lines: string[] = [];
  let level: LogLevel = "info";

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "strata-server-log-"));
    deployment = await startLocalDeployment({
      home: dir,
      volumes: { v: { kind: "local", root: path.join(dir, "volume") } },
      defaultVolume: "v",
      port: 0,
      schedules: { vacuumMs: 0, scrubMs: 0, mirrorMs: 0 },
      // The level is read per line so one server serves every case.
      log: {
        get level() {
          return level;
        },
        enabled: (l) => createLog({ level, format: "json" }).enabled(l),
        write: (l, event, fields) =>
          createLog({ level, format: "json", write: (x) => lines.push(x) }).write(l, event, fields),
      },
    });
    token = (await deployment.services.tokens.create({ pfs: "*", rights: ["admin"], label: "log test" }))
      .token;
    await deployment.services.namespace.createPfs("default");
  }, 60_000);
  afterAll(async () => {
    await deployment?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const call = (op: string, input: unknown) =>
    fetch(`${deployment.endpoint}/v1/pfs/default/ops/${op}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(input),
    });

  it("writes exactly one line per request: op, pfs, status, code, ms and the id the response carries", async () => {
    lines.length = 0;
    level = "info";
    const ok = await call("fs.mkdir", { path: "/logged", recursive: true });
    const missing = await call("fs.stat", { path: "/no/such" });
    const health = await fetch(`${deployment.endpoint}/v1/health`);
    expect([ok.status, missing.status, health.status]).toEqual([200, 404, 200]);
    expect(lines).toHaveLength(3);
    const [a, b, c] = lines.map((l) => JSON.parse(l));
    expect(a).toMatchObject({ level: "info", event: "request", op: "fs.mkdir", pfs: "default", status: 200 });
    expect(b).toMatchObject({ op: "fs.stat", status: 404, code: "ENOENT" });
    expect(c).toMatchObject({ op: "/v1/health", status: 200 });
    for (const [line, res] of [
      [a, ok],
      [b, missing],
      [c, health],
    ] as const) {
      expect(typeof line.ms).toBe("number");
      expect(line.id).toBe(res.headers.get("x-strata-request-id"));
    }
    expect(new Set([a.id, b.id, c.id]).size).toBe(3);
  });

  it("levels: warn drops the request lines; debug adds the response size", async () => {
    lines.length = 0;
    level = "warn";
    await call("fs.stat", { path: "/logged" });
    expect(lines).toEqual([]);
    level = "debug";
    await call("fs.stat", { path: "/logged" });
    expect(JSON.parse(lines[0]!)).toMatchObject({ op: "fs.stat", status: 200, bytes: expect.any(Number) });
    level = "info";
  });

  it("one line per job run: ok at info, failed at error with its code", async () => {
    const jobLines: string[] = [];
    const schedules = timerSchedules(
      createLog({ level: "info", format: "json", write: (l) => jobLines.push(l) }),
    );
    let runs = 0;
    schedules.every("good", 5, async () => {
      runs++;
    });
    schedules.every("bad", 5, async () => {
      throw Object.assign(new Error("volume gone"), {});
    });
    while (!(jobLines.some((l) => l.includes('"good"')) && jobLines.some((l) => l.includes('"bad"'))))
      await new Promise((r) => setTimeout(r, 5));
    await schedules.stop();
    expect(runs).toBeGreaterThan(0);
    expect(JSON.parse(jobLines.find((l) => l.includes('"good"'))!)).toMatchObject({
      level: "info",
      event: "job",
      name: "good",
      status: "ok",
    });
    expect(JSON.parse(jobLines.find((l) => l.includes('"bad"'))!)).toMatchObject({
      level: "error",
      event: "job",
      name: "bad",
      status: "failed",
      code: "EIO",
      error: "volume gone",
    });
  });

  it("text lines: time, level, event, key=value (quoted when needed); --log-format json overrides the configuration", () => {
    const t = new Date("2026-12-07T00:00:00.000Z");
    expect(
      formatLine("text", t, "info", "request", {
        op: "fs.stat",
        status: 200,
        ms: 1.5,
        error: "a b",
        none: undefined,
      }),
    ).toBe('2026-12-07T00:00:00.000Z info  request op=fs.stat status=200 ms=1.5 error="a b"');
    expect(logOptions({ level: "info", format: "text" }, ["--log-format", "json"])).toEqual({
      level: "info",
      format: "json",
    });
    expect(logOptions({ level: "debug", format: "json" }, [])).toEqual({ level: "debug", format: "json" });
    expect(() => logOptions({ level: "info", format: "text" }, ["--log-format=yaml"])).toThrow(
      /json or text/,
    );
  });
});
