/**
 * The local deployment's schedules (functions/local/schedules.ts): jobs run on their timers, never
 * twice at once, and stop() aborts a running job through its signal and waits for it to finish
 * before it returns (so stores close after the job). Intervals from the environment.
 */
import { describe, expect, it } from "vitest";
import { timerSchedules } from "../../functions/local/schedules.ts";
import { intervalsFromEnv, parseInterval } from "../../runtime/config.ts";
import { failureOf } from "../support/errors.ts";

const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe("timerSchedules", () => {
  it("runs a job on its timer, never overlapping, and stop() aborts and awaits the running job", async () => {
    const schedules = timerSchedules();
    let started = 0;
    let running = 0;
    let maxRunning = 0;
    let finishedAfterAbort = false;
    schedules.every("fake", 10, async (signal) => {
      started++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      // A long job that only ends when aborted, and then still cleans up for a while.
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      await new Promise((resolve) => setTimeout(resolve, 30));
      finishedAfterAbort = true;
      running--;
    });
    expect(schedules.names()).toEqual(["fake"]);
    await until(() => started === 1);
    await new Promise((resolve) => setTimeout(resolve, 50)); // several ticks while it runs
    expect(started).toBe(1);
    await schedules.stop();
    expect(finishedAfterAbort).toBe(true);
    expect(running).toBe(0);
    expect(maxRunning).toBe(1);
    expect(schedules.names()).toEqual([]);
  });

  it("keeps running after a job fails, and a cancelled job stops", async () => {
    const schedules = timerSchedules();
    let runs = 0;
    const cancel = schedules.every("flaky", 5, async () => {
      runs++;
      throw new Error("expected test failure");
    });
    const errors = console.error;
    console.error = () => {};
    try {
      await until(() => runs >= 3);
    } finally {
      console.error = errors;
    }
    cancel();
    const at = runs;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(runs).toBeLessThanOrEqual(at + 1);
    await schedules.stop();
  });
});

describe("schedule intervals", () => {
  it("parses durations and off, defaults what is unset", () => {
    expect(parseInterval("X", "90s")).toBe(90_000);
    expect(parseInterval("X", "15m")).toBe(900_000);
    expect(parseInterval("X", "2h")).toBe(7_200_000);
    expect(parseInterval("X", "120")).toBe(120_000);
    expect(parseInterval("X", "off")).toBe(0);
    expect(intervalsFromEnv({ STRATA_VACUUM_INTERVAL: "10m", STRATA_MIRROR_INTERVAL: "off" })).toEqual({
      vacuumMs: 600_000,
      scrubMs: 6 * 3_600_000,
      mirrorMs: 0,
    });
  });

  it("refuses what is not an interval of at least a second, naming the variable", async () => {
    for (const bad of ["soon", "-5m", "0.5", "1w"]) {
      const err = await failureOf(
        Promise.resolve().then(() => intervalsFromEnv({ STRATA_SCRUB_INTERVAL: bad })),
      );
      expect(err.code).toBe("EINVAL");
      expect(err.details).toMatchObject({ variable: "STRATA_SCRUB_INTERVAL", value: bad });
    }
  });
});
