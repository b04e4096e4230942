/**
 * Tenant isolation through the HTTP API (a local deployment: functions/local/deployment.ts on a
 * temporary directory, loopback only). Two tenants = two PFSs, `ta` and `tb`, each with a secret
 * file. Every attempt below must be refused, and tb's state (its whole tree with bytes, tags and
 * snapshots, read through the services directly) must be unchanged afterwards:
 *
 * - ta's read/write token on every tb operation (SDK remote client and raw POSTs, also with the
 *   PFS name percent-encoded or spelled with `..`);
 * - guessed, forged (ta's MAC on a tb token's id), old `strata1.` naming tb, truncated tokens, no token;
 * - an expired token and a revoked token of tb itself;
 * - a token of tb limited to the prefix /pub, on paths outside it (`..`, `//`, siblings like /pubx);
 * - presigned reads: ta asking for tb's object, and ta's own URL rewritten to tb's chunk key.
 *
 * A leak is an attempt that returned tb's data or changed tb's state.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isStrataError } from "../../core/errors.ts";
import { startLocalDeployment } from "../../functions/local/deployment.ts";
import { createClient } from "../../sdk/client.ts";
import { remoteDeployment } from "../../sdk/remote.ts";
import type { Strata } from "../../sdk/types.ts";

export interface TenantFigures {
  attempts: number;
  refused: number;
  /** Refusals by error code (client attempts) or HTTP status (raw requests). */
  codes: Record<string, number>;
  leaks: number;
  failures: string[];
}

const SECRET = "tenant b's secret";

async function dumpPfs(client: Strata): Promise<string> {
  const lines: string[] = [];
  const visit = async (path: string): Promise<void> => {
    const st = await client.lstat(path);
    let line = `${path} ${st.isDirectory() ? "dir" : st.isFile() ? "file" : "link"} ${JSON.stringify(await client.tags.list(path).catch(() => ({})))}`;
    if (st.isFile()) line += ` ${Buffer.from(await client.readFile(path)).toString("base64")}`;
    lines.push(line);
    if (st.isDirectory())
      for (const name of await client.readdir(path)) await visit(`${path === "/" ? "" : path}/${name}`);
  };
  await visit("/");
  lines.push(`snapshots ${(await client.snapshots.list()).map((s) => s.name).join(",")}`);
  return lines.join("\n");
}

/** What an attacker may try with a client: every op on tb's paths. */
const CLIENT_OPS: Array<[string, (c: Strata) => Promise<unknown>]> = [
  ["readFile", (c) => c.readFile("/secret")],
  ["readFile /pub", (c) => c.readFile("/pub/open")],
  ["stat", (c) => c.stat("/secret")],
  ["readdir /", (c) => c.readdir("/")],
  ["writeFile", (c) => c.writeFile("/secret", "overwritten")],
  ["writeFile 70 KB", (c) => c.writeFile("/big", new Uint8Array(70_000).fill(1))],
  ["appendFile", (c) => c.appendFile("/secret", "more")],
  ["unlink", (c) => c.unlink("/secret")],
  ["mkdir", (c) => c.mkdir("/evil")],
  ["rename", (c) => c.rename("/secret", "/pub/stolen")],
  ["tags.set", (c) => c.tags.set("/secret", "k", "v")],
  ["tags.list", (c) => c.tags.list("/secret")],
  ["history", (c) => c.history("/secret")],
  ["placement", (c) => c.placement("/secret")],
  ["snapshots.create", (c) => c.snapshots.create("evil")],
  ["snapshots.list", (c) => c.snapshots.list()],
  ["revert", async (c) => c.revert("/", "0000000000000001")],
  ["batch", (c) => c.batch([{ op: "unlink", path: "/secret" }])],
];

/** Paths outside the prefix /pub, as a prefix-limited token might spell them. */
const ESCAPES = [
  "/secret",
  "/pub/../secret",
  "/pub/./../secret",
  "//secret",
  "/pub/../../secret",
  "/pubx",
  "/",
  "/pub/..",
  "/./secret",
];

