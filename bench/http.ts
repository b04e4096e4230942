/**
 * `npm run bench -- http`: the HTTP API's per-request overhead. One run prints, for stat, create
 * (a new 16-byte file: one `upload.commit` with inline bytes), unlink and readdir (10 entries):
 * ops/s through the SDK embedded (`connect({ local })`, the engine in this process) and over HTTP
 * (`connect({ endpoint, token })` to a local server), with 1, 4 and 16 concurrent clients, and the
 * ratio HTTP/embedded (targets at 1 client: stat ≥ 0.5, create ≥ 0.4).
 *
 * The server runs as a child process, as `npm start` does (this file with `--serve`): a local
 * deployment (functions/local/deployment.ts) over SQLite and one local-directory volume in a
 * temp home, on 127.0.0.1, no stand-ins. Its requests are served by a second listener on the same
 * services with the server's timing hook on (functions/local/server.ts `timing`, off by default),
 * so the run also prints where one request's time goes at 1 client: reading the body, auth,
 * JSON, validation, idempotency records, the operation (store), responding, and the rest
 * (client + transport = the client's latency minus the server's time). It counts the TCP
 * connections the server accepted: with keep-alive end to end that is about one per client.
 *
 * The baseline row, "bare POST", measured in the same run: the SDK's own transport
 * (sdk/remote/transport.ts) against a bare node:http server in the server process that answers a
 * stat-sized JSON body and runs no strata code. Its ratio to the embedded stat is the most an HTTP
 * stat could reach on this machine if strata's own work over HTTP cost nothing.
 *
 * Each (operation, clients) cell: 3 rounds, embedded and HTTP alternating (load elsewhere on the
 * machine hits both alike); the figure is the median round. Unlink removes the files its round's
 * create made, timed as a whole. Env: STRATA_BENCH_MS (ms per side, operation and round,
 * default 500); STRATA_BENCH_SERVER_FLAGS (node flags for the server, e.g. `--cpu-prof`);
 * STRATA_BENCH_PLACEMENT=off stops the server's placement worker (as `npm start` runs it, every new
 * file is placed in the background: reads, a workflow step and a feed-cursor write per batch, which
 * the embedded side — a client that never administers — does not pay).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type Strata } from "../sdk/index.ts";
import { postJson } from "../sdk/remote/transport.ts";
import { median, table } from "./support.ts";

const MEASURE_MS = Number(process.env.STRATA_BENCH_MS ?? 500);
const ROUNDS = 3;
const CLIENTS = [1, 4, 16] as const;
const READDIR_ENTRIES = 10;
const FILE = new Uint8Array(16).fill(120);
const OPS = ["stat", "create", "unlink", "readdir"] as const;
/** The baseline server's answer: about the size of a stat's. */
const BARE_BODY = JSON.stringify({
  type: "file",
  size: 16,
  mode: 420,
  tid: "0".repeat(16),
  pad: "x".repeat(180),
});
/** The baseline client's request body: about the size of a stat call's. */
const BARE_REQUEST = JSON.stringify({ path: "/bench/stat.txt" });
const BARE_HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };
type OpName = (typeof OPS)[number];
type Side = "embedded" | "http";

/** Per-request server time by section (ms summed over `requests`), from the server's timing hook. */
interface ServerTimes {
  requests: number;
  connections: number;
  sections: Record<string, number>;
  /** The server process's CPU time (user + system, µs) since the reset. */
  cpuMicros: number;
}

/** CPU time (user + system, µs) this process has used. */
function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

// ---- the server (child process) ----

