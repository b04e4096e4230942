/**
 * A reader's memory of recent read failures per volume: the copy chooser's health tie-break
 * (`orderCopies`' `failures`, core/data/chunks.ts). One per data plane, embedded
 * (core/data/read.ts) or remote (sdk/remote/data.ts); in memory only, never shared.
 */
export class ReadHealth {
  /** Failure times per volume, the last {@link ReadHealth.KEPT} of each. */
  private readonly failures = new Map<string, number[]>();
  static readonly KEPT = 64;

  /**
   * @param windowMs how long a failure counts against its volume
   * @param clock ms since the epoch (injectable)
   */
  constructor(
    private readonly windowMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Note one failed read from `volume`, now. */
  failed(volume: string): void {
    const list = this.failures.get(volume) ?? [];
    list.push(this.clock());
    if (list.length > ReadHealth.KEPT) list.shift();
    this.failures.set(volume, list);
  }

  /** How many reads from `volume` failed within the window before `now`. */
  recent(volume: string, now: number = this.clock()): number {
    return (this.failures.get(volume) ?? []).filter((t) => now - t < this.windowMs).length;
  }
}
