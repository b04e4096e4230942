import { inject } from "vitest";
import type { StandInName } from "../setup/standins.ts";

/**
 * The endpoint of a stand-in started by the global setup, or `undefined` when this run did not
 * start it (STRATA_STANDINS); tests then skip with that reason.
 */
export function standInEndpoint(name: StandInName): string | undefined {
  return inject("standins")[name]?.endpoint;
}