async function serve(home: string): Promise<void> {
  const { startLocalDeployment } = await import("../functions/local/deployment.ts");
  const { startLocalServer } = await import("../functions/local/server.ts");
  const deployment = await startLocalDeployment({
    home,
    volumes: { local: { kind: "local", root: join(home, "volumes", "local") } },
    defaultVolume: "local",
    port: 0,
  });
  // STRATA_BENCH_PLACEMENT=off: no placement worker in the server (the embedded side never starts
  // one): what the HTTP path costs without placement's per-new-file work running beside it.
  if (process.env.STRATA_BENCH_PLACEMENT === "off") await deployment.services.placement?.orchestrator.stop();
  const admin = await deployment.services.tokens.create({ pfs: "*", rights: ["admin"], label: "bench" });
  await deployment.services.namespace.createPfs("default");
  const times: ServerTimes = { requests: 0, connections: 0, sections: {}, cpuMicros: 0 };
  let cpuAtReset = cpuMicros();
  // The same services behind a second listener with the timing hook on.
  const timed = await startLocalServer(deployment.services, {
    port: 0,
    timing: {
      add(sections: Record<string, number>) {
        times.requests++;
        for (const [name, ms] of Object.entries(sections))
          times.sections[name] = (times.sections[name] ?? 0) + ms;
      },
    },
  });
  timed.server.on("connection", () => times.connections++);
  // The baseline: a bare node:http server in this same process answering every POST with a small
  // JSON body, no strata code — what one loopback round trip costs here.
  const bare = createServer((req, res) => {
    req.on("data", () => {});
    req.once("end", () => {
      res.writeHead(200, BARE_HEADERS);
      res.end(BARE_BODY);
    });
  });
  bare.keepAliveTimeout = 5_000;
  bare.on("connection", () => times.connections++);
  await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve));
  const barePort = (bare.address() as AddressInfo).port;
  process.on("message", (message: string) => {
    if (message === "reset") {
      times.requests = 0;
      times.connections = 0;
      times.sections = {};
      cpuAtReset = cpuMicros();
      process.send!({ reset: true });
    } else if (message === "read")
      process.send!({ times: { ...times, cpuMicros: cpuMicros() - cpuAtReset } });
    else if (message === "stop")
      void (async () => {
        bare.closeAllConnections();
        bare.close();
        await timed.stop();
        await deployment.stop();
        process.exit(0);
      })();
  });
  process.send!({ endpoint: timed.endpoint, token: admin.token, bare: `http://127.0.0.1:${barePort}/bare` });
}

// ---- the driver ----

class ServerProcess {
  private waiting: { resolve: (m: Record<string, unknown>) => void; reject: (e: Error) => void } | undefined;
  constructor(readonly child: ChildProcess) {
    child.on("message", (m) => this.waiting?.resolve(m as Record<string, unknown>));
    child.once("exit", (code) => this.waiting?.reject(new Error(`the bench server exited (${code})`)));
  }
  static async start(
    home: string,
  ): Promise<{ server: ServerProcess; endpoint: string; token: string; bare: string }> {
    const flags = (process.env.STRATA_BENCH_SERVER_FLAGS ?? "").split(" ").filter(Boolean);
    const child = spawn(
      process.execPath,
      [...flags, "--import", "tsx", fileURLToPath(import.meta.url), "--serve", home],
      { stdio: ["ignore", "inherit", "inherit", "ipc"] },
    );
    const server = new ServerProcess(child);
    const ready = await server.next();
    return {
      server,
      endpoint: String(ready.endpoint),
      token: String(ready.token),
      bare: String(ready.bare),
    };
  }
  next(): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }
  async ask(message: "reset" | "read" | "stop"): Promise<Record<string, unknown>> {
    const reply = this.next();
    this.child.send(message);
    return message === "stop" ? {} : await reply;
  }
  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.send("stop");
    await exited;
  }
}

/** Run `op(worker, i)` from `clients` concurrent loops for `ms`; ops/s. */
async function rate(
  clients: number,
  ms: number,
  op: (worker: number, i: number) => Promise<unknown>,
): Promise<{ opsPerSecond: number; ops: number }> {
  const start = performance.now();
  let ops = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, worker) => {
      for (let i = 0; performance.now() - start < ms; i++) {
        await op(worker, i);
        ops++;
      }
    }),
  );
  return { opsPerSecond: (ops * 1000) / (performance.now() - start), ops };
}

