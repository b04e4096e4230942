/**
 * "Applied, reply lost" on every mutating operation of the HTTP API (functions/api/registry.ts
 * `isMutating`): a proxy (test/support/lossy-proxy.ts) lets each call reach the server, then throws
 * its response away; the SDK retries with the call's Idempotency-Key. Every call must succeed with
 * the ORIGINAL response, byte for byte.
 *
 * Counter-check: the SDK's test-only `idempotencyKeys: false` — the same workload then fails or
 * answers differently.
 */
import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isStrataError } from "../../core/errors.ts";
import { hash64, recordKey } from "../../core/namespace/idempotency.ts";
import { registryKey } from "../../core/namespace/records.ts";
import { crashTestHooks } from "../../functions/api/idempotency.ts";
import type { ApiResponse } from "../../functions/api/messages.ts";
import { isMutating, registry } from "../../functions/api/registry.ts";
import { createClient } from "../../sdk/client.ts";
import { remoteDeployment } from "../../sdk/remote.ts";
import type { Strata } from "../../sdk/types.ts";
import { type ApiFixture, startApiFixture } from "../support/api-server.ts";
import { type LossyProxy, startLossyProxy } from "../support/lossy-proxy.ts";

type Call = (op: string, input: Record<string, unknown>) => Promise<unknown>;

/** One step per mutating operation (some steps send several). Each returns nothing; failures throw. */
function workload(client: Strata, call: Call, volumeRoot: string): Array<[string, () => Promise<unknown>]> {
  const state: { token?: string; bundle?: string; job?: string } = {};
  return [
    ["fs.mkdir", () => call("fs.mkdir", { path: "/w" })],
    ["upload.commit (inline)", () => client.writeFile("/w/small.txt", "hello")],
    ["upload.begin/chunks/commit", () => client.writeFile("/w/big.bin", new Uint8Array(200 * 1024).fill(7))],
    ["fs.symlink", () => call("fs.symlink", { target: "/w/small.txt", path: "/w/ln" })],
    ["fs.link", () => call("fs.link", { existing: "/w/small.txt", path: "/w/hard" })],
    ["fs.setattr", () => call("fs.setattr", { path: "/w/small.txt", attrs: { mode: 0o600 } })],
    [
      "fs.setXattr",
      () => call("fs.setXattr", { path: "/w/small.txt", name: "x", value: new TextEncoder().encode("1") }),
    ],
    ["fs.removeXattr", () => call("fs.removeXattr", { path: "/w/small.txt", name: "x" })],
    ["fs.setTag", () => call("fs.setTag", { path: "/w/small.txt", key: "k", value: "v" })],
    ["fs.removeTag", () => call("fs.removeTag", { path: "/w/small.txt", key: "k" })],
    ["snapshot.create", () => call("snapshot.create", { name: "s1" })],
    ["fs.copyFile", () => call("fs.copyFile", { from: "/w/small.txt", to: "/w/copy.txt" })],
    ["fs.rename", () => call("fs.rename", { from: "/w/hard", to: "/w/hard2" })],
    ["fs.unlink", () => call("fs.unlink", { path: "/w/hard2" })],
    ["fs.revert", () => call("fs.revert", { path: "/w/small.txt", asOf: { snapshot: "s1" } })],
    [
      "fs.batch",
      () =>
        call("fs.batch", {
          ops: [
            { op: "mkdir", path: "/w/e" },
            { op: "setTag", path: "/w/small.txt", key: "b", value: "1" },
          ],
        }),
    ],
    ["fs.rmdir", () => call("fs.rmdir", { path: "/w/e" })],
    ["snapshot.delete", () => call("snapshot.delete", { name: "s1" })],
    ["objective.set", () => call("objective.set", { path: "/w", text: "keep 1 copies on volume:v" })],
    ["objective.remove", () => call("objective.remove", { path: "/w" })],
    ["retention.set", () => call("retention.set", { policy: "all 1h; daily 30d" })],
    [
      "placement.sweep",
      async () => {
        state.job = ((await call("placement.sweep", {})) as { id: string }).id;
      },
    ],
    ["job.cancel", () => call("job.cancel", { id: state.job })],
    ["pfs.create", () => call("pfs.create", { name: "other" })],
    ["pfs.delete", () => call("pfs.delete", { name: "other" })],
    [
      "token.create",
      async () => {
        state.token = (
          (await call("token.create", { pfs: "default", rights: ["read"], ttlSeconds: 3600 })) as {
            id: string;
          }
        ).id;
      },
    ],
    ["token.list", () => call("token.list", {})],
    ["token.revoke", () => call("token.revoke", { id: state.token ?? "missing" })],
    // A new signing key; the admin token's key keeps verifying (no retire).
    ["token.rotateKey", () => call("token.rotateKey", {})],
    ["volume.add", () => call("volume.add", { name: "v2", kind: "local", config: { root: volumeRoot } })],
    ["volume.drain", () => call("volume.drain", { name: "v2" })],
    ["volume.remove", () => call("volume.remove", { name: "v2" })],
    ["vacuum.run", () => call("vacuum.run", {})],
    ["scrub.run", () => call("scrub.run", {})],
    ["fsck.run", () => call("fsck.run", {})],
    [
      "backup.create",
      async () => {
        const made = (await call("backup.create", { pfs: "default", volume: "v" })) as { id?: string };
        state.bundle = made.id;
      },
    ],
    [
      "backup.restore",
      () =>
        call("backup.restore", {
          name: "restored",
          volume: "v",
          prefix: "backups/default",
          bundle: state.bundle ?? "missing",
        }),
    ],
    ["mirror.create", () => call("mirror.create", { source: "default", target: "m1" })],
    ["mirror.run", () => call("mirror.run", { name: "m1" })],
    ["mirror.promote", () => call("mirror.promote", { name: "m1" })],
  ];
}

