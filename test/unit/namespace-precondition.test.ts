/** writeContent's `ifVersion`: a compare-and-swap on the file's live version, inside the commit. */
import { describe, expect, it } from "vitest";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import type { TransactOp } from "../../core/metadata/port.ts";
import { errorOf } from "../conformance/data.ts";
import { codeOf, setup } from "./namespace-helpers.ts";

const bytes = (...b: number[]) => Uint8Array.from(b);

/** A memory store whose next transact, once armed, waits until released. */
class PausingStore extends MemoryMetadataStore {
  private pause: { reached: () => void; gate: Promise<void> } | undefined;
  /** Resolves when the next transact has been called; it proceeds after `release` resolves. */
  armNextTransact(release: Promise<void>): Promise<void> {
    return new Promise((reached) => {
      this.pause = { reached, gate: release };
    });
  }
  override async transact(ops: TransactOp[]): Promise<void> {
    const pause = this.pause;
    this.pause = undefined;
    if (pause) {
      pause.reached();
      await pause.gate;
    }
    return super.transact(ops);
  }
}

describe("namespace: writeContent with ifVersion", () => {
  it("commits when the live version is the one given, and then the old TID no longer matches", async () => {
    const { fs } = await setup();
    const v1 = await fs.create("/f", { content: { size: 1, inline: bytes(1) } });
    const v2 = await fs.writeContent("/f", { size: 2, inline: bytes(1, 2) }, { ifVersion: v1.tid });
    expect(v2.size).toBe(2);
    const stale = await errorOf(fs.writeContent("/f", { size: 1, inline: bytes(9) }, { ifVersion: v1.tid }));
    expect(stale.code).toBe("ECONFLICT");
    expect(stale.details).toMatchObject({ path: "/f", ifVersion: v1.tid, live: v2.tid });
    expect((await fs.stat("/f")).content?.inline).toEqual(bytes(1, 2));
    expect((await fs.history("/f")).length).toBe(2);
  });

  it("a change committed between the plan's read and its commit makes it ECONFLICT (the check is in the transaction)", async () => {
    const store = new PausingStore();
    const { fs } = await setup({ store });
    const v1 = await fs.create("/f", { content: { size: 1, inline: bytes(1) } });
    let release!: () => void;
    const reached = store.armNextTransact(new Promise((r) => (release = r)));
    const guarded = fs.writeContent("/f", { size: 2, inline: bytes(1, 2) }, { ifVersion: v1.tid });
    await reached; // planned against v1, its transaction not yet applied
    // Another writer (no precondition) commits while the guarded one waits at the store.
    await fs.writeContent("/f", { size: 2, inline: bytes(1, 3) });
    release();
    expect(await codeOf(guarded)).toBe("ECONFLICT");
    expect((await fs.stat("/f")).content?.inline).toEqual(bytes(1, 3));
  });

  it("rejects a malformed TID (EINVAL) and keeps the file's other errors (ENOENT, EISDIR)", async () => {
    const { fs } = await setup();
    const v1 = await fs.create("/f");
    await fs.mkdir("/d");
    expect(await codeOf(fs.writeContent("/f", { size: 0 }, { ifVersion: "nope" }))).toBe("EINVAL");
    expect(await codeOf(fs.writeContent("/g", { size: 0 }, { ifVersion: v1.tid }))).toBe("ENOENT");
    expect(await codeOf(fs.writeContent("/d", { size: 0 }, { ifVersion: v1.tid }))).toBe("EISDIR");
  });
});
