/**
 * Scheduled vacuum (EventBridge → Lambda): one applying run, time-boxed to the invocation's
 * remaining time; cursors and queues live in the table, so the next tick resumes. Event input:
 * `{ "apply"?: boolean }` (default true — the schedule is the operator's standing decision).
 */

import { lambdaDeps } from "../../runtime/lambda.ts";
import { budgetSeconds } from "./budget.ts";
import { runVacuum } from "./maintenance.ts";

export async function handler(
  event: { apply?: boolean } = {},
  context?: { getRemainingTimeInMillis?: () => number },
) {
  return runVacuum(await lambdaDeps(), {
    apply: event.apply !== false,
    timeBudgetSeconds: budgetSeconds(context, 600),
  });
}
