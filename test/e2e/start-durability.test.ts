/**
 * What `npm start` promises about acknowledged writes (README "Local deployment"), shown on every
 * kind of volume it starts (local directory, s3rver, azurite, the GCS stand-in), with chunked files
 * (STRATA_CHUNK_SIZE = 64 KiB, files of ~300 KiB = 5 chunks) placed on each volume by an objective:
 *
 * - Ctrl-C (SIGINT to the whole `npm start` process group) loses no acknowledged write, and the
 *   stand-ins, in their own process groups, are stopped by the server after it drained;
 * - SIGKILL of every process of the deployment right after the acknowledgement loses none either;
 * - SIGKILL of the group alone leaves no stand-in running for long (they follow their parent).
 *
 * Counter-check: with azurite's own 5 s metadata autosave (STRATA_TEST_AZURITE_LAZY_SAVES=1, what
 * `npm start` ran before) the same SIGKILL loses acknowledged azure writes.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "../../sdk/index.ts";
import { alive, gone, type RunningDeployment, startNpmStart } from "../support/npm-start.ts";

const VOLUMES = ["local", "s3", "azure", "gcs"] as const;
const ENV = {
  STRATA_CHUNK_SIZE: String(64 * 1024),
  // No timers racing the checks (placement still runs on the change feed).
  STRATA_VACUUM_INTERVAL: "off",
  STRATA_SCRUB_INTERVAL: "off",
  STRATA_MIRROR_INTERVAL: "off",
};

/** Deterministic bytes, different for every name (no two files share a chunk). */
function bytesOf(name: string, size = 300 * 1024 + 123): Uint8Array {
  const out = new Uint8Array(size);
  let block = createHash("sha256").update(name).digest();
  for (let at = 0; at < size; at += block.length) {
    out.set(block.subarray(0, Math.min(block.length, size - at)), at);
    block = createHash("sha256").update(block).digest();
  }
  return out;
}

async function clientOf(d: RunningDeployment) {
  return connect({ endpoint: d.endpoint, token: d.token });
}

/** Write `/<volume>/<round>.bin` on each volume (objective `place 1 on volume:<volume>`); check where the chunks went. */
async function writeRound(
  d: RunningDeployment,
  round: string,
  volumes: readonly string[] = VOLUMES,
): Promise<void> {
  const client = await clientOf(d);
  try {
    for (const v of volumes) {
      await client.mkdir(`/${v}`, { recursive: true });
      await client.admin.call("objective.set", {
        pfs: "default",
        path: `/${v}`,
        text: `place 1 on volume:${v}`,
      });
      await client.writeFile(`/${v}/${round}.bin`, bytesOf(`${v}/${round}`));
      const extents = await client.placement(`/${v}/${round}.bin`);
      expect(extents.length).toBe(5);
      for (const e of extents)
        expect(e.instances.map((i) => `${i.volume}:${i.state}`)).toEqual([`${v}:present`]);
    }
  } finally {
    await client.close();
  }
}

/** Which of the written files read back byte-exact, and which do not (with the error). */
async function readBack(d: RunningDeployment, rounds: string[]): Promise<{ ok: string[]; bad: string[] }> {
  const client = await clientOf(d);
  const result = { ok: [] as string[], bad: [] as string[] };
  try {
    for (const round of rounds)
      for (const v of VOLUMES) {
        const file = `/${v}/${round}.bin`;
        try {
          const got = await client.readFile(file);
          if (Buffer.compare(Buffer.from(got), Buffer.from(bytesOf(`${v}/${round}`))) === 0)
            result.ok.push(file);
          else result.bad.push(`${file}: different bytes`);
        } catch (err) {
          result.bad.push(`${file}: ${(err as Error).message}`);
        }
      }
  } finally {
    await client.close();
  }
  return result;
}

describe("npm start: acknowledged writes on every volume survive Ctrl-C and SIGKILL", () => {
  const homes: string[] = [];
  afterAll(async () => {
    for (const h of homes) await rm(h, { recursive: true, force: true });
  });
  const newHome = async () => {
    const h = await mkdtemp(path.join(tmpdir(), "strata-durable-"));
    homes.push(h);
    return h;
  };

  it("Ctrl-C of the group, SIGKILL of every process, SIGKILL of the group: every acknowledged file reads back byte-exact", {
    timeout: 600_000,
  }, async () => {
    const home = await newHome();
    let d = await startNpmStart({ home, env: ENV });
    try {
      // (a) Ctrl-C: SIGINT to the whole foreground group. The stand-ins are in other groups: the
      // server drains, then stops them; all of it ends.
      await writeRound(d, "a");
      const standIns = await d.standInPids();
      expect(standIns).toHaveLength(3);
      d.signalGroup("SIGINT");
      // npm itself dies of the SIGINT (as in a terminal); the server drains and stops.
      await d.groupGone();
      expect(d.output()).toContain("strata: SIGINT: draining requests and stopping");
      expect(d.output()).toContain("strata: stopped");
      expect(standIns.filter(alive)).toEqual([]);

      d = await startNpmStart({ home, env: ENV });
      expect(await readBack(d, ["a"])).toEqual({ ok: VOLUMES.map((v) => `/${v}/a.bin`), bad: [] });

      // (b) SIGKILL of every process of the deployment (group and stand-ins) right after the
      // acknowledgement of the last write.
      await writeRound(d, "b");
      await d.killEverything();
      d = await startNpmStart({ home, env: ENV });
      expect((await readBack(d, ["a", "b"])).bad).toEqual([]);

      // (c) SIGKILL of the group only: the stand-ins notice their parent is gone and exit (the next
      // start would wait for them, and kill what is left after 5 s).
      await writeRound(d, "c");
      const orphans = await d.standInPids();
      d.signalGroup("SIGKILL");
      await d.groupGone();
      await gone(orphans);
      d = await startNpmStart({ home, env: ENV });
      expect((await readBack(d, ["a", "b", "c"])).bad).toEqual([]);
    } finally {
      await d.killEverything();
    }
  });

  it("counter-check: with azurite's own 5 s metadata autosave, SIGKILL right after the acknowledgement loses azure writes", {
    timeout: 600_000,
  }, async () => {
    const home = await newHome();
    const env = { ...ENV, STRATA_TEST_AZURITE_LAZY_SAVES: "1" };
    let d = await startNpmStart({ home, env });
    try {
      // Azure last: the kill follows its acknowledgement within milliseconds.
      await writeRound(d, "a", ["local", "s3", "gcs", "azure"]);
      await d.killEverything();
      d = await startNpmStart({ home, env });
      const { ok, bad } = await readBack(d, ["a"]);
      // The other volumes keep theirs; the azure file (5 chunks acknowledged < 5 s before) is gone.
      expect(ok).toEqual(["/local/a.bin", "/s3/a.bin", "/gcs/a.bin"]);
      expect(bad).toHaveLength(1);
      expect(bad[0]).toMatch(/^\/azure\/a\.bin: E[A-Z]+/);
    } finally {
      await d.killEverything();
    }
  });
});
