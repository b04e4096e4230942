/** Helpers shared by the benchmarks: test bytes, timing, medians and plain-text tables. */

/** Deterministic pseudo-random bytes (xorshift32 per 4-byte word): cheap for 64 MiB, not compressible. */
export function pattern(size: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, size);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Wall-clock seconds `fn` takes. */
export async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * The benchmarks' clock in ms: wall time, or with STRATA_BENCH_CLOCK=cpu this process's CPU time
 * (user + system). On a machine shared with other work, CPU time compares two in-process paths
 * (e.g. the engine on SQLite against raw SQLite statements) without the other processes' noise;
 * it leaves out time spent waiting (fsync, network), so it is the stricter ratio for writes.
 */
export const benchClock: () => number =
  process.env.STRATA_BENCH_CLOCK === "cpu"
    ? () => {
        const { user, system } = process.cpuUsage();
        return (user + system) / 1000;
      }
    : () => performance.now();

/** `op` run one call after another for at least `ms` milliseconds and at least `minOps` calls. */
export async function timed(
  op: () => Promise<unknown> | unknown,
  ms: number,
  minOps: number,
): Promise<{ ops: number; ms: number }> {
  const start = benchClock();
  let ops = 0;
  let now = start;
  while (ops < minOps || now - start < ms) {
    await op();
    ops++;
    now = benchClock();
  }
  return { ops, ms: now - start };
}

/**
 * `rows` (the first is the header) as aligned columns two spaces apart, a dashed rule under the
 * header; columns in `left` are left-aligned, the others right-aligned (numbers).
 */
export function table(rows: string[][], left: ReadonlySet<number>): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r, i) => {
      const line = r
        .map((cell, c) => (left.has(c) ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join("  ")
        .trimEnd();
      return i === 0 ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}` : line;
    })
    .join("\n");
}
