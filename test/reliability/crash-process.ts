/**
 * The real-crash tier: a real `npm start` (its own home, free ports) under several concurrent SDK
 * clients over HTTP writing files of 0 B – 20 MB, tagging them so placement moves their chunks
 * between the four volumes (local, s3, azure, gcs), unlinking some, reading their own files back;
 * SIGKILL of every process of the deployment (the `npm start` group and the stand-ins, which run
 * in their own groups) 2–4 times mid-traffic; a restart after each; then checks against the
 * clients' journal of acknowledged operations:
 *
 * - 0 acknowledged writes lost: every path reads back as its last acknowledged write (or absent
 *   after an acknowledged unlink) — or as a write that was in flight at the kill (its effect is
 *   unknown: the journal keeps it as "maybe");
 * - no file mixing two versions: every content is a whole, known write (compared by SHA-256);
 * - after the last restart: fsck clean (records, and the objects of `present` instances), scrub
 *   clean (full run, both passes), `vacuum --apply`, and every retained file still byte-exact.
 *
 * `runCrashProcessTier` is used by `npm run reliability` (full size) and, small, by
 * test/e2e/crash-process.test.ts. Figures are returned; nothing is printed unless `log` is given.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { mulberry32 } from "../../core/random.ts";
import { connect } from "../../sdk/index.ts";
import type { Strata } from "../../sdk/types.ts";
import { type RunningDeployment, startNpmStart } from "../support/npm-start.ts";

const VOLUMES = ["local", "s3", "azure", "gcs"] as const;

export interface CrashProcessOptions {
  seed: number;
  /** SIGKILLs of the whole deployment (2–4 in the full tier). */
  kills: number;
  clients: number;
  /** Largest file (20 MB in the full tier). */
  maxFileBytes: number;
  /** Traffic before each kill, ms (a range: the exact time is drawn from the seed). */
  trafficMs: [number, number];
  /** STRATA_CHUNK_SIZE of the deployment. */
  chunkSize: number;
  log?: (line: string) => void;
  /** Keep the home directory (for a post-mortem). */
  keepHome?: boolean;
  /** TEST ONLY (the counter-check): azurite's own 5 s metadata autosave, as `npm start` ran it before. */
  lazyAzureSaves?: boolean;
}

export interface CrashProcessReport {
  kills: number;
  restarts: number;
  /** Acknowledged operations by kind. */
  acked: { writes: number; unlinks: number; tags: number; reads: number };
  bytesAcked: number;
  /** Operations in flight (or failing) at a kill: their effect is unknown, either outcome is fine. */
  unknown: number;
  /** Operations that failed while the server was up (not at a kill). */
  failedWhileUp: number;
  /** Paths whose content after a restart is not their last acknowledged write (nor a maybe). */
  lost: number;
  /** Reads (during traffic or after a restart) that returned bytes of no write to that path. */
  mixed: number;
  fsckProblems: number;
  scrubFindings: number;
  /** Files wrong after `vacuum --apply`. */
  lostAfterVacuum: number;
  restartSeconds: number[];
  failures: string[];
}

