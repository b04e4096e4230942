/**
 * Concurrency test of the namespace engine: several engine instances (separate
 * `createNamespace` over the same store — separate clients) race creates, renames and unlinks in
 * the same few directories, and opposite directory moves (A → B/A while B → A/B), on a
 * deterministic random schedule. Afterwards the tree must be whole:
 * - every file a client created (unique name, only its creator renames or unlinks it, so its
 *   final place is known) is present exactly once where its last successful op put it, or gone
 *   if that op was an unlink;
 * - contended names (all clients create, rename and unlink the same few names) hold only
 *   objects some successful create made, each at most once;
 * - every entry points at a live inode (lstat works), every file's nlink equals the entries that
 *   name it, no directory is reachable twice, and the two racing directories are each reachable
 *   exactly once (so the opposite moves did not both succeed: no cycle cut off from the root);
 * - every failed op failed with a StrataError of an expected code; ECONFLICT (lost a race after
 *   the engine's retries) is allowed and counted, and the counts are printed.
 *
 * `testNamespaceConcurrency(name, factory, options)`: `factory(n)` gives n stores over one
 * backing table/file (or one shared store n times). `STRATA_RACE_ROUNDS` / `STRATA_RACE_SEED`
 * scale a run up or replay one.
 */
import { describe, expect, it } from "vitest";
import { type ErrorCode, isStrataError } from "../../core/errors.ts";
import type { MetadataStore } from "../../core/metadata/port.ts";
import type { FileSystem } from "../../core/namespace/api.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { mulberry32 } from "../../core/random.ts";

export type ConcurrencyStoreFactory = (
  clients: number,
) => Promise<{ stores: MetadataStore[]; dispose: () => Promise<void> }>;

export interface ConcurrencyOptions {
  clients?: number;
  opsPerClient?: number;
  /** Rounds, each on a fresh PFS with a new seed. */
  rounds?: number;
  seed?: number;
  timeoutMs?: number;
}

/** Codes a racing op may fail with: what it lost to, or ECONFLICT after the engine's retries. */
const EXPECTED: ReadonlySet<ErrorCode> = new Set([
  "ENOENT",
  "EEXIST",
  "EINVAL",
  "ENOTEMPTY",
  "ENOTDIR",
  "EISDIR",
  "ECONFLICT",
]);

const FILE_DIRS = ["/F0", "/F1", "/F2"];
const SHARED = ["s0", "s1", "s2"];
/** The two directories that race opposite moves, wherever they currently are. */
const MOVES: Array<[string, string]> = [
  ["/M/A", "/M/B/A"],
  ["/M/B", "/M/A/B"],
  ["/M/B/A", "/M/A"],
  ["/M/A/B", "/M/B"],
];

/** Rounds of the same-instant opposite-moves race per round. */
const OPPOSITE_PAIRS = 10;

export interface RaceReport {
  ok: Record<string, number>;
  failed: Record<string, number>;
  conflicts: number;
}

interface OwnedFile {
  ino: string;
  /** Where it is now (or undefined after a successful unlink). */
  path: string | undefined;
}

