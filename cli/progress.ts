/**
 * A one-line progress bar on stderr for long transfers: only when stderr is a TTY (and not with
 * --json), drawn after the first half second so quick transfers print nothing, redrawn at most
 * ten times a second.
 */
import { Transform } from "node:stream";
import { humanBytes } from "./format.ts";

const FIRST_DRAW_MS = 500;
const REDRAW_MS = 100;
const BAR_WIDTH = 24;

export class Progress {
  private bytes = 0;
  private readonly started: number;
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly stream: { write(text: string): unknown; columns?: number },
    private readonly label: string,
    private readonly total: number | undefined,
    private readonly enabled: boolean,
    /** The clock (injected by tests). */
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  add(n: number): void {
    this.bytes += n;
    if (!this.enabled) return;
    const now = this.now();
    if (now - this.started < FIRST_DRAW_MS || now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    this.draw(now);
  }

  /** A Transform that counts the bytes flowing through it. */
  counter(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        this.add(chunk.length);
        callback(null, chunk);
      },
    });
  }

  /** Bytes moved so far. */
  get moved(): number {
    return this.bytes;
  }

  /** Seconds since the transfer started. */
  get seconds(): number {
    return (this.now() - this.started) / 1000;
  }

  /** End the line if a bar was drawn (drawing the final state first). */
  finish(): void {
    if (!this.drawn) return;
    this.draw(this.now());
    this.stream.write("\n");
  }

  private draw(now: number): void {
    this.drawn = true;
    const rate = this.bytes / Math.max((now - this.started) / 1000, 0.001);
    let line = `${this.label} ${humanBytes(this.bytes)}`;
    if (this.total !== undefined && this.total > 0) {
      const fraction = Math.min(this.bytes / this.total, 1);
      const filled = Math.round(fraction * BAR_WIDTH);
      line = `${this.label} [${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${humanBytes(this.bytes)} / ${humanBytes(this.total)}`;
    }
    line += `  ${humanBytes(rate)}/s`;
    const width = this.stream.columns ?? 100;
    // \r + clear to end of line: redraw in place.
    this.stream.write(`\r${line.slice(0, width - 1)}\x1b[K`);
  }
}
