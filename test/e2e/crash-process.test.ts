/**
 * The real-crash tier, short (test/reliability/crash-process.ts; `npm run reliability` runs it at
 * full size): a real `npm start`, 3 SDK clients over HTTP writing, tagging, unlinking and reading
 * small chunked files (≤ 512 KiB, 64 KiB chunks) on all four volumes, one SIGKILL of every process
 * of the deployment mid-traffic, a restart, then: 0 acknowledged writes lost, no file mixing two
 * versions, fsck clean, scrub clean, nothing retained lost after `vacuum --apply`.
 *
 * The counter-check of the mechanism this depends on (azurite's metadata saved before the
 * acknowledgement) is in start-durability.test.ts: without it, a SIGKILL loses azure writes.
 */
import { describe, expect, it } from "vitest";
import { runCrashProcessTier } from "../reliability/crash-process.ts";

describe("real crashes of npm start (short tier)", () => {
  it("one SIGKILL of the whole deployment mid-traffic: no acknowledged write lost, nothing mixed, fsck and scrub clean, vacuum keeps every retained file", {
    timeout: 600_000,
  }, async () => {
    const report = await runCrashProcessTier({
      seed: 20261206,
      kills: 1,
      clients: 3,
      maxFileBytes: 512 * 1024,
      trafficMs: [6_000, 9_000],
      chunkSize: 64 * 1024,
    });
    expect(report.failures).toEqual([]);
    expect(report.kills).toBe(1);
    expect(report.acked.writes).toBeGreaterThan(5);
    expect(report).toMatchObject({
      lost: 0,
      mixed: 0,
      failedWhileUp: 0,
      fsckProblems: 0,
      scrubFindings: 0,
      lostAfterVacuum: 0,
    });
  });
});
