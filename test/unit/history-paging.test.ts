/**
 * `history(path, { before })` resumes a history page by page (fs.history's `cursor`): the pages,
 * whatever their size, are the whole history once, in order — across deletion versions too.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { FileSystem, Version } from "../../core/namespace/api.ts";
import { setup } from "./namespace-helpers.ts";

type Op =
  | { k: "attr"; mode: number }
  | { k: "tag"; v: string }
  | { k: "gone" }
  | { k: "link" }
  | { k: "unlink" };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant("attr" as const), mode: fc.integer({ min: 0, max: 0o777 }) }),
  fc.record({ k: fc.constant("tag" as const), v: fc.string({ maxLength: 3 }) }),
  fc.constant({ k: "gone" as const }),
  fc.constant({ k: "link" as const }),
  fc.constant({ k: "unlink" as const }),
);

async function apply(fs: FileSystem, o: Op, linked: { yes: boolean }) {
  if (o.k === "attr") await fs.setattr("/f", { mode: o.mode });
  else if (o.k === "tag") await fs.setTag("/f", "k", o.v);
  else if (o.k === "link" && !linked.yes) {
    await fs.link("/f", "/g");
    linked.yes = true;
  } else if (o.k === "unlink" && linked.yes) {
    await fs.unlink("/g");
    linked.yes = false;
  } else if (o.k === "gone" && !linked.yes) {
    // Deleted, then brought back by a revert: a deletion version in the middle of the history.
    const before = await fs.currentTid();
    await fs.unlink("/f");
    await fs.revert("/f", before, { byPath: true });
  }
}

/** Every page of `size` from the newest, each resumed after the last TID of the previous one. */
async function paged(
  fs: FileSystem,
  size: number,
  resume = (page: Version[]) => page.at(-1)!.tid,
): Promise<Version[]> {
  const out: Version[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await fs.history("/f", { limit: size, ...(before !== undefined ? { before } : {}) });
    out.push(...page);
    // The bound turns a resume that does not advance into a failed comparison, not a hang.
    if (page.length < size || out.length > 1000) return out;
    before = resume(page);
  }
}

describe("history pages (before = the previous page's last TID)", () => {
  it("pages of any size are the whole history once, newest first, deletion versions included", async () => {
    let deletions = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 4 }),
        async (ops, size) => {
          const { fs } = await setup();
          await fs.create("/f");
          const linked = { yes: false };
          for (const o of ops) await apply(fs, o, linked);
          const all = await fs.history("/f");
          deletions += all.filter((v) => v.stat === undefined).length;
          const tids = all.map((v) => v.tid);
          expect(tids).toEqual([...tids].sort().reverse());
          expect(new Set(tids).size).toBe(tids.length);
          const pages = await paged(fs, size);
          expect(pages.map((v) => [v.tid, v.change])).toEqual(all.map((v) => [v.tid, v.change]));
        },
      ),
      { seed: 13, numRuns: 150 },
    );
    // The sequences did reach the case a page boundary could break: deletion versions.
    expect(deletions).toBeGreaterThan(0);
  });

  it("counter-check: resuming from the wrong TID (the page's second-to-last) breaks the property", async () => {
    const { fs } = await setup();
    await fs.create("/f");
    for (let n = 0; n < 5; n++) await fs.setattr("/f", { mode: n });
    const all = (await fs.history("/f")).map((v) => v.tid);
    expect((await paged(fs, 2)).map((v) => v.tid)).toEqual(all);
    const wrong = (await paged(fs, 2, (page) => page.at(-2)!.tid)).map((v) => v.tid);
    expect(wrong).not.toEqual(all);
    expect(new Set(wrong).size).toBeLessThan(wrong.length);
  });

  it("a `before` that is not a TID is EINVAL", async () => {
    const { fs } = await setup();
    await fs.create("/f");
    await expect(fs.history("/f", { before: "zz" })).rejects.toMatchObject({ code: "EINVAL" });
  });
});
