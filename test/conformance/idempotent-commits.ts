/**
 * Idempotent commits (core/namespace/idempotency.ts), run on every metadata store: memory, SQLite
 * and DynamoDB Local (test/adapters/idempotent-commits-*.test.ts).
 *
 * "Applied, reply lost" is injected on every mutating FileSystem operation in two places:
 * - between the engine and the store (faultyStore `lostReply` on the commit: applied, then
 *   ETIMEDOUT): the engine re-sends the same transaction with the same token and the store
 *   answers "done" — on DynamoDB Local that is DynamoDB's own ClientRequestToken handling;
 * - between the engine and its caller (the call returned, the caller never saw it — e.g. the
 *   server died before replying): the caller retries with the same idempotency key on a new
 *   engine (a new process) and must get the original result, applied once.
 *
 * Counter-checks: the engine's test-only switch `idempotentCommits: false` (no tokens, no
 * records) must make both fail.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isStrataError } from "../../core/errors.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import type { FileSystem, Namespace, Tid } from "../../core/namespace/api.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { faultyStore } from "../support/faulty-store.ts";

export interface IdempotentCommitsFixture {
  store: MetadataStore;
  dispose(): Promise<void>;
}

const text = (s: string) => new TextEncoder().encode(s);
const inline = (s: string) => ({ size: s.length, inline: text(s) });

/** The tree every scenario starts from; `t0` is the TID before /d/f's second content. */
async function setup(fs: FileSystem): Promise<{ t0: Tid }> {
  await fs.mkdir("/d");
  await fs.mkdir("/e");
  await fs.create("/d/f", { content: inline("v1") });
  const t0 = await fs.currentTid();
  await fs.writeContent("/d/f", inline("v2"));
  await fs.setXattr("/d/f", "x", text("1"));
  await fs.setTag("/d/f", "t", "1");
  await fs.createSnapshot("s0");
  return { t0 };
}

interface Scenario {
  name: string;
  run(fs: FileSystem, t0: Tid): Promise<unknown>;
  /**
   * False: a retry with the key on a new engine is NOT recognised (no record to find: a deleted
   * snapshot leaves nothing that says who deleted it). Only the lost store reply is covered.
   */
  keyed?: false;
}

/** Every mutating FileSystem operation (core/namespace/api.ts) that commits a transaction. */
export const SCENARIOS: Scenario[] = [
  { name: "mkdir", run: (fs) => fs.mkdir("/n") },
  { name: "mkdir -p", run: (fs) => fs.mkdir("/p/q/r", { recursive: true }) },
  { name: "create", run: (fs) => fs.create("/d/new", { content: inline("new") }) },
  { name: "writeContent", run: (fs) => fs.writeContent("/d/f", inline("v3")) },
  { name: "rename", run: (fs) => fs.rename("/d/f", "/e/g") },
  { name: "unlink", run: (fs) => fs.unlink("/d/f") },
  { name: "rmdir", run: (fs) => fs.rmdir("/e") },
  { name: "symlink", run: (fs) => fs.symlink("/d/f", "/l") },
  { name: "link", run: (fs) => fs.link("/d/f", "/d/h") },
  { name: "setattr", run: (fs) => fs.setattr("/d/f", { mode: 0o600 }) },
  { name: "setXattr", run: (fs) => fs.setXattr("/d/f", "y", text("2")) },
  { name: "removeXattr", run: (fs) => fs.removeXattr("/d/f", "x") },
  { name: "setTag", run: (fs) => fs.setTag("/d/f", "k", "v") },
  { name: "removeTag", run: (fs) => fs.removeTag("/d/f", "t") },
  { name: "revert", run: (fs, t0) => fs.revert("/d/f", t0) },
  {
    name: "batch",
    run: (fs) =>
      fs.batch([
        { op: "mkdir", path: "/b" },
        { op: "create", path: "/b/c", options: { content: inline("c") } },
        { op: "unlink", path: "/d/f" },
      ]),
  },
  { name: "createSnapshot", run: (fs) => fs.createSnapshot("s1") },
  { name: "deleteSnapshot", run: (fs) => fs.deleteSnapshot("s0"), keyed: false },
];

