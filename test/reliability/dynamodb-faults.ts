/**
 * The DynamoDB fault tier: reference-model sequences (test/reliability/sequences.ts) on DynamoDB
 * Local with DynamoDB's own faults injected at the SDK client (adapters/metadata/dynamodb-faults.ts:
 * TransactionCanceledException with TransactionConflict / ThrottlingError reasons,
 * TransactionConflictException, ThrottlingException, ProvisionedThroughputExceededException, 500
 * InternalServerError applied or not, lost replies of applied writes). Every step must end in
 * success agreeing with the model, or in a retryable StrataError (ETHROTTLED, ETIMEDOUT, EUNAVAIL)
 * with the state either before or after the step — never a wrong answer, never half applied.
 *
 * Used by `npm run reliability` (figures) and test/adapters/dynamodb-faults.test.ts (a small tier
 * and its counter-check: the adapter's fault handling off).
 */
import type { DynamoFaultPlan } from "../../adapters/metadata/dynamodb-faults.ts";
import { regressionFiles } from "../support/regressions.ts";
import { checkSequences, runDataSequence, type SeqStep, type SequenceReport, tallies } from "./sequences.ts";
import { sdkFaultTotals } from "./world.ts";

export interface DynamoFaultTierOptions {
  endpoint: string;
  runs: number;
  seed: number;
  /** Chance that an attempt on the wire meets a fault (default 0.3). */
  probability?: number;
  /** Chance that the SDK's retry of a faulted request meets one too (default 0.9). */
  sticky?: number;
  maxSteps?: number;
  /** The adapter's test-only fault handling (counter-check: false). */
  faultHandling?: boolean;
}

export interface DynamoFaultTierReport extends SequenceReport {
  sequences: number;
  injected: Record<string, number>;
  /** Writes DynamoDB applied whose reply was an error (lost replies, some 500s). */
  appliedButFailed: number;
  /** Commands that still failed after the SDK's retries, by "Command ErrorName". */
  reachedAdapter: Record<string, number>;
  faultedSteps: number;
  notApplied: number;
  applied: number;
  /** The codes faulted steps failed with. */
  surfaced: Record<string, number>;
}

/** The tier's fault mix: TransactionConflict twice as likely as each other kind (the emulator never raises it). */
export const TIER_KINDS: DynamoFaultPlan["kinds"] = [
  "transactionConflict",
  "transactionConflict",
  "throttling",
  "provisioned",
  "internalError",
  "lostReply",
];

/** Kept failing cases of this tier (test/regressions/dynamodb-faults/), replayed with their faults. */
export function dynamoFaultRegressions(): Array<{
  file: string;
  note: string;
  seed: number;
  prologue: SeqStep[];
  steps: SeqStep[];
  dynamoFaults: Omit<DynamoFaultPlan, "seed" | "when">;
}> {
  return regressionFiles<{
    note?: string;
    seed: number;
    prologue: SeqStep[];
    steps: SeqStep[];
    dynamoFaults?: Omit<DynamoFaultPlan, "seed" | "when">;
  }>("dynamodb-faults").map(({ file, parsed }) => ({
    file,
    note: parsed.note ?? "",
    seed: parsed.seed,
    prologue: parsed.prologue,
    steps: parsed.steps,
    dynamoFaults: parsed.dynamoFaults ?? { probability: 0.3, sticky: 0.9, kinds: TIER_KINDS },
  }));
}

/** Replay one kept case on DynamoDB Local (throws ModelMismatch when it diverges). */
export async function replayDynamoFaultCase(
  endpoint: string,
  c: ReturnType<typeof dynamoFaultRegressions>[number],
): Promise<void> {
  await runDataSequence(
    { backend: "dynamodb", endpoint, seed: c.seed, dynamoFaults: c.dynamoFaults },
    c.steps,
    c.prologue,
  );
}

/** Run the tier; figures are this call's share of the harness's tallies. */
export async function runDynamoDbFaultTier(options: DynamoFaultTierOptions): Promise<DynamoFaultTierReport> {
  const before = { ...tallies, surfaced: { ...tallies.surfaced } };
  const injectedBefore = { ...sdkFaultTotals.injected };
  const appliedBefore = sdkFaultTotals.appliedButFailed;
  const outcomesBefore = new Map(sdkFaultTotals.outcomes);
  const report = await checkSequences({
    backend: "dynamodb",
    endpoint: options.endpoint,
    runs: options.runs,
    seed: options.seed,
    maxSteps: options.maxSteps ?? 40,
    dynamoFaults: {
      probability: options.probability ?? 0.3,
      sticky: options.sticky ?? 0.9,
      // TransactionConflict twice as likely: the fault the emulator never raises.
      kinds: [
        "transactionConflict",
        "transactionConflict",
        "throttling",
        "provisioned",
        "internalError",
        "lostReply",
      ],
    },
    ...(options.faultHandling === false ? { dynamoFaultHandling: false } : {}),
  });
  const diff = (now: Record<string, number>, then: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(now)
        .map(([k, v]) => [k, v - (then[k] ?? 0)] as const)
        .filter(([, v]) => v > 0),
    );
  const reached: Record<string, number> = {};
  for (const [k, v] of sdkFaultTotals.outcomes) {
    const n = v - (outcomesBefore.get(k) ?? 0);
    if (n > 0 && !k.endsWith(" ok")) reached[k] = n;
  }
  return {
    ...report,
    sequences: tallies.sequences - before.sequences,
    injected: diff(sdkFaultTotals.injected, injectedBefore),
    appliedButFailed: sdkFaultTotals.appliedButFailed - appliedBefore,
    reachedAdapter: reached,
    faultedSteps: tallies.faultedSteps - before.faultedSteps,
    notApplied: tallies.faultedNotApplied - before.faultedNotApplied,
    applied: tallies.faultedApplied - before.faultedApplied,
    surfaced: diff(tallies.surfaced, before.surfaced),
  };
}
