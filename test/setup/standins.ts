/**
 * Vitest global setup: start every stand-in server once per run on 127.0.0.1 with free ports,
 * hand their endpoints to the tests (`inject("standins")`), stop them afterwards.
 *
 * A stand-in that dies mid-run is reported at once on stderr and fails the run at teardown,
 * instead of leaving tests to hang on a dead port.
 *
 * `STRATA_STANDINS=none` (or a comma list such as `s3,azure`) limits what starts, e.g. for a
 * quick `npm run test:unit`.
 */
import type { TestProject } from "vitest/node";
import { startAzureStandIn } from "../../standins/azure.ts";
import type { StandIn } from "../../standins/child.ts";
import { startDynamoDbLocal } from "../../standins/dynamodb.ts";
import { startGcsStandIn } from "../../standins/gcs.ts";
import { startS3StandIn } from "../../standins/s3.ts";

export type StandInName = "dynamodb" | "s3" | "azure" | "gcs";

export type StandInEndpoints = Partial<Record<StandInName, { endpoint: string }>>;

declare module "vitest" {
  export interface ProvidedContext {
    standins: StandInEndpoints;
  }
}

const LAUNCHERS: Record<StandInName, (() => Promise<StandIn>) | undefined> = {
  dynamodb: startDynamoDbLocal,
  s3: startS3StandIn,
  azure: startAzureStandIn,
  gcs: startGcsStandIn,
};

function wanted(): StandInName[] {
  const all = Object.keys(LAUNCHERS) as StandInName[];
  const spec = process.env.STRATA_STANDINS;
  if (spec === undefined || spec === "" || spec === "all") return all;
  if (spec === "none") return [];
  return spec.split(",").map((s) => s.trim()) as StandInName[];
}

export default async function setup(project: TestProject) {
  const names = wanted().filter((name) => LAUNCHERS[name] !== undefined);
  const started: StandIn[] = [];
  try {
    await Promise.all(
      names.map(async (name) => {
        started.push(await LAUNCHERS[name]!());
      }),
    );
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.stop()));
    throw err;
  }
  const endpoints: StandInEndpoints = {};
  for (const s of started) endpoints[s.name as StandInName] = { endpoint: s.endpoint };
  project.provide("standins", endpoints);

  const reported = new Set<string>();
  const watchdog = setInterval(() => {
    for (const s of started) {
      const report = s.crashReport();
      if (report && !reported.has(s.name)) {
        reported.add(s.name);
        process.exitCode = 1;
        console.error(`\n[strata test setup] ${report}\n`);
      }
    }
  }, 500);
  watchdog.unref();

  return async () => {
    clearInterval(watchdog);
    const crashes = started.map((s) => s.crashReport()).filter((r): r is string => r !== undefined);
    await Promise.allSettled(started.map((s) => s.stop()));
    if (crashes.length > 0)
      throw new Error(`stand-in servers crashed during the run:\n${crashes.join("\n")}`);
  };
}