/** Everything visible under "/" plus every path's version count: equal dumps = applied the same number of times. */
async function dump(fs: FileSystem): Promise<string> {
  const out: unknown[] = [];
  const walk = async (path: string): Promise<void> => {
    const st = await fs.lstat(path);
    const history = await fs.history(path);
    const entry: Record<string, unknown> = {
      path,
      type: st.type,
      mode: st.mode,
      nlink: st.nlink,
      size: st.size,
      versions: history.length,
    };
    if (st.type === "symlink") entry.target = await fs.readlink(path);
    if (st.type === "file") {
      entry.content = st.content?.inline ? new TextDecoder().decode(st.content.inline) : null;
      entry.tags = await fs.getTags(path);
      entry.xattrs = await fs.listXattrs(path);
    }
    out.push(entry);
    if (st.type === "dir")
      for (const e of (await fs.readdir(path)).entries)
        await walk(path === "/" ? `/${e.name}` : `${path}/${e.name}`);
  };
  await walk("/");
  out.push((await fs.listSnapshots()).map((s) => s.name));
  return JSON.stringify(out);
}

/** The outcome of a call, comparable across runs: "ok" or the error code. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (err) {
    return isStrataError(err) ? err.code : String(err);
  }
}

export function testIdempotentCommits(
  backend: string,
  makeStore: () => Promise<IdempotentCommitsFixture>,
  /** Scenario names to run (default: all). A slow backend runs a representative subset. */
  only?: readonly string[],
): void {
  const scenarios = only ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;
  describe(`idempotent commits: ${backend} (${scenarios.length} of ${SCENARIOS.length} operations)`, () => {
    let fixture: IdempotentCommitsFixture;
    let pfsSeq = 0;
    beforeEach(async () => {
      fixture = await makeStore();
    });
    afterEach(async () => {
      await fixture.dispose();
    });

    const sleep = async () => {};
    const engine = (store: MetadataStore, idempotentCommits = true): Namespace =>
      createNamespace({ store, options: { sleep, idempotentCommits } });

    /** A fresh PFS with the setup tree, on `ns`. */
    async function fresh(ns: Namespace): Promise<{ pfs: string; t0: Tid }> {
      const pfs = `p${++pfsSeq}`;
      await ns.createPfs(pfs);
      return { pfs, ...(await setup(ns.pfs(pfs))) };
    }

    /**
     * Each scenario with its commit's reply lost (applied, then ETIMEDOUT), against a fault-free
     * twin: the outcome and the resulting tree (with version counts) must be the twin's.
     */
    async function lostStoreReplies(idempotentCommits: boolean): Promise<string[]> {
      let armed = false;
      // The first commit after arming loses its reply; its re-send does not.
      const once = () => {
        const fire = armed;
        armed = false;
        return fire;
      };
      const lost = { fault: "lostReply" as const, when: once };
      const store = faultyStore(fixture.store, { transact: lost, put: lost, delete: lost });
      const faulted = engine(store, idempotentCommits);
      const clean = engine(fixture.store, idempotentCommits);
      const wrong: string[] = [];
      for (const s of scenarios) {
        const twin = await fresh(clean);
        const expected = await outcome(s.run(clean.pfs(twin.pfs), twin.t0));
        const mine = await fresh(faulted);
        const lostBefore = store.injected.total;
        armed = true;
        const got = await outcome(s.run(faulted.pfs(mine.pfs), mine.t0));
        armed = false;
        expect(store.injected.total, `${s.name}: a reply was lost`).toBe(lostBefore + 1);
        if (got !== expected) wrong.push(`${s.name}: ${got} (expected ${expected})`);
        else if ((await dump(faulted.pfs(mine.pfs))) !== (await dump(clean.pfs(twin.pfs))))
          wrong.push(`${s.name}: applied twice`);
      }
      return wrong;
    }

    it("a lost store reply on the commit of every mutating operation: the original success, applied once", async () => {
      expect(await lostStoreReplies(true)).toEqual([]);
    });

    it("counter-check: without transaction tokens the same lost replies are misreported or applied twice", async () => {
      const wrong = await lostStoreReplies(false);
      console.log(
        `[idempotency] ${backend}, no tokens: ${wrong.length} of ${scenarios.length} wrong: ${wrong.join("; ")}`,
      );
      expect(wrong.length).toBeGreaterThan(0);
      expect(wrong.some((w) => w.startsWith("create: EEXIST"))).toBe(true);
    });

    /**
     * Each scenario called with a key, then — its reply lost — called again with the same key on
     * a NEW engine (a restarted process): the second call must return what the first returned,
     * and change nothing.
     */
    async function retriedWithKey(idempotentCommits: boolean): Promise<string[]> {
      const wrong: string[] = [];
      for (const s of scenarios.filter((x) => x.keyed !== false)) {
        const first = engine(fixture.store, idempotentCommits);
        const { pfs, t0 } = await fresh(first);
        const key = `key-${s.name.replace(/ /g, "_")}-${pfsSeq}`;
        const original = await s.run(first.pfs(pfs, { idempotencyKey: key }), t0);
        const before = await dump(first.pfs(pfs));
        const second = engine(fixture.store, idempotentCommits);
        let again: unknown;
        try {
          again = await s.run(second.pfs(pfs, { idempotencyKey: key }), t0);
        } catch (err) {
          wrong.push(`${s.name}: ${isStrataError(err) ? err.code : String(err)}`);
          continue;
        }
        if (JSON.stringify(again) !== JSON.stringify(original)) wrong.push(`${s.name}: another result`);
        else if ((await dump(second.pfs(pfs))) !== before) wrong.push(`${s.name}: applied twice`);
      }
      return wrong;
    }

    it("a call retried with its idempotency key after its reply was lost (new process): the original result, applied once", async () => {
      expect(await retriedWithKey(true)).toEqual([]);
    });

    it("counter-check: without idempotency records the retried calls fail or apply twice", async () => {
      const wrong = await retriedWithKey(false);
      console.log(`[idempotency] ${backend}, no records: ${wrong.length} wrong: ${wrong.join("; ")}`);
      expect(wrong).toContain("create: EEXIST");
      expect(wrong.length).toBeGreaterThan(scenarios.length / 2);
    });

    it("a key reused for a different request is EINVAL (mismatch) and applies nothing", async () => {
      const ns = engine(fixture.store);
      const { pfs } = await fresh(ns);
      await ns.pfs(pfs, { idempotencyKey: "k1" }).mkdir("/a");
      const before = await dump(ns.pfs(pfs));
      const err = await ns
        .pfs(pfs, { idempotencyKey: "k1" })
        .mkdir("/b")
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(isStrataError(err, "EINVAL") && err.details.idempotency).toBe("mismatch");
      expect(await dump(ns.pfs(pfs))).toBe(before);
    });

    it("a re-send keeps its token; a re-plan after a real conflict takes a new one", async () => {
      let conflicts = 0;
      let lost = 0;
      const tokens: Array<string | undefined> = [];
      const store = faultyStore(fixture.store, {
        transact: [
          // A real conflict first (nothing applied), then a lost reply (applied).
          {
            fault: "error",
            code: "ECONFLICT",
            when: () => conflicts-- > 0,
          },
          { fault: "lostReply", when: () => lost-- > 0 },
        ],
      });
      const ns = engine(store);
      const { pfs } = await fresh(ns);
      store.log.length = 0;
      conflicts = 1;
      lost = 1;
      await ns.pfs(pfs).create("/d/z");
      for (const entry of store.log) if (entry.call.op === "transact") tokens.push(entry.call.token);
      // planned → conflict; re-planned → applied, reply lost; re-sent → "done".
      expect(tokens).toHaveLength(3);
      expect(tokens[0]).not.toBe(tokens[1]);
      expect(tokens[2]).toBe(tokens[1]);
      expect((await ns.pfs(pfs).history("/d/z")).length).toBe(1);
    });
  });
}