/** One round: set up, race, check. Returns counts of outcomes. */
export async function raceRound(fss: FileSystem[], seed: number, opsPerClient: number): Promise<RaceReport> {
  const admin = fss[0]!;
  for (const d of [...FILE_DIRS, "/M", "/M/A", "/M/B", "/M/A/a1", "/M/B/b1"]) await admin.mkdir(d);
  const dirA = (await admin.stat("/M/A")).ino;
  const dirB = (await admin.stat("/M/B")).ino;

  const report: RaceReport = { ok: {}, failed: {}, conflicts: 0 };
  const sharedCreated = new Set<string>();
  const owned: OwnedFile[] = [];
  const unexpected: string[] = [];

  /** Runs one op, counts its outcome; `{ value }` on success, undefined on a failure. */
  async function attempt<T>(label: string, fn: () => Promise<T>): Promise<{ value: T } | undefined> {
    try {
      const value = await fn();
      report.ok[label] = (report.ok[label] ?? 0) + 1;
      return { value };
    } catch (err) {
      if (!isStrataError(err)) {
        unexpected.push(`${label}: not a StrataError: ${String((err as Error)?.stack ?? err)}`);
        return undefined;
      }
      const key = `${label}:${err.code}`;
      report.failed[key] = (report.failed[key] ?? 0) + 1;
      if (err.code === "ECONFLICT") report.conflicts++;
      if (!EXPECTED.has(err.code)) unexpected.push(`${label}: ${err.message}`);
      return undefined;
    }
  }

  async function client(c: number): Promise<void> {
    const fs = fss[c]!;
    const rand = mulberry32(seed * 7919 + c);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const mine: OwnedFile[] = [];
    let n = 0;
    for (let i = 0; i < opsPerClient; i++) {
      // A few turns of the event loop between ops so the clients interleave differently.
      for (let y = Math.floor(rand() * 3); y > 0; y--) await new Promise((r) => setImmediate(r));
      const r = rand();
      const live = mine.filter((f) => f.path !== undefined);
      if (r < 0.3 || live.length === 0) {
        const path = `${pick(FILE_DIRS)}/f${c}_${n++}`;
        const st = await attempt("create", () => fs.create(path));
        if (st) {
          const f = { ino: st.value.ino, path };
          mine.push(f);
          owned.push(f);
        }
      } else if (r < 0.42) {
        const f = pick(live);
        const to = `${pick(FILE_DIRS)}/r${c}_${n++}`;
        // Only its owner moves this file, so its place is known; a failed rename (ECONFLICT after
        // retries) must have left it where it was.
        if (await attempt("rename own file", () => fs.rename(f.path!, to))) f.path = to;
      } else if (r < 0.5) {
        const f = pick(live);
        if (await attempt("unlink own file", () => fs.unlink(f.path!))) f.path = undefined;
      } else if (r < 0.65) {
        const st = await attempt("create contended", () => fs.create(`/F0/${pick(SHARED)}`));
        if (st) sharedCreated.add(st.value.ino);
      } else if (r < 0.72) {
        await attempt("unlink contended", () => fs.unlink(`/F0/${pick(SHARED)}`));
      } else if (r < 0.8) {
        await attempt("rename contended", () => fs.rename(`/F0/${pick(SHARED)}`, `/F0/${pick(SHARED)}`));
      } else {
        const [from, to] = pick(MOVES);
        await attempt("move directory", () => fs.rename(from, to));
      }
    }
  }

  await Promise.all(fss.map((_, c) => client(c)));

  // Opposite moves fired at the same instant from two clients, from a known start each time.
  const [c0, c1] = [fss[0]!, fss[1 % fss.length]!];
  for (let i = 0; i < OPPOSITE_PAIRS; i++) {
    await attempt("reset", () => admin.rename("/M/B/A", "/M/A"));
    await attempt("reset", () => admin.rename("/M/A/B", "/M/B"));
    // Alternate who starts first, and by how many turns of the event loop (0 = same instant).
    const lag = async (turns: number) => {
      for (let t = 0; t < turns; t++) await new Promise((r) => setImmediate(r));
    };
    const turns = Math.floor(i / 2) % 3;
    const [x, y] = await Promise.all([
      lag(i % 2 === 0 ? 0 : turns).then(() =>
        attempt("opposite move A→B/A", () => c0.rename("/M/A", "/M/B/A")),
      ),
      lag(i % 2 === 0 ? turns : 0).then(() =>
        attempt("opposite move B→A/B", () => c1.rename("/M/B", "/M/A/B")),
      ),
    ]);
    if (x && y) unexpected.push(`pair ${i}: both opposite moves succeeded`);
  }
  if (unexpected.length > 0)
    throw new Error(
      `racing ops went wrong (${unexpected.length}):\n  ${unexpected.slice(0, 20).join("\n  ")}`,
    );

  // The tree afterwards, walked from the root by a fresh view
  const entries: Array<{ path: string; ino: string; type: string; nlink: number }> = [];
  const seenDirs = new Set<string>();
  const problems: string[] = [];
  const walk = async (path: string): Promise<void> => {
    let cursor: string | undefined;
    do {
      const page = await admin.readdir(path, cursor === undefined ? {} : { cursor });
      for (const e of page.entries) {
        const child = `${path === "/" ? "" : path}/${e.name}`;
        const st = await admin.lstat(child).catch((err: unknown) => {
          problems.push(`entry ${child} → ino ${e.ino} does not lead to a live inode: ${String(err)}`);
          return undefined;
        });
        if (!st) continue;
        if (st.ino !== e.ino) problems.push(`entry ${child} says ino ${e.ino}, lstat says ${st.ino}`);
        entries.push({ path: child, ino: st.ino, type: st.type, nlink: st.nlink });
        if (st.type === "dir") {
          if (seenDirs.has(st.ino)) problems.push(`directory ${st.ino} reachable twice (at ${child})`);
          else {
            seenDirs.add(st.ino);
            await walk(child);
          }
        }
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
  };
  await walk("/");

  const byIno = new Map<string, string[]>();
  for (const e of entries) byIno.set(e.ino, [...(byIno.get(e.ino) ?? []), e.path]);
  for (const e of entries)
    if (e.type !== "dir" && e.nlink !== byIno.get(e.ino)!.length)
      problems.push(`${e.path}: nlink ${e.nlink} but ${byIno.get(e.ino)!.length} entries name ino ${e.ino}`);
  for (const d of [dirA, dirB])
    if ((byIno.get(d) ?? []).length !== 1)
      problems.push(`racing directory ${d} reachable ${(byIno.get(d) ?? []).length} times (expected 1)`);
  const aUnderB = (byIno.get(dirA) ?? []).some((p) => p.startsWith("/M/B/"));
  const bUnderA = (byIno.get(dirB) ?? []).some((p) => p.startsWith("/M/A/"));
  if (aUnderB && bUnderA) problems.push("both opposite moves took effect");

  for (const f of owned) {
    const at = byIno.get(f.ino) ?? [];
    if (f.path === undefined) {
      if (at.length > 0) problems.push(`file ${f.ino} was unlinked but is at ${at.join(", ")}`);
    } else if (at.length !== 1 || at[0] !== f.path)
      problems.push(`file ${f.ino} should be at ${f.path} only, is at [${at.join(", ")}]`);
  }
  const ownedInos = new Set(owned.map((f) => f.ino));
  for (const e of entries) {
    if (e.type === "dir") continue;
    const name = e.path.slice(e.path.lastIndexOf("/") + 1);
    if (SHARED.includes(name)) {
      if (!sharedCreated.has(e.ino))
        problems.push(`${e.path} holds ino ${e.ino}, which no successful create made`);
      if (byIno.get(e.ino)!.length !== 1)
        problems.push(`contended file ${e.ino} appears at ${byIno.get(e.ino)!.join(", ")}`);
    } else if (!ownedInos.has(e.ino))
      problems.push(`${e.path} holds ino ${e.ino}, which no successful create made`);
  }
  if (problems.length > 0)
    throw new Error(
      `the tree after the race is broken (${problems.length}):\n  ${problems.slice(0, 20).join("\n  ")}`,
    );
  return report;
}

/** Registers the concurrency test for one backend. */
export function testNamespaceConcurrency(
  name: string,
  factory: ConcurrencyStoreFactory,
  options: ConcurrencyOptions = {},
): void {
  const clients = options.clients ?? 3;
  const opsPerClient = options.opsPerClient ?? 60;
  const rounds = Number(process.env.STRATA_RACE_ROUNDS ?? "") || (options.rounds ?? 3);
  const seed = Number(process.env.STRATA_RACE_SEED ?? "") || (options.seed ?? 1121);

  describe(`namespace engine on ${name} under racing clients`, () => {
    it(`${clients} clients × ${opsPerClient} racing ops × ${rounds} rounds leave no entry lost, duplicated or orphaned and no cycle`, {
      timeout: options.timeoutMs ?? 300_000,
    }, async () => {
      const { stores, dispose } = await factory(clients);
      const total: RaceReport = { ok: {}, failed: {}, conflicts: 0 };
      try {
        const namespaces = stores.map((store) => createNamespace({ store }));
        for (let round = 0; round < rounds; round++) {
          const pfs = `race${round}`;
          await namespaces[0]!.createPfs(pfs);
          const r = await raceRound(
            namespaces.map((ns) => ns.pfs(pfs)),
            seed + round,
            opsPerClient,
          ).catch((err: unknown) => {
            throw new Error(
              `round ${round} (STRATA_RACE_SEED=${seed + round} replays it first): ${String(err)}`,
              {
                cause: err,
              },
            );
          });
          for (const [k, v] of Object.entries(r.ok)) total.ok[k] = (total.ok[k] ?? 0) + v;
          for (const [k, v] of Object.entries(r.failed)) total.failed[k] = (total.failed[k] ?? 0) + v;
          total.conflicts += r.conflicts;
        }
      } finally {
        await dispose();
      }
      // Transactions sent vs changes that succeeded: the excess is the engine's internal retries.
      const sent = [...new Set(stores)].reduce((n, st) => n + st.requestCounts().TransactWriteItems, 0);
      const changes = Object.values(total.ok).reduce((n, v) => n + v, 0);
      console.log(
        `[namespace concurrency] ${name}: ${JSON.stringify(total)}; TransactWriteItems sent ${sent} for ${changes} successful changes (plus setup, closes and retries)`,
      );
      // The race must have happened: some of each kind succeeded.
      expect(total.ok.create ?? 0).toBeGreaterThan(0);
      expect(total.ok["move directory"] ?? 0).toBeGreaterThan(0);
    });
  });
}
