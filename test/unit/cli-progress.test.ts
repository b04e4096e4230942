import { describe, expect, it } from "vitest";
import { Progress } from "../../cli/progress.ts";

const CLEAR_TO_END_OF_LINE = "\u001b[K";

function fakeTerminal() {
  const writes: string[] = [];
  return { writes, stream: { columns: 120, write: (text: string) => writes.push(text) } };
}

describe("CLI progress bar", () => {
  it("draws nothing for a transfer shorter than half a second", () => {
    let now = 1_000;
    const { writes, stream } = fakeTerminal();
    const p = new Progress(stream, "put", 100, true, () => now);
    p.add(50);
    now += 400;
    p.add(50);
    p.finish();
    expect(writes).toEqual([]);
    expect(p.moved).toBe(100);
  });

  it("redraws in place at most every 100 ms, then ends the line", () => {
    let now = 0;
    const { writes, stream } = fakeTerminal();
    const p = new Progress(stream, "get", 4 * 1024 * 1024, true, () => now);
    now = 600;
    p.add(1024 * 1024);
    now = 650;
    p.add(1024 * 1024); // within 100 ms of the last draw: not drawn
    now = 800;
    p.add(2 * 1024 * 1024);
    expect(writes).toHaveLength(2);
    expect(writes[0]).toMatch(/^\rget \[#{6}-{18}\] {2}25% 1\.00 MiB \/ 4\.00 MiB /);
    expect(writes[0]!.endsWith(CLEAR_TO_END_OF_LINE)).toBe(true);
    expect(writes[1]).toContain("100% 4.00 MiB / 4.00 MiB");
    p.finish();
    expect(writes.at(-1)).toBe("\n");
  });

  it("shows bytes and rate without a bar when the total is unknown, and nothing when disabled", () => {
    let now = 0;
    const { writes, stream } = fakeTerminal();
    const p = new Progress(stream, "put", 0, true, () => now);
    now = 1000;
    p.add(2048);
    expect(writes[0]).toMatch(/^\rput 2\.00 KiB {2}2\.00 KiB\/s/);
    const off = fakeTerminal();
    const quiet = new Progress(off.stream, "put", 10, false, () => now);
    now = 5000;
    quiet.add(10);
    quiet.finish();
    expect(off.writes).toEqual([]);
  });
});