export async function runTenantIsolation(options: { seed: number }): Promise<TenantFigures> {
  const f: TenantFigures = { attempts: 0, refused: 0, codes: {}, leaks: 0, failures: [] };
  const count = (code: string) => {
    f.codes[code] = (f.codes[code] ?? 0) + 1;
  };
  const fail = (m: string) => {
    if (f.failures.length < 10) f.failures.push(m);
  };
  const home = await mkdtemp(join(tmpdir(), "strata-tenants-"));
  const now = { ms: Date.UTC(2026, 10, 21) + options.seed };
  const deployment = await startLocalDeployment({
    home,
    volumes: { local: { kind: "local", root: join(home, "volumes", "local") } },
    defaultVolume: "local",
    port: 0,
    autoCreatePfs: false,
    // No timers: a scheduled vacuum/mirror/scrub writing bookkeeping mid-run would move the state hash.
    schedules: { vacuumMs: 0, scrubMs: 0, mirrorMs: 0 },
    // Nor placement polling (its feed cursor and closed-TID writes would too): one tick ~ never.
    placement: { pollMs: 2 ** 31 - 1, sweepEveryMs: 0 },
    clock: () => now.ms,
    chunkSize: 64 * 1024,
    inlineThreshold: 16,
  });
  try {
    const { services, endpoint } = deployment;
    const ns = services.namespace;
    await ns.createPfs("ta");
    await ns.createPfs("tb");
    const admin = (pfs: string) =>
      createClient(
        { namespace: ns, data: services.data, openPfs: async (n) => ns.pfs(n), close: async () => {} },
        pfs,
      );
    const bAdmin = admin("tb");
    await bAdmin.writeFile("/secret", SECRET);
    await bAdmin.writeFile("/big-secret", new Uint8Array(70_000).fill(9));
    await bAdmin.mkdir("/pub");
    await bAdmin.writeFile("/pub/open", "public");
    await bAdmin.tags.set("/secret", "owner", "b");
    await admin("ta").writeFile("/mine", new Uint8Array(70_000).fill(3));
    const tokenA = (await services.tokens.create({ pfs: "ta", rights: ["read", "write"], ttlSeconds: 3600 }))
      .token;
    const expiring = await services.tokens.create({ pfs: "tb", rights: ["read", "write"], ttlSeconds: 60 });
    const revoked = await services.tokens.create({
      pfs: "tb",
      rights: ["read", "write", "admin"],
      ttlSeconds: 3600,
    });
    const pubOnly = (
      await services.tokens.create({ pfs: "tb", prefix: "/pub", rights: ["read", "write"], ttlSeconds: 3600 })
    ).token;
    await services.tokens.revoke(revoked.id);
    now.ms += 61_000; // `expiring` is now expired
    const baseline = await dumpPfs(bAdmin);

    const remote = (token: string | undefined, pfs: string) =>
      createClient(remoteDeployment({ endpoint, token, pfs }), pfs);
    /** One attempt: refused = a StrataError (EACCES, or EINVAL/ENOENT for a mangled request); leak = tb changed or answered. */
    const attempt = async (what: string, fn: () => Promise<unknown>, expectCode?: string) => {
      f.attempts++;
      let answered: unknown;
      let code: string | undefined;
      try {
        answered = await fn();
      } catch (err) {
        code = isStrataError(err) ? err.code : `non-StrataError ${String(err)}`;
      }
      const after = await dumpPfs(bAdmin);
      const leakedData = answered !== undefined && JSON.stringify(answered ?? null).includes("secret");
      if (after !== baseline || code === undefined || leakedData) {
        f.leaks++;
        fail(
          `${what}: ${code === undefined ? `succeeded (${JSON.stringify(answered)?.slice(0, 80)})` : code}${after !== baseline ? ", tb changed" : ""}`,
        );
        // Put tb back so later attempts are judged on their own.
        return;
      }
      if (expectCode && code !== expectCode) fail(`${what}: refused with ${code}, expected ${expectCode}`);
      count(code);
      f.refused++;
    };

    // A token's text is `strata2.<key>.<id>.<mac>` (its scope is its record's): ta's MAC on the id
    // of a tb token; and an old self-describing `strata1.` token naming tb.
    const [head, kid, , mac] = tokenA.split(".") as [string, string, string, string];
    const forged = `${head}.${kid}.${pubOnly.split(".")[2]}.${mac}`;
    const legacy = `strata1.${Buffer.from(JSON.stringify({ id: "x", pfs: "tb", prefix: "/", rights: ["admin"], exp: 4e9 })).toString("base64url")}.${mac}`;
    const attackers: Array<[string, Strata]> = [
      ["ta's token on tb", remote(tokenA, "tb")],
      ["forged token (ta's MAC on a tb token's id)", remote(forged, "tb")],
      ["old strata1 token naming tb", remote(legacy, "tb")],
      ["guessed token", remote("v1.eyJwZnMiOiJ0YiJ9.AAAA", "tb")],
      ["truncated token", remote(tokenA.slice(0, -5), "tb")],
      ["no token", remote(undefined, "tb")],
      ["expired token of tb", remote(expiring.token, "tb")],
      ["revoked token of tb", remote(revoked.token, "tb")],
    ];
    for (const [who, client] of attackers)
      for (const [op, fn] of CLIENT_OPS) await attempt(`${who}: ${op}`, () => fn(client));

    // A prefix-limited token: everything outside /pub refused; /pub itself works.
    const pub = remote(pubOnly, "tb");
    for (const path of ESCAPES) {
      await attempt(`/pub token: readFile ${path}`, () => pub.readFile(path));
      await attempt(`/pub token: writeFile ${path}`, () => pub.writeFile(path, "x"));
      await attempt(`/pub token: rename /pub/open → ${path}`, () => pub.rename("/pub/open", path));
      await attempt(`/pub token: symlink in /pub to ${path}, then read through it`, async () => {
        await pub.symlink(path, "/pub/ln").catch(() => {});
        try {
          return await pub.readFile("/pub/ln");
        } finally {
          await pub.unlink("/pub/ln").catch(() => {});
        }
      });
    }
    if (new TextDecoder().decode(await pub.readFile("/pub/open")) !== "public")
      fail("the /pub token cannot read inside its own prefix");

    // Raw requests: the PFS name spelled other ways, malformed bodies.
    const post = async (path: string, body: string, token = tokenA) => {
      const res = await fetch(`${endpoint}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body,
      });
      const text = await res.text();
      if (res.ok) return text;
      throw Object.assign(new Error(text), { status: res.status });
    };
    const raw = async (what: string, path: string, body: string) => {
      f.attempts++;
      let status = 200;
      let text = "";
      try {
        text = await post(path, body);
      } catch (err) {
        status = (err as { status?: number }).status ?? 0;
      }
      const after = await dumpPfs(bAdmin);
      if (status < 400 || after !== baseline || text.includes(SECRET)) {
        f.leaks++;
        fail(`raw ${what}: HTTP ${status}`);
      } else {
        count(`HTTP ${status}`);
        f.refused++;
      }
    };
    for (const pfs of [
      "tb",
      "t%62",
      "%74%62",
      "ta%2f..%2ftb",
      "ta%2F..%2Ftb",
      "..%2ftb",
      "*",
      "%2a",
      "TB",
      "tb%00",
    ]) {
      await raw(`fs.stat on pfs ${pfs}`, `/v1/pfs/${pfs}/ops/fs.stat`, JSON.stringify({ path: "/secret" }));
      await raw(
        `fs.unlink on pfs ${pfs}`,
        `/v1/pfs/${pfs}/ops/fs.unlink`,
        JSON.stringify({ path: "/secret" }),
      );
    }
    for (const body of [
      "{",
      "[]",
      "null",
      '{"path": 42}',
      '{"path": "/secret", "pfs": "tb"}',
      `{"path":"/../../tb/secret"}`,
      "\u0000",
      '{"__proto__": {"pfs": "tb"}, "path": "/secret"}',
    ])
      await raw(`ta's fs.read with body ${JSON.stringify(body)}`, "/v1/pfs/tb/ops/fs.read", body);

    // Presigned reads: ta asking for tb's object through its own PFS, and a URL rewritten.
    const a = remote(tokenA, "ta");
    const bPlacement = await bAdmin.placement("/big-secret");
    const bKey = bPlacement[0]?.chunk;
    const aRead = JSON.parse(
      await post("/v1/pfs/ta/ops/fs.read", JSON.stringify({ path: "/mine" })),
    ) as unknown;
    const urls = JSON.stringify(aRead).match(/https?:\/\/[^"]+/g) ?? [];
    if (urls.length === 0) fail("ta's fs.read returned no presigned URL (the presign check did not run)");
    const mine = (await a.placement("/mine")).map((p) => p.chunk);
    let rewritten = 0;
    for (const url of urls) {
      const sha = mine.find((c) => url.includes(c));
      if (!bKey || !sha) continue;
      // The object key is chunks/<2 hex>/<sha>: point it at tb's chunk, keep ta's signature.
      const forgedUrl = url.replace(`${sha.slice(0, 2)}/${sha}`, `${bKey.slice(0, 2)}/${bKey}`);
      if (forgedUrl === url) continue;
      rewritten++;
      f.attempts++;
      const res = await fetch(forgedUrl);
      const body = Buffer.from(await res.arrayBuffer());
      if (res.ok || body.includes(Buffer.from(new Uint8Array(64).fill(9)))) {
        f.leaks++;
        fail(`a presigned URL of ta rewritten to tb's chunk was served (HTTP ${res.status})`);
      } else f.refused++;
    }
    if (rewritten === 0) fail("no presigned URL of ta could be rewritten (the presign check did not run)");
  } finally {
    await deployment.stop();
    await rm(home, { recursive: true, force: true });
  }
  return f;
}
