/**
 * Scheduled mirror runs on AWS (EventBridge → Lambda, stacks/schedules.ts `Mirror`): every defined
 * mirror (`mirrordef` items), each for at most `maxPages` pages (default 10), the whole tick
 * time-boxed to the invocation's remaining time minus 30 s. The mirrors' sync TIDs live in the
 * table, so what a tick leaves is picked up by the next one; a tick that overlaps a `mirror.run`
 * of the same mirror loses with ECONFLICT for that mirror only. Deps: the schedules' (table +
 * the volume records, runtime/lambda.ts). Event input: `{ "maxPages"?: number }`.
 */
import { lambdaDeps } from "../../runtime/lambda.ts";
import { budgetSeconds } from "../schedule/budget.ts";
import { runMirrors } from "./run.ts";

export async function handler(
  event: { maxPages?: number } = {},
  context?: { getRemainingTimeInMillis?: () => number },
) {
  const mirrors = await runMirrors(await lambdaDeps(), {
    maxPages: event.maxPages ?? 10,
    timeBudgetMs: budgetSeconds(context, 240) * 1000,
  });
  // Failures are per mirror (the others still ran); log them so the function's logs show them.
  for (const m of mirrors) if (m.error) console.warn(JSON.stringify({ mirror: m.name, error: m.error }));
  return { mirrors };
}
