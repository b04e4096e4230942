/** Seconds left in this invocation minus a margin (the time box of a scheduled run). */
export function budgetSeconds(
  context: { getRemainingTimeInMillis?: () => number } | undefined,
  fallback: number,
): number {
  const left = context?.getRemainingTimeInMillis?.();
  return left === undefined ? fallback : Math.max(1, Math.floor(left / 1000) - 30);
}