interface Version {
  hash: string;
  size: number;
}
/** Per path: the last acknowledged state and the writes whose outcome is unknown since. */
interface PathJournal {
  acked: Version | "absent";
  maybe: Array<Version | "absent">;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Deterministic bytes of a given size from a label (fast: SHA-256 blocks expanded by repetition with a counter). */
function contentOf(label: string, size: number): Uint8Array {
  const out = new Uint8Array(size);
  const seed = createHash("sha256").update(label).digest();
  for (let at = 0, n = 0; at < size; at += 4096, n++) {
    const block = createHash("sha256").update(seed).update(String(n)).digest();
    for (let i = 0; i < 4096 && at + i < size; i++) out[at + i] = block[i % 32]! ^ (i >> 5);
  }
  return out;
}

/** A size in 0 B – max: mostly small (inline and one-chunk files), some large. */
function sizeFrom(r: number, r2: number, max: number): number {
  if (r < 0.3) return Math.floor(r2 * 4097); // inline (≤ 4 KiB) or just above
  if (r < 0.75) return Math.floor(r2 * Math.min(max, 1024 * 1024));
  if (r < 0.95) return Math.floor(r2 * Math.min(max, 5 * 1024 * 1024));
  return Math.floor(r2 * max);
}

export async function runCrashProcessTier(options: CrashProcessOptions): Promise<CrashProcessReport> {
  const log = options.log ?? (() => {});
  const random = mulberry32(options.seed);
  const report: CrashProcessReport = {
    kills: 0,
    restarts: 0,
    acked: { writes: 0, unlinks: 0, tags: 0, reads: 0 },
    bytesAcked: 0,
    unknown: 0,
    failedWhileUp: 0,
    lost: 0,
    mixed: 0,
    fsckProblems: 0,
    scrubFindings: 0,
    lostAfterVacuum: 0,
    restartSeconds: [],
    failures: [],
  };
  const journal = new Map<string, PathJournal>();
  /** Every write ever issued per path (any outcome): what a read may legitimately return. */
  const issued = new Map<string, Set<string>>();
  const home = await mkdtemp(path.join(tmpdir(), "strata-crash-process-"));
  const env = {
    STRATA_CHUNK_SIZE: String(options.chunkSize),
    // Short, so trims happen during the traffic, but longer than a read's presigned GETs take.
    STRATA_PLACEMENT_GRACE_SECONDS: "5",
    STRATA_VACUUM_INTERVAL: "off",
    STRATA_SCRUB_INTERVAL: "off",
    STRATA_MIRROR_INTERVAL: "off",
    ...(options.lazyAzureSaves ? { STRATA_TEST_AZURITE_LAZY_SAVES: "1" } : {}),
  };
  const start = async () => {
    const t = Date.now();
    const d = await startNpmStart({ home, env });
    report.restartSeconds.push((Date.now() - t) / 1000);
    return d;
  };
  const fail = (message: string) => {
    if (report.failures.length < 20) report.failures.push(message);
  };

  /** Does the path read back as allowed by the journal? Counts lost / mixed. */
  const checkPath = async (client: Strata, p: string, when: string) => {
    const j = journal.get(p)!;
    let got: Version | "absent";
    try {
      const bytes = await client.readFile(p);
      got = { hash: sha(bytes), size: bytes.byteLength };
    } catch (err) {
      if ((err as { code?: string }).code !== "ENOENT") {
        report.lost++;
        fail(`${when}: ${p} unreadable: ${(err as Error).message}`);
        return false;
      }
      got = "absent";
    }
    const allowed = [j.acked, ...j.maybe];
    const same = (a: Version | "absent", b: Version | "absent") =>
      a === "absent" || b === "absent" ? a === b : a.hash === b.hash;
    if (allowed.some((a) => same(a, got))) return true;
    if (got !== "absent" && !issued.get(p)?.has(got.hash)) {
      report.mixed++;
      fail(`${when}: ${p} holds bytes of no write to it (size ${got.size})`);
    } else {
      report.lost++;
      fail(
        `${when}: ${p} is ${got === "absent" ? "absent" : `an older write (${got.size} B)`}, acknowledged: ${j.acked === "absent" ? "absent" : `${j.acked.size} B`}`,
      );
    }
    return false;
  };
  const checkAll = async (d: RunningDeployment, when: string) => {
    const client = await connect({ endpoint: d.endpoint, token: d.token });
    try {
      for (const p of journal.keys()) await checkPath(client, p, when);
    } finally {
      await client.close();
    }
  };

  let d = await start();
  try {
    {
      const admin = await connect({ endpoint: d.endpoint, token: d.token });
      // Tags move chunks: `vol=<volume>` wants one copy there; each client's directory has its own home volume too.
      await admin.admin.call("objective.set", {
        pfs: "default",
        path: "/",
        text: "when tag:vol place 1 on volume:$tag:vol",
      });
      for (let c = 0; c < options.clients; c++) {
        await admin.mkdir(`/c${c}`, { recursive: true });
        await admin.admin.call("objective.set", {
          pfs: "default",
          path: `/c${c}`,
          text: `place 1 on volume:${VOLUMES[c % VOLUMES.length]}`,
        });
      }
      await admin.close();
    }
    for (let round = 0; round <= options.kills; round++) {
      const last = round === options.kills;
      let stop = false;
      const clients = Array.from({ length: options.clients }, (_, c) =>
        (async () => {
          const client = await connect({ endpoint: d.endpoint, token: d.token });
          try {
            for (let op = 0; !stop; op++) {
              const p = `/c${c}/f${Math.floor(random() * 6)}`;
              let j = journal.get(p);
              if (!j) {
                j = { acked: "absent", maybe: [] };
                journal.set(p, j);
              }
              const r = random();
              const kind = r < 0.6 ? "write" : r < 0.75 ? "tag" : r < 0.85 ? "unlink" : "read";
              let effect: Version | "absent" | undefined;
              try {
                if (kind === "write") {
                  const size = sizeFrom(random(), random(), options.maxFileBytes);
                  const bytes = contentOf(`${options.seed}/${round}/${c}/${op}`, size);
                  effect = { hash: sha(bytes), size };
                  issued.set(p, (issued.get(p) ?? new Set()).add(effect.hash));
                  await client.writeFile(p, bytes);
                  report.acked.writes++;
                  report.bytesAcked += size;
                } else if (kind === "unlink") {
                  if (j.acked === "absent" && j.maybe.length === 0) continue;
                  effect = "absent";
                  await client.unlink(p);
                  report.acked.unlinks++;
                } else if (kind === "tag") {
                  if (j.acked === "absent") continue;
                  await client.tags.set(p, "vol", VOLUMES[Math.floor(random() * VOLUMES.length)]!);
                  report.acked.tags++;
                  continue;
                } else {
                  if (j.maybe.length > 0) continue;
                  if (await checkPath(client, p, `round ${round} traffic`)) report.acked.reads++;
                  continue;
                }
                j.acked = effect;
                j.maybe = [];
              } catch (err) {
                const code = (err as { code?: string }).code;
                // ENOENT of an unlink / tag on a path a lost-reply op already removed: nothing changed.
                if (code === "ENOENT" && kind !== "write") continue;
                if (stop) report.unknown++;
                else {
                  report.failedWhileUp++;
                  fail(
                    `round ${round}: ${kind} ${p} failed while the server was up: ${(err as Error).message}`,
                  );
                }
                if (effect !== undefined) j.maybe.push(effect);
                if (stop) break;
              }
            }
          } finally {
            await client.close().catch(() => {});
          }
        })(),
      );
      const [lo, hi] = options.trafficMs;
      await new Promise((r) => setTimeout(r, lo + random() * (hi - lo)));
      if (last) {
        stop = true;
        await Promise.all(clients);
        break;
      }
      // Mid-traffic: every process of the deployment dies at once.
      stop = true;
      await d.killEverything();
      report.kills++;
      await Promise.all(clients);
      log(
        `  kill ${round + 1}: ${report.acked.writes} writes acknowledged so far, ${report.unknown} in flight at kills`,
      );
      d = await start();
      report.restarts++;
      await checkAll(d, `after kill ${round + 1}`);
    }

    // Final checks on a quiet deployment.
    const admin = await connect({ endpoint: d.endpoint, token: d.token });
    try {
      await checkAll(d, "final");
      // Let placement finish its moves (trims wait out the 5 s grace) before the offline checks.
      await new Promise((r) => setTimeout(r, 8_000));
      const fsck = (await admin.admin.call("fsck.run", {})) as {
        ok: boolean;
        problems: Array<{ message: string }>;
      };
      report.fsckProblems = fsck.problems.length;
      for (const p of fsck.problems.slice(0, 5)) fail(`fsck: ${p.message}`);
      const scrub = (await admin.admin.call("scrub.run", { restart: true, bytesPerSecond: 1e12 })) as {
        complete: boolean;
        findings: Array<{ chunk: string; volume: string; found: string; repaired: boolean }>;
      };
      report.scrubFindings = scrub.findings.length + (scrub.complete ? 0 : 1);
      for (const f of scrub.findings.slice(0, 5))
        fail(`scrub: ${f.found} ${f.chunk.slice(0, 12)} on ${f.volume} (repaired ${f.repaired})`);
      await admin.admin.call("vacuum.run", { apply: true, timeBudgetSeconds: 300 });
      const before = report.lost + report.mixed;
      await checkAll(d, "after vacuum --apply");
      report.lostAfterVacuum = report.lost + report.mixed - before;
    } finally {
      await admin.close();
    }
  } finally {
    await d.killEverything().catch(() => {});
    if (!options.keepHome) await rm(home, { recursive: true, force: true });
    else log(`  home kept: ${home}`);
  }
  return report;
}
