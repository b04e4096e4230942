/**
 * runtime/config.ts: every STRATA_* variable of the deployments is read once and checked; a bad
 * value is EINVAL naming the variable and its value; unset (or empty) means the default.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_INTERVALS, DEFAULT_PORT, readConfig } from "../../runtime/config.ts";
import { failureOf } from "../support/errors.ts";

describe("runtime configuration", () => {
  it("unset or empty variables give the defaults", () => {
    for (const env of [{}, { STRATA_PORT: "", STRATA_HOME: "", STRATA_VACUUM_INTERVAL: "" }]) {
      const c = readConfig(env);
      expect(c).toMatchObject({
        home: ".strata",
        port: DEFAULT_PORT,
        placementGraceSeconds: 60,
        azuriteLazySaves: false,
        intervals: DEFAULT_INTERVALS,
      });
      expect(c.chunkSize).toBeUndefined();
      expect(c.cloud.table).toBeUndefined();
    }
  });

  it("reads every variable it owns", () => {
    const c = readConfig({
      STRATA_HOME: "/h",
      STRATA_PORT: "0",
      STRATA_CHUNK_SIZE: "65536",
      STRATA_PLACEMENT_GRACE_SECONDS: "5",
      STRATA_TEST_AZURITE_LAZY_SAVES: "1",
      STRATA_VACUUM_INTERVAL: "off",
      STRATA_SCRUB_INTERVAL: "2h",
      STRATA_MIRROR_INTERVAL: "90s",
      STRATA_TABLE: "t",
      STRATA_BUCKET: "b",
      STRATA_SITE: "s",
      STRATA_DEFAULT_VOLUME: "d",
      STRATA_TOKEN_KEYS: "k",
      STRATA_TOKEN_KEYS_PARAMETER: "p",
      AWS_LAMBDA_FUNCTION_NAME: "f",
      STRATA_LOG: "debug",
      STRATA_LOG_FORMAT: "json",
    });
    expect(c).toEqual({
      home: "/h",
      port: 0,
      chunkSize: 65536,
      placementGraceSeconds: 5,
      azuriteLazySaves: true,
      intervals: { vacuumMs: 0, scrubMs: 7_200_000, mirrorMs: 90_000 },
      log: { level: "debug", format: "json" },
      cloud: {
        table: "t",
        bucket: "b",
        site: "s",
        defaultVolume: "d",
        tokenKeys: "k",
        tokenKeysParameter: "p",
        functionName: "f",
      },
    });
  });

  it("a bad value is EINVAL naming the variable and its value", async () => {
    const bad: Record<string, string[]> = {
      STRATA_PORT: ["x", "-1", "65536", "1.5"],
      STRATA_CHUNK_SIZE: ["big", "0", "1.5"],
      STRATA_PLACEMENT_GRACE_SECONDS: ["soon", "-1"],
      STRATA_VACUUM_INTERVAL: ["soon", "0.5"],
      STRATA_SCRUB_INTERVAL: ["1w"],
      STRATA_MIRROR_INTERVAL: ["-5m"],
      STRATA_LOG: ["verbose", "INFO"],
      STRATA_LOG_FORMAT: ["yaml"],
    };
    for (const [variable, values] of Object.entries(bad))
      for (const value of values) {
        const err = await failureOf(Promise.resolve().then(() => readConfig({ [variable]: value })));
        expect(err.code, `${variable}=${value}`).toBe("EINVAL");
        expect(err.details).toMatchObject({ variable, value });
        expect(err.message).toContain(variable);
      }
  });
});
