/**
 * Scheduled scrub (EventBridge → Lambda): verifies and repairs chunk instances for the rest of the
 * invocation, rate-limited (`bytesPerSecond`, default 50 MiB/s); the listing cursor lives in the
 * table, so the next tick resumes where this one stopped.
 */

import { lambdaDeps } from "../../runtime/lambda.ts";
import { budgetSeconds } from "./budget.ts";
import { runScrub } from "./maintenance.ts";

export async function handler(
  event: { bytesPerSecond?: number } = {},
  context?: { getRemainingTimeInMillis?: () => number },
) {
  return runScrub(await lambdaDeps(), {
    timeBudgetSeconds: budgetSeconds(context, 600),
    ...(event.bytesPerSecond !== undefined ? { bytesPerSecond: event.bytesPerSecond } : {}),
  });
}