/** Run every op in `jobs` from `clients` concurrent loops until done; ops/s. */
async function drain(
  clients: number,
  jobs: Array<() => Promise<unknown>>,
): Promise<{ opsPerSecond: number; ops: number }> {
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < jobs.length) await jobs[next++]!();
    }),
  );
  return { opsPerSecond: (jobs.length * 1000) / (performance.now() - start), ops: jobs.length };
}

/** One measurement: ops/s, how many ops, and this process's CPU time over it (µs). */
interface Measured {
  opsPerSecond: number;
  ops: number;
  cpuMicros: number;
  /** Wall time of the measurement. */
  ms: number;
}

/** Called around each operation's measurement (the HTTP side reads the server's timing hook). */
type Around = (op: OpName, measure: () => Promise<{ opsPerSecond: number; ops: number }>) => Promise<void>;

/** One round of every operation on one side, by operation. */
async function round(
  client: Strata,
  base: string,
  clients: number,
  around: Around = async (_op, measure) => {
    await measure();
  },
): Promise<Record<OpName, Measured>> {
  await client.mkdir(base, { recursive: true });
  const out = {} as Record<OpName, Measured>;
  const measured = async (op: OpName, measure: () => Promise<{ opsPerSecond: number; ops: number }>) => {
    let result = { opsPerSecond: 0, ops: 0 };
    const cpu = cpuMicros();
    const start = performance.now();
    await around(op, async () => {
      result = await measure();
      return result;
    });
    out[op] = { ...result, cpuMicros: cpuMicros() - cpu, ms: performance.now() - start };
  };
  await measured("stat", () => rate(clients, MEASURE_MS, () => client.stat("/bench/stat.txt")));
  const created: string[] = [];
  await measured("create", () =>
    rate(clients, MEASURE_MS, async (w, i) => {
      const path = `${base}/${w}-${i}`;
      await client.writeFile(path, FILE);
      created.push(path);
    }),
  );
  await measured("unlink", () =>
    drain(
      clients,
      created.map((path) => () => client.unlink(path)),
    ),
  );
  await measured("readdir", () => rate(clients, MEASURE_MS, () => client.readdir("/bench/dir")));
  return out;
}