describe("HTTP: a lost reply on every mutating operation", () => {
  let fx: ApiFixture;

  /** A PFS op on `default` with an admin token and an Idempotency-Key, over real HTTP. */
  const sendKeyed = (op: string, key: string, input: unknown) =>
    fetch(`${fx.deployment.endpoint}/v1/pfs/default/ops/${op}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${fx.adminToken}`,
        "content-type": "application/json",
        "idempotency-key": key,
      },
      body: JSON.stringify(input),
    });
  let proxy: LossyProxy;
  beforeEach(async () => {
    fx = await startApiFixture("local", undefined, { chunkSize: 64 * 1024 });
    proxy = await startLossyProxy(fx.deployment.endpoint);
  });
  afterEach(async () => {
    await proxy.close();
    await fx.dispose();
  });

  async function run(idempotencyKeys: boolean): Promise<string[]> {
    const client = createClient(
      remoteDeployment({ endpoint: proxy.endpoint, token: fx.adminToken, pfs: "default", idempotencyKeys }),
      "default",
    );
    const call: Call = (op, input) => client.admin.call(op, input);
    const failed: string[] = [];
    for (const [name, step] of workload(client, call, `${fx.dir}/volume2`)) {
      try {
        await step();
      } catch (err) {
        failed.push(`${name}: ${isStrataError(err) ? err.code : String(err)}`);
      }
    }
    await client.close();
    return failed;
  }

  it("every call succeeds with its original response, byte for byte, and every mutating operation was hit", async () => {
    expect(await run(true)).toEqual([]);
    const differing: string[] = [];
    for (const [id, lost] of proxy.dropped) {
      const retried = proxy.answered.get(id);
      if (!retried || retried.status !== lost.status || retried.body !== lost.body)
        differing.push(`${lost.op}: lost ${lost.status}, retry ${retried?.status ?? "none"}`);
      expect(lost.status, `${lost.op} succeeded the first time`).toBe(200);
    }
    expect(differing).toEqual([]);
    const hit = new Set([...proxy.dropped.values()].map((e) => e.op));
    console.log(
      `[idempotency] HTTP lost replies: ${proxy.dropped.size} calls lost their reply, ${proxy.dropped.size - differing.length} got the original back, ${hit.size} operations`,
    );
    const mutating = [...registry.values()].filter(isMutating).map((op) => op.name);
    expect(mutating.filter((name) => !hit.has(name))).toEqual([]);
  });

  it("counter-check: without Idempotency-Key the retried calls fail or answer differently", async () => {
    const failed = await run(false);
    expect(failed).toContain("fs.mkdir: EEXIST");
    let differing = 0;
    for (const [id, lost] of proxy.dropped) {
      const retried = proxy.answered.get(id);
      if (!retried || retried.status !== lost.status || retried.body !== lost.body) differing++;
    }
    console.log(
      `[idempotency] counter-check without keys: ${failed.length} steps failed, ${differing} of ${proxy.dropped.size} retries answered differently`,
    );
    // Creations answer EEXIST the second time; many more differ (observed 21–28 of ~40).
    expect(failed).toEqual(expect.arrayContaining(["snapshot.create: EEXIST", "pfs.create: EEXIST"]));
    expect(differing).toBeGreaterThanOrEqual(10);
  });

  /**
   * The server died after the commit but before it recorded the HTTP response (simulated by
   * deleting that record): the retry is answered from the idempotency record the commit wrote in
   * its own transaction. Counter-check: without that record too, the retry fails.
   */
  async function crashBeforeRecording(dropNamespaceRecord: boolean): Promise<string[]> {
    const services = fx.deployment.services;
    const { tokenId } = await services.tokens.verify(fx.adminToken);
    const send = (op: string, key: string, input: unknown) =>
      sendKeyed(op, key, input).then(async (r) => ({ status: r.status, body: await r.text() }));
    const steps: Array<[string, unknown]> = [
      ["fs.mkdir", { path: "/c" }],
      ["fs.symlink", { target: "/c", path: "/c/ln" }],
      ["fs.setTag", { path: "/c", key: "k", value: "v" }],
      ["fs.rename", { from: "/c/ln", to: "/c/ln2" }],
      ["fs.unlink", { path: "/c/ln2" }],
      ["fs.batch", { ops: [{ op: "mkdir", path: "/c/d" }] }],
      ["fs.rmdir", { path: "/c/d" }],
    ];
    const wrong: string[] = [];
    for (const [op, input] of steps) {
      const key = `crash-${op}-${dropNamespaceRecord}`;
      const first = await send(op, key, input);
      expect(first.status, `${op}: ${first.body}`).toBe(200);
      await services.store.delete({ pk: `idem#http#${tokenId}#${key}`, sk: "r" });
      if (dropNamespaceRecord) {
        const pfsId = String((await services.store.get(registryKey("default")))?.id);
        await services.store.delete(recordKey(pfsId, hash64(`${tokenId}\u0000${key}`) + hash64(key)));
      }
      const again = await send(op, key, input);
      if (again.status !== first.status || again.body !== first.body) wrong.push(`${op}: ${again.status}`);
    }
    return wrong;
  }

  it("the server died between commit and recording the response: the retry still gets the original response", async () => {
    expect(await crashBeforeRecording(false)).toEqual([]);
  });

  it("counter-check: without the commit's own idempotency record, those retries fail", async () => {
    const wrong = await crashBeforeRecording(true);
    expect(wrong).toContain("fs.mkdir: 409");
    expect(wrong.length).toBeGreaterThanOrEqual(5);
  });

  it("the same key for a different request is 422 and runs nothing; a malformed key is 400; a replay says so", async () => {
    const send = (op: string, key: string, input: unknown) =>
      sendKeyed(op, key, input).then(async (r) => ({
        status: r.status,
        replayed: r.headers.get("idempotent-replayed"),
        body: JSON.parse(await r.text()),
      }));
    const first = await send("fs.mkdir", "k-1", { path: "/x" });
    expect(first.status).toBe(200);
    expect(first.replayed).toBeNull();
    const replay = await send("fs.mkdir", "k-1", { path: "/x" });
    expect(replay).toEqual({ ...first, replayed: "true" });
    const other = await send("fs.mkdir", "k-1", { path: "/y" });
    expect(other.status).toBe(422);
    expect(other.body.error).toMatchObject({ code: "EINVAL", details: { idempotency: "mismatch" } });
    expect((await send("fs.stat", "k-2", { path: "/y" })).status).toBe(404);
    expect((await send("fs.mkdir", "bad key", { path: "/z" })).status).toBe(400);
    expect((await send("fs.stat", "k-1", { path: "/x" })).status).toBe(200);
  });
});

