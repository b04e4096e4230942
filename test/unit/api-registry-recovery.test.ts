/**
 * Every mutating operation declares how a keyed retry gets its original answer after "applied,
 * the server died before recording the reply" (functions/api/operation.ts `afterCrash`), and the
 * registry refuses one that does not — so a new operation cannot forget it.
 *
 * The table is the reviewed list: "engine" is only for operations whose commit goes through the
 * namespace engine with the request's key (it records the result in its own transaction); any
 * other operation gets a claim (functions/api/idempotency.ts) and its declared recovery, proven
 * end to end in test/e2e/http-lost-replies.test.ts.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { Operation } from "../../functions/api/operation.ts";
import { buildRegistry, isMutating, registry } from "../../functions/api/registry.ts";

type Kind = "engine" | "rerun" | "runs-again" | "gone-is-done" | "recover";

const REVIEWED: Record<string, Kind> = {
  "fs.mkdir": "engine",
  "fs.rename": "engine",
  "fs.unlink": "engine",
  "fs.rmdir": "engine",
  "fs.symlink": "engine",
  "fs.link": "engine",
  "fs.copyFile": "engine",
  "fs.setattr": "engine",
  "fs.setXattr": "engine",
  "fs.removeXattr": "engine",
  "fs.setTag": "engine",
  "fs.removeTag": "engine",
  "fs.revert": "engine",
  "fs.batch": "engine",
  "snapshot.create": "engine",
  "upload.commit": "engine",
  // deleteSnapshot writes outside the engine's commit (no idempotency record): ENOENT = done.
  "snapshot.delete": "gone-is-done",
  "upload.begin": "runs-again", // a new session; the first one expires unused
  "upload.chunks": "runs-again", // new presigned URLs for the same session
  "pfs.create": "recover",
  "pfs.delete": "gone-is-done",
  "token.create": "rerun", // the id derives from (caller, key): the same token again
  "token.list": "rerun",
  "token.revoke": "gone-is-done",
  "token.rotateKey": "runs-again", // one more active signing key; nothing is retired
  "mirror.create": "recover",
  "mirror.run": "runs-again",
  "mirror.promote": "recover",
  "backup.create": "runs-again", // a second bundle of the same state
  "backup.restore": "runs-again", // resumes the restore from that bundle
  "volume.add": "rerun", // the same settings again are a no-op
  "volume.drain": "rerun",
  "volume.remove": "gone-is-done",
  "objective.set": "rerun",
  "objective.remove": "gone-is-done",
  "placement.sweep": "runs-again",
  "vacuum.run": "runs-again",
  "scrub.run": "runs-again",
  "fsck.run": "runs-again",
  "retention.set": "rerun",
  "job.cancel": "rerun", // cancelling a cancelled job answers the same record
};

function kindOf(op: Operation): Kind | undefined {
  const after = op.afterCrash;
  return typeof after === "object" ? "recover" : after;
}

const stub = (over: Partial<Operation>): Operation => ({
  name: "x.op",
  summary: "",
  scope: "deployment",
  right: "admin",
  touches: "deployment",
  input: z.object({}),
  run: async () => ({}),
  ...over,
});

describe("after a crash between applying and recording, every mutating operation knows its answer", () => {
  it("every mutating operation declares the reviewed recovery; read operations declare none", () => {
    const declared: Record<string, Kind | undefined> = {};
    for (const op of registry.values()) if (isMutating(op) || op.afterCrash) declared[op.name] = kindOf(op);
    expect(declared).toEqual(REVIEWED);
  });

  it("the registry refuses a mutating operation without afterCrash, and a read one with it", () => {
    expect(() => buildRegistry([[stub({})]])).toThrow(/declares no `afterCrash`/);
    expect(() => buildRegistry([[stub({ right: "read", afterCrash: "rerun" })]])).toThrow(/does not mutate/);
    expect(() => buildRegistry([[stub({ afterCrash: "maybe" as never })]])).toThrow(/unusable/);
    // Counter-check: the same operation with a declaration is accepted.
    expect(buildRegistry([[stub({ afterCrash: "gone-is-done" })]]).size).toBe(1);
  });
});