async function prepare(client: Strata): Promise<void> {
  await client.mkdir("/bench/dir", { recursive: true });
  await client.writeFile("/bench/stat.txt", FILE);
  for (let i = 0; i < READDIR_ENTRIES; i++) await client.writeFile(`/bench/dir/f${i}`, FILE);
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

export async function run(_args: string[]): Promise<void> {
  const home = await mkdtemp(join(tmpdir(), "strata-bench-http-"));
  const started = await ServerProcess.start(join(home, "server"));
  const { server } = started;
  const clientsOf: Record<Side, Strata> = {
    embedded: await connect({ local: join(home, "embedded") }),
    http: await connect({ endpoint: started.endpoint, token: started.token }),
  };
  try {
    console.log(
      `http: ${started.endpoint} (child process, SQLite + local volume, placement worker ${process.env.STRATA_BENCH_PLACEMENT === "off" ? "OFF" : "on"}), ${MEASURE_MS} ms × ${ROUNDS} rounds per cell; load average ${loadAverage()}`,
    );
    for (const client of Object.values(clientsOf)) await prepare(client);
    // Background CPU (µs per ms) of both processes doing no operation: timers, placement's
    // change-feed poll. Subtracted from the CPU per op below, which would otherwise charge it to
    // the ops (more so the slower they are).
    await server.ask("reset");
    const idleCpu = cpuMicros();
    const idleStart = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const idleMs = performance.now() - idleStart;
    const idle = {
      client: (cpuMicros() - idleCpu) / idleMs,
      server: ((await server.ask("read")).times as ServerTimes).cpuMicros / idleMs,
    };
    console.log(
      `idle CPU (µs per s): this process ${fmt(idle.client * 1000)}, the server ${fmt(idle.server * 1000)}`,
    );
    // Warm-up: JIT, the SDK's data config, connections.
    for (const side of ["embedded", "http"] as const) await round(clientsOf[side], `/warm/${side}`, 4);

    const rows: string[][] = [
      [
        "op",
        "clients",
        "embedded ops/s",
        "HTTP ops/s",
        "HTTP/embedded",
        "CPU µs/op emb.",
        "CPU µs/op HTTP",
        "CPU emb./HTTP",
        "HTTP conns",
      ],
    ];
    const breakdown = {} as Record<OpName, { latencyMs: number; times: ServerTimes }>;
    let bareLatencyMs = 0;
    for (const clients of CLIENTS) {
      const results: Record<Side, Record<OpName, Measured>[]> = { embedded: [], http: [] };
      const timesOf = {} as Record<OpName, ServerTimes>;
      const around: Around = async (op, measure) => {
        await server.ask("reset");
        await measure();
        const times = (await server.ask("read")).times as ServerTimes;
        timesOf[op] = timesOf[op] ? mergeTimes(timesOf[op], times) : times;
      };
      for (let r = 0; r < ROUNDS; r++) {
        const order: Side[] = r % 2 === 0 ? ["embedded", "http"] : ["http", "embedded"];
        for (const side of order)
          results[side].push(
            await round(
              clientsOf[side],
              `/b/${side}/${clients}/${r}`,
              clients,
              side === "http" ? around : undefined,
            ),
          );
      }
      for (const op of OPS) {
        const embedded = median(results.embedded.map((x) => x[op].opsPerSecond));
        const http = median(results.http.map((x) => x[op].opsPerSecond));
        // CPU per op over all rounds: this process's (the client, and the engine when embedded)
        // plus, over HTTP, the server process's. Waiting for a CPU on a loaded machine is not in it.
        const perOp = (side: Side) => {
          const all = results[side].map((x) => x[op]);
          const ms = all.reduce((n, x) => n + x.ms, 0);
          let cpu = all.reduce((n, x) => n + x.cpuMicros, 0) - idle.client * ms;
          if (side === "http") cpu += timesOf[op].cpuMicros - idle.server * ms;
          return Math.max(0, cpu) / all.reduce((n, x) => n + x.ops, 0);
        };
        const cpuEmbedded = perOp("embedded");
        const cpuHttp = perOp("http");
        rows.push([
          op,
          String(clients),
          fmt(embedded),
          fmt(http),
          (http / embedded).toFixed(2),
          fmt(cpuEmbedded),
          fmt(cpuHttp),
          (cpuEmbedded / cpuHttp).toFixed(2),
          String(timesOf[op].connections),
        ]);
        if (clients === 1) breakdown[op] = { latencyMs: 1000 / http, times: timesOf[op] };
      }
      // The baseline row: the same client transport (sdk/remote/transport.ts, keep-alive) against
      // the bare node:http server, 3 rounds; its ratio is to the embedded stat — the most the
      // transport alone would let an HTTP stat reach.
      // Headers like the SDK's own (token, PFS, a key), so the bytes on the wire match.
      const bareHeaders = {
        "content-type": "application/json",
        "x-strata-pfs": "default",
        authorization: `Bearer ${started.token}`,
        "idempotency-key": "00000000-0000-4000-8000-000000000000",
      };
      const bareRounds: Measured[] = [];
      let bareConnections = 0;
      let bareServerCpu = 0;
      for (let r = 0; r < ROUNDS; r++) {
        await server.ask("reset");
        const cpu = cpuMicros();
        const start = performance.now();
        const result = await rate(clients, MEASURE_MS, () =>
          postJson(started.bare, bareHeaders, BARE_REQUEST),
        );
        bareRounds.push({ ...result, cpuMicros: cpuMicros() - cpu, ms: performance.now() - start });
        const times = (await server.ask("read")).times as ServerTimes;
        bareConnections += times.connections;
        bareServerCpu += times.cpuMicros;
      }
      const bareRate = median(bareRounds.map((x) => x.opsPerSecond));
      const embeddedStat = median(results.embedded.map((x) => x.stat.opsPerSecond));
      const bareMs = bareRounds.reduce((n, x) => n + x.ms, 0);
      const bareCpu =
        Math.max(
          0,
          bareRounds.reduce((n, x) => n + x.cpuMicros, 0) +
            bareServerCpu -
            (idle.client + idle.server) * bareMs,
        ) / bareRounds.reduce((n, x) => n + x.ops, 0);
      rows.push([
        "bare POST",
        String(clients),
        `(stat) ${fmt(embeddedStat)}`,
        fmt(bareRate),
        (bareRate / embeddedStat).toFixed(2),
        "",
        fmt(bareCpu),
        "",
        String(bareConnections),
      ]);
      if (clients === 1) bareLatencyMs = 1000 / bareRate;
    }
    console.log(`\n${table(rows, new Set([0]))}`);
    console.log(
      "\nCPU µs/op: user + system CPU per operation over the cell's 3 rounds, less the idle CPU — embedded: this process; HTTP: this process (the SDK client) + the server process. Unlike ops/s it leaves out time spent waiting for a CPU, so it stays comparable when the machine is loaded; 'CPU emb./HTTP' is the ratio an idle machine would show if nothing but CPU mattered.\nHTTP conns: TCP connections the server accepted during the cell's 3 HTTP rounds.",
    );
    console.log(
      "bare POST: the baseline — the SDK's transport (keep-alive node:http) against a bare node:http server in the server process answering a stat-sized JSON body, no strata code; its ratio is to the embedded stat: the most HTTP/embedded a stat could reach if strata's own work cost nothing.",
    );
    printBreakdown(breakdown, bareLatencyMs);
    console.log(`\nload average at the end: ${loadAverage()}`);
  } finally {
    for (const client of Object.values(clientsOf)) await client.close();
    await server.stop();
    await rm(home, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }
}

function mergeTimes(a: ServerTimes, b: ServerTimes): ServerTimes {
  const sections = { ...a.sections };
  for (const [k, v] of Object.entries(b.sections)) sections[k] = (sections[k] ?? 0) + v;
  return {
    requests: a.requests + b.requests,
    connections: a.connections + b.connections,
    sections,
    cpuMicros: a.cpuMicros + b.cpuMicros,
  };
}

/**
 * Where one request's time goes at 1 client, µs per request: the server's sections (its timing
 * hook, averaged over the operation's requests in the 3 rounds), and the rest of the client's
 * latency (1 / the median HTTP rate): the SDK, the HTTP client, the kernel and the wire.
 */
function printBreakdown(
  breakdown: Record<OpName, { latencyMs: number; times: ServerTimes }>,
  bareLatencyMs: number,
): void {
  if (breakdown.stat.times.requests === 0) {
    console.log("\n(no per-request breakdown: this server has no timing hook)");
    return;
  }
  const names = [...new Set(OPS.flatMap((op) => Object.keys(breakdown[op].times.sections)))].filter(
    (n) => n !== "total",
  );
  const rows: string[][] = [["µs/request", ...OPS]];
  const per = (op: OpName, ms: number) => (ms * 1000) / breakdown[op].times.requests;
  for (const name of names)
    rows.push([name, ...OPS.map((op) => per(op, breakdown[op].times.sections[name] ?? 0).toFixed(0))]);
  rows.push([
    "server total",
    ...OPS.map((op) => per(op, breakdown[op].times.sections.total ?? 0).toFixed(0)),
  ]);
  rows.push([
    "client + transport",
    ...OPS.map((op) =>
      (breakdown[op].latencyMs * 1000 - per(op, breakdown[op].times.sections.total ?? 0)).toFixed(0),
    ),
  ]);
  rows.push(["latency (1 client)", ...OPS.map((op) => (breakdown[op].latencyMs * 1000).toFixed(0))]);
  rows.push(["bare POST latency", ...OPS.map(() => (bareLatencyMs * 1000).toFixed(0))]);
  console.log(
    `\nWhere an HTTP request's time goes at 1 client (µs per request):\n${table(rows, new Set([0]))}`,
  );
}

function loadAverage(): string {
  return loadavg()
    .map((n) => n.toFixed(2))
    .join(" ");
}

if (process.argv[2] === "--serve") await serve(process.argv[3]!);