/**
 * "Applied, the server died before recording the reply" on every mutating operation that does not
 * commit through the namespace engine (registry `afterCrash` ≠ "engine"): the test-only hook in
 * functions/api/idempotency.ts lets the first run apply, leaves its pending claim instead of the
 * recorded response, and fails the request as a lost reply (503); the SDK retries with the same
 * key, finds the claim and the operation runs in recovery mode. Every call must succeed with the
 * ORIGINAL response body (token.create: the same token string).
 *
 * Counter-check: `crashTestHooks.recovery = false` (the retry runs as a fresh call): token.create
 * mints another token, pfs.create answers EEXIST, deletes answer ENOENT.
 */
describe("HTTP: the server died between applying and recording, on every non-engine operation", () => {
  let fx: ApiFixture;
  beforeEach(async () => {
    fx = await startApiFixture("local", undefined, { chunkSize: 64 * 1024 });
  });
  afterEach(async () => {
    for (const k of Object.keys(crashTestHooks)) delete crashTestHooks[k as keyof typeof crashTestHooks];
    await fx.dispose();
  });

  async function run(recovery: boolean) {
    const lost = new Map<string, { op: string; step: string; body: string }>();
    const retried = new Map<string, { status: number; body: string }>();
    let current = "";
    Object.assign(crashTestHooks, {
      loseAfterApply: true,
      recovery,
      lost: (key: string, r: ApiResponse, op: string) => lost.set(key, { op, step: current, body: r.body }),
      retried: (key: string, r: ApiResponse) => retried.set(key, { status: r.status, body: r.body }),
    });
    const client = createClient(
      remoteDeployment({ endpoint: fx.deployment.endpoint, token: fx.adminToken, pfs: "default" }),
      "default",
    );
    const call: Call = (op, input) => client.admin.call(op, input);
    const failed: string[] = [];
    for (const [name, step] of workload(client, call, `${fx.dir}/volume2`)) {
      current = name;
      try {
        await step();
      } catch (err) {
        failed.push(`${name}: ${isStrataError(err) ? err.code : String(err)}`);
      }
    }
    await client.close();
    // Ops declared "runs-again" (a new run's report, a new session…) must succeed, not repeat.
    const differing: string[] = [];
    let same = 0;
    for (const [key, first] of lost) {
      const again = retried.get(key);
      if (again?.status !== 200) differing.push(`${first.op}: ${again?.status ?? "no retry"}`);
      else if (again.body === first.body) same++;
      else if (registry.get(first.op)?.afterCrash !== "runs-again")
        differing.push(`${first.op}: 200 ${again.body.slice(0, 120)}`);
    }
    return { failed, differing, same, lost: lost.size, hit: new Set([...lost.values()].map((l) => l.op)) };
  }

  it("every keyed retry gets the original success (token.create: the same token), on every such operation", async () => {
    const { failed, differing, hit, same, lost } = await run(true);
    expect(failed).toEqual([]);
    expect(differing).toEqual([]);
    const nonEngine = [...registry.values()]
      .filter((op) => isMutating(op) && op.afterCrash !== "engine")
      .map((op) => op.name);
    console.log(
      `[idempotency] crash before recording: ${lost} calls applied without a recorded reply, ${hit.size} of ${nonEngine.length} non-engine operations; all succeeded on retry, ${same} with the original body byte for byte (the rest are declared "runs-again")`,
    );
    expect(nonEngine.filter((name) => !hit.has(name))).toEqual([]);
  });

  it("counter-check: with recovery disabled, token.create mints another token and creates/deletes fail", async () => {
    const { failed, differing } = await run(false);
    console.log(`[idempotency] counter-check: failed ${failed.join(", ")}; differing ${differing.length}`);
    expect(failed).toEqual(expect.arrayContaining(["pfs.create: EEXIST", "pfs.delete: ENOENT"]));
    expect(differing.some((d) => d.startsWith("token.create: 200"))).toBe(true);
  });
});

