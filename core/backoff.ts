/**
 * The one retry pause (pure but for the timer): a jittered delay that grows with the attempt.
 * Every retry loop names its policy (its numbers are its own; the arithmetic is here): the volume
 * wrapper, the namespace engine's write loop, the data plane's lost races, the DynamoDB adapter,
 * the remote SDK.
 */

export interface BackoffPolicy {
  /** The ceiling at attempt 0 (exponential) or attempt 1 (linear), in ms. */
  baseMs: number;
  /** The ceiling never exceeds this (default: no cap). */
  capMs?: number;
  /** Ceiling growth: `baseMs · 2^attempt` (default) or `baseMs · attempt`. */
  growth?: "exponential" | "linear";
  /**
   * "full" (default): uniform in [0, ceiling) — AWS's "full jitter". "around": uniform in
   * [ceiling/2, 3·ceiling/2), for a loop that must not retry at once.
   */
  jitter?: "full" | "around";
}

/** The ceiling of the pause before retry `attempt`. */
export function backoffCeiling(attempt: number, policy: BackoffPolicy): number {
  const grown = policy.growth === "linear" ? policy.baseMs * attempt : policy.baseMs * 2 ** attempt;
  return Math.min(policy.capMs ?? Number.POSITIVE_INFINITY, grown);
}

/** The pause before retry `attempt`, in ms (`random`: uniform in [0, 1), injectable for tests). */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = backoffCeiling(attempt, policy);
  return policy.jitter === "around" ? ceiling * (0.5 + random()) : random() * ceiling;
}

/** Wait `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Wait the jittered pause before retry `attempt`. */
export function backoff(attempt: number, policy: BackoffPolicy, random?: () => number): Promise<void> {
  return sleep(backoffDelay(attempt, policy, random));
}
