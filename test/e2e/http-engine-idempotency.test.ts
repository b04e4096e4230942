/**
 * Keyed create / unlink / rename over real HTTP are answered by the namespace's own idempotency
 * record (core/namespace/idempotency.ts), written IN the operation's commit: the HTTP layer writes
 * no response record for them (functions/api/idempotency.ts `engineAnswers`). A proxy
 * (test/support/lossy-proxy.ts) loses the first reply of every mutating call; the SDK retries
 * with the same Idempotency-Key.
 *
 * Property (fast-check, fixed seed): for any sequence of writeFile (one `upload.commit`: create,
 * or a new version of an existing file) / unlink / rename over a few names, every call succeeds,
 * its retry answers the lost reply byte for byte, the live names are the model's, every file has
 * exactly the versions the model counts (nothing written twice), and no HTTP response record was
 * written for a lone create, unlink or rename (the namespace's record alone carried the retry).
 *
 * Counter-check: `crashTestHooks.engineRecord = false` (the namespace gets no key, so its commit
 * records nothing, while the HTTP layer still skips its own record): the property fails.
 */
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isStrataError } from "../../core/errors.ts";
import { crashTestHooks } from "../../functions/api/idempotency.ts";
import { createClient } from "../../sdk/client.ts";
import { remoteDeployment } from "../../sdk/remote.ts";
import { type ApiFixture, startApiFixture } from "../support/api-server.ts";
import { type LossyProxy, startLossyProxy } from "../support/lossy-proxy.ts";

const NAMES = ["a", "b", "c"] as const;
type Step =
  | { op: "write"; name: string }
  | { op: "unlink"; name: string }
  | { op: "rename"; from: string; to: string };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant("write" as const), name: fc.constantFrom(...NAMES) }),
  fc.record({ op: fc.constant("unlink" as const), name: fc.constantFrom(...NAMES) }),
  fc.record({
    op: fc.constant("rename" as const),
    from: fc.constantFrom(...NAMES),
    to: fc.constantFrom(...NAMES),
  }),
);

describe("HTTP: a lost reply of create, unlink and rename is answered by the namespace's record", () => {
  let fx: ApiFixture;
  let proxy: LossyProxy;
  /** Calls whose retry was checked to have no HTTP response record. */
  let checkedLone = 0;
  beforeAll(async () => {
    fx = await startApiFixture("local");
    proxy = await startLossyProxy(fx.deployment.endpoint);
  });
  afterEach(() => {
    delete crashTestHooks.engineRecord;
  });
  afterAll(async () => {
    await proxy.close();
    await fx.dispose();
  });

  /** Run the property; the first failure it found (undefined when it held). */
  async function property(label: string, numRuns: number): Promise<string | undefined> {
    const client = createClient(
      remoteDeployment({ endpoint: proxy.endpoint, token: fx.adminToken, pfs: "default" }),
      "default",
    );
    const store = fx.deployment.services.store;
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 6 }), async (steps) => {
          const dir = `/${label}${run++}`;
          // Made directly (not through the lossy proxy): the property is about the steps below.
          await fx.deployment.services.namespace.pfs("default").mkdir(dir);
          // The model: live name → versions its file has (writes; a rename moves the file).
          const model = new Map<string, number>();
          const lone: string[] = []; // keys of calls that must not leave an HTTP record
          for (const s of steps) {
            const before = new Set(proxy.dropped.keys());
            if (s.op === "write") {
              const fresh = !model.has(s.name);
              await client.writeFile(`${dir}/${s.name}`, `v${(model.get(s.name) ?? 0) + 1}`);
              model.set(s.name, (model.get(s.name) ?? 0) + 1);
              if (fresh) lone.push(...newKeys(before));
            } else if (s.op === "unlink") {
              if (!model.has(s.name)) continue;
              await client.unlink(`${dir}/${s.name}`);
              model.delete(s.name);
              lone.push(...newKeys(before));
            } else {
              if (!model.has(s.from) || s.from === s.to) continue;
              await client.rename(`${dir}/${s.from}`, `${dir}/${s.to}`);
              model.set(s.to, model.get(s.from)!);
              model.delete(s.from);
              lone.push(...newKeys(before));
            }
          }
          // Every lost reply came back byte for byte on the retry.
          for (const [id, lost] of proxy.dropped) {
            const again = proxy.answered.get(id);
            expect(again, `${lost.op}: retried`).toBeDefined();
            expect({ status: again!.status, body: again!.body }, `${lost.op}: the original answer`).toEqual({
              status: lost.status,
              body: lost.body,
            });
          }
          // The namespace holds what the model says, each file written exactly as often.
          const names = (await client.readdir(dir)).sort();
          expect(names).toEqual([...model.keys()].sort());
          for (const [name, versions] of model) {
            const contentVersions = (await client.history(`${dir}/${name}`)).filter(
              (v) => v.change !== "rename",
            );
            expect(contentVersions.length, `${dir}/${name}: versions`).toBe(versions);
          }
          // The namespace's record alone answered these retries: no HTTP response record.
          const { tokenId } = await fx.deployment.services.tokens.verify(fx.adminToken);
          checkedLone += lone.length;
          for (const key of lone)
            expect(await store.get({ pk: `idem#http#${tokenId}#${key}`, sk: "r" }), key).toBeUndefined();
        }),
        { numRuns, seed: 1507, endOnFailure: true },
      );
      return undefined;
    } catch (err) {
      const cause = (err as Error).cause ?? err;
      const why = isStrataError(cause) ? `${cause.code}: ${cause.message}` : String((cause as Error).message);
      return `${why}\n${(err as Error).message.split("\n").slice(0, 3).join("\n")}`;
    } finally {
      await client.close();
    }
  }

  /** Idempotency keys of the calls lost since `before` (the proxy ids are `key:<key>`). */
  function newKeys(before: Set<string>): string[] {
    return [...proxy.dropped.keys()].filter((id) => !before.has(id)).map((id) => id.slice("key:".length));
  }

  it("every retry gets the first answer, writes once, and no HTTP record was needed", async () => {
    const failure = await property("p", 25);
    if (failure) console.log(failure);
    expect(failure).toBeUndefined();
    expect(proxy.dropped.size).toBeGreaterThan(25);
    expect(checkedLone).toBeGreaterThan(25);
  });

  it("counter-check: without the namespace's record (test-only switch) the property fails", async () => {
    crashTestHooks.engineRecord = false;
    const failure = await property("q", 25);
    console.log(`[idempotency] counter-check without the namespace record: ${failure}`);
    // The retry of a lone create, unlink or rename: answered anew (a second version), or it fails.
    expect(failure).toMatch(/ENOENT|EEXIST|the original answer|versions/);
  });
});
