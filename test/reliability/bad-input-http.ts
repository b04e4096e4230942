/**
 * The bad-input corpus over the HTTP API: the same corpus × SDK operations as bad-input.ts, but
 * through the remote SDK client (`connect({ endpoint, token })` = sdk/remote.ts) against a local
 * deployment (functions/local/deployment.ts: SQLite + a local-directory volume, loopback), plus
 * malformed requests sent raw: broken JSON, wrong JSON types, oversized and deeply nested bodies,
 * invalid UTF-8, duplicate keys — against every file-system operation of the registry.
 *
 * The state hash reads the deployment's whole SQLite table (a second, read-only connection) and
 * every file under its volume directory, so it sees every write whatever path it took.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { startLocalDeployment } from "../../functions/local/deployment.ts";
import { createClient } from "../../sdk/client.ts";
import { remoteDeployment } from "../../sdk/remote.ts";
import { type BadInputFigures, runBadInputsOn } from "./bad-input.ts";

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out.sort();
}

/** Operations of the registry that take a path (raw malformed bodies go to each). */
const RAW_OPS = [
  "fs.stat",
  "fs.lstat",
  "fs.readdir",
  "fs.mkdir",
  "fs.unlink",
  "fs.rmdir",
  "fs.rename",
  "fs.symlink",
  "fs.link",
  "fs.setattr",
  "fs.setTag",
  "fs.removeTag",
  "fs.setXattr",
  "fs.batch",
  "fs.read",
  "upload.begin",
  "snapshot.create",
  "fs.revert",
];

const RAW_BODIES: Array<[string, string | Uint8Array]> = [
  ["truncated JSON", '{"path": "/box/f"'],
  ["not JSON", "path=/box/f"],
  ["JSON array", '["/box/f"]'],
  ["JSON null", "null"],
  ["JSON number", "42"],
  ["JSON string", '"/box/f"'],
  ["path of the wrong type", '{"path": 42}'],
  ["path null", '{"path": null}'],
  ["path an object", '{"path": {"$ne": ""}}'],
  ["NUL in the path", '{"path": "/box/\\u0000"}'],
  ["lone surrogate in the path", '{"path": "/box/\\ud800"}'],
  ["relative path", '{"path": "box/f"}'],
  ["4 KB+ path", `{"path": "/${"d/".repeat(2100)}"}`],
  ["10,000-deep nesting", `${"[".repeat(10_000)}${"]".repeat(10_000)}`],
  ["2 MB body", `{"path": "/box/f", "pad": "${"x".repeat(2 * 1024 * 1024)}"}`],
  ["invalid UTF-8 bytes", Uint8Array.from([0x7b, 0x22, 0x70, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
  ["__proto__ pollution", '{"__proto__": {"path": "/outside"}, "constructor": {"prototype": {"x": 1}}}'],
  ["huge number", '{"path": "/box/f", "mode": 1e999}'],
  ["batch not an array", '{"ops": {"op": "mkdir", "path": "/box/z"}}'],
  [
    "batch of 101 ops",
    JSON.stringify({ ops: Array.from({ length: 101 }, (_, i) => ({ op: "mkdir", path: `/box/z${i}` })) }),
  ],
];

export interface HttpBadInputFigures extends BadInputFigures {
  rawRequests: number;
  rawRejected: number;
}

export async function runHttpBadInputs(options: {
  seed: number;
  opStride?: number;
}): Promise<HttpBadInputFigures> {
  const home = await mkdtemp(join(tmpdir(), "strata-badinput-"));
  const volumeRoot = join(home, "volumes", "local");
  const deployment = await startLocalDeployment({
    home,
    volumes: { local: { kind: "local", root: volumeRoot } },
    defaultVolume: "local",
    port: 0,
    autoCreatePfs: false,
    // No timers: a scheduled vacuum/mirror/scrub writing bookkeeping mid-run would move the state hash.
    schedules: { vacuumMs: 0, scrubMs: 0, mirrorMs: 0 },
    // Nor placement polling (its feed cursor and closed-TID writes would too): one tick ~ never.
    placement: { pollMs: 2 ** 31 - 1, sweepEveryMs: 0 },
    chunkSize: 64 * 1024,
    inlineThreshold: 16,
    clock: (() => {
      let ms = Date.UTC(2026, 10, 21) + options.seed;
      return () => ms++;
    })(),
  });
  const { services, endpoint } = deployment;
  await services.namespace.createPfs("p");
  const token = (
    await services.tokens.create({ pfs: "p", rights: ["read", "write", "admin"], ttlSeconds: 3600 })
  ).token;
  const db = new Database(join(home, "metadata.db"), { readonly: true });
  const rows = db.prepare("SELECT pk, sk, item FROM items ORDER BY pk, sk");
  const stateHash = async () => {
    const h = createHash("sha256");
    for (const row of rows.iterate() as Iterable<{ pk: string; sk: string; item: Buffer | string }>) {
      h.update(`${row.pk}\n${row.sk}\n`);
      h.update(row.item);
    }
    for (const file of await filesUnder(volumeRoot)) {
      h.update(`${file}\n`);
      h.update(await readFile(file));
    }
    return h.digest("hex");
  };
  const client = createClient(remoteDeployment({ endpoint, token, pfs: "p" }), "p");
  let raw = { requests: 0, rejected: 0, failures: [] as string[] };
  try {
    const figures = await runBadInputsOn({ client, stateHash, dispose: async () => {} }, options.opStride);
    raw = await malformedRequests(endpoint, token, stateHash);
    return {
      ...figures,
      rawRequests: raw.requests,
      rawRejected: raw.rejected,
      failures: [...figures.failures, ...raw.failures],
    };
  } finally {
    db.close();
    await deployment.stop();
    await rm(home, { recursive: true, force: true });
  }
}

/**
 * One POST on its own connection (no keep-alive): after a 413 for an oversized body the local
 * server leaves a pooled connection that resets the NEXT request (reported to the API's owner);
 * a fresh connection per request keeps each verdict about its own body.
 */
function postOnce(
  url: string,
  token: string,
  body: string | Uint8Array,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: "POST",
        agent: false,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (p: Buffer) => parts.push(p));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Every malformed body × every path-taking operation: an HTTP 4xx with a typed error, state unchanged. */
async function malformedRequests(endpoint: string, token: string, stateHash: () => Promise<string>) {
  const out = { requests: 0, rejected: 0, failures: [] as string[] };
  let before = await stateHash();
  for (const op of RAW_OPS) {
    for (const [label, body] of RAW_BODIES) {
      out.requests++;
      let status = 0;
      let text = "";
      try {
        ({ status, text } = await postOnce(`${endpoint}/v1/pfs/p/ops/${op}`, token, body));
      } catch (err) {
        text = `no HTTP answer: ${String(err)}`;
      }
      let code: unknown;
      try {
        code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
      } catch {
        code = text.startsWith("no HTTP answer") ? text : undefined;
      }
      const after = await stateHash();
      const typed = status >= 400 && status < 500 && typeof code === "string";
      if (!typed || after !== before) {
        if (out.failures.length < 20)
          out.failures.push(
            `raw ${op} with ${label}: HTTP ${status} ${String(code)}${after !== before ? ", state changed" : ""}`,
          );
      } else out.rejected++;
      before = after;
    }
  }
  return out;
}