/**
 * Two requests with the same key at once: the first claims the key (create-only), the second is
 * told to call again (504 ETIMEDOUT, `again: true`, `idempotency: "in-flight"`, retried by the
 * SDK) instead of running the operation a second time. Counter-check: without the claim
 * (`crashTestHooks.claim = false`) both run and the original request fails with EEXIST.
 */
describe("HTTP: a second request with the same key while the first runs", () => {
  let fx: ApiFixture;
  beforeEach(async () => {
    fx = await startApiFixture("local");
  });
  afterEach(async () => {
    for (const k of Object.keys(crashTestHooks)) delete crashTestHooks[k as keyof typeof crashTestHooks];
    await fx.dispose();
  });

  async function race(claim: boolean) {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let held = false;
    Object.assign(crashTestHooks, {
      claim,
      // Only the first run waits at the gate (after its claim, before the operation).
      beforeRun: async () => {
        if (held) return;
        held = true;
        entered();
        await gate;
      },
    });
    const send = () =>
      fetch(`${fx.deployment.endpoint}/v1/ops/pfs.create`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${fx.adminToken}`,
          "content-type": "application/json",
          "idempotency-key": "same-key",
        },
        body: JSON.stringify({ name: "p2" }),
      }).then(async (r) => ({ status: r.status, body: JSON.parse(await r.text()) }));
    const first = send();
    await inside;
    const second = await send();
    release();
    return { first: await first, second, third: await send() };
  }

  it("the second is told to call again and does not run; the first answers, and so does a later retry", async () => {
    const { first, second, third } = await race(true);
    expect(second.status).toBe(504);
    expect(second.body.error).toMatchObject({
      code: "ETIMEDOUT",
      details: { again: true, idempotency: "in-flight" },
    });
    expect(first.status).toBe(200);
    expect(third).toEqual(first);
  });

  it("counter-check: without the claim both run and the original request fails", async () => {
    const { first, second } = await race(false);
    expect(second.status).toBe(200);
    expect(first.status).toBe(409);
    expect(first.body.error.code).toBe("EEXIST");
  });
});

/**
 * The server died after writing the claim but BEFORE applying: the retry finds the pending claim
 * and runs in recovery mode, which must still apply the operation (recovery only reinterprets a
 * re-run's failure). The claim is written by hand here, as the first request would have.
 */
describe("HTTP: the server died after claiming the key, before applying", () => {
  let fx: ApiFixture;
  beforeEach(async () => {
    fx = await startApiFixture("local");
  });
  afterEach(async () => {
    await fx.dispose();
  });

  it("the retry applies the operation (pfs.create makes the PFS, token.create a working token)", async () => {
    const services = fx.deployment.services;
    const { tokenId } = await services.tokens.verify(fx.adminToken);
    const claimThenRetry = async (op: string, key: string, input: unknown) => {
      const body = JSON.stringify(input);
      await services.store.put({
        pk: `idem#http#${tokenId}#${key}`,
        sk: "r",
        state: "pending",
        fp: createHash("sha256").update(`${op}\n\n${body}`).digest("hex"),
        expiresAt: Math.floor(services.clock() / 1000) + 3600,
      });
      const r = await fetch(`${fx.deployment.endpoint}/v1/ops/${op}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${fx.adminToken}`,
          "content-type": "application/json",
          "idempotency-key": key,
        },
        body,
      });
      return { status: r.status, body: JSON.parse(await r.text()) };
    };
    const pfs = await claimThenRetry("pfs.create", "never-ran-1", { name: "late" });
    expect(pfs.status, JSON.stringify(pfs.body)).toBe(200);
    expect((await services.namespace.listPfs()).map((p) => p.name)).toContain("late");
    const token = await claimThenRetry("token.create", "never-ran-2", { pfs: "late", rights: ["read"] });
    // The body names the refusal if this fails again (it failed once, 403, in a loaded full run).
    expect(token.status, JSON.stringify(token.body)).toBe(200);
    expect((await services.tokens.verify(token.body.token)).pfs).toBe("late");
  });
});
