/**
 * Every operation declares what it touches (functions/api/operation.ts `touches`), the registry
 * refuses one that does not, and authorisation (auth.ts `authorise`) follows the declaration.
 *
 * The table below is the reviewed list: adding an operation fails this test until its line is
 * added here, by someone who decided what it touches.
 */
import { describe, expect, it } from "vitest";
import { isStrataError, type StrataError } from "../../core/errors.ts";
import { parsePath } from "../../core/namespace/path.ts";
import {
  authorise,
  checkDeploymentAdmin,
  covers,
  MAX_PATHS_PER_REQUEST,
  type Principal,
  pathWithin,
} from "../../functions/api/auth.ts";
import type { Operation } from "../../functions/api/operation.ts";
import { symlinkDestination } from "../../functions/api/ops/common.ts";
import { buildRegistry, inputSchemaOf, registry } from "../../functions/api/registry.ts";
import { testPrincipal } from "../support/principals.ts";

type Touches = Operation["touches"];

/** What each operation touches, reviewed by hand (why, for the non-obvious ones). */
const DECLARED: Record<string, Touches> = {
  "fs.stat": "paths",
  "fs.lstat": "paths",
  "fs.readdir": "paths",
  "fs.readlink": "paths",
  "fs.getXattr": "paths",
  "fs.listXattrs": "paths",
  "fs.getTags": "paths",
  "fs.mkdir": "paths",
  "fs.rename": "paths",
  "fs.unlink": "paths",
  "fs.rmdir": "paths",
  "fs.symlink": "paths",
  "fs.link": "paths",
  "fs.setattr": "paths",
  "fs.setXattr": "paths",
  "fs.removeXattr": "paths",
  "fs.setTag": "paths",
  "fs.removeTag": "paths",
  "fs.history": "paths",
  "fs.revert": "paths",
  "fs.batch": "paths",
  // The PFS's TID counter, no object: a scoped token may pin an as-of view of its subtree.
  "fs.currentTid": "paths",
  // Snapshots pin and name the history of the whole PFS.
  "snapshot.create": "pfs",
  "snapshot.list": "pfs",
  "snapshot.delete": "pfs",
  // The deployment's chunk size and inline threshold.
  "data.config": "deployment",
  "upload.begin": "paths",
  // The session's path, checked at upload.begin; the session is bound to its token.
  "upload.chunks": "paths",
  "upload.commit": "paths",
  "fs.read": "paths",
  "fs.placement": "paths",
  "fs.copyFile": "paths",
  "fs.reportBadInstance": "paths",
  "pfs.list": "deployment",
  "pfs.create": "deployment",
  "pfs.delete": "deployment",
  "token.create": "deployment",
  "token.list": "deployment",
  // An S3 gateway resolves an access key id (deployment admin).
  "token.s3Credentials": "deployment",
  "token.revoke": "deployment",
  // The deployment's signing keys (deployment admin).
  "token.rotateKey": "deployment",
  status: "deployment",
  "mirror.create": "deployment",
  "mirror.run": "deployment",
  "mirror.status": "deployment",
  "mirror.promote": "deployment",
  // The source side of a mirror reads every record (and chunk) of the PFS it names.
  "mirror.info": "pfs",
  "mirror.read": "pfs",
  "mirror.chunk": "pfs",
  "mirror.full": "pfs",
  "backup.create": "pfs",
  "backup.restore": "deployment",
  "volume.add": "deployment",
  "volume.list": "deployment",
  "volume.drain": "deployment",
  "volume.remove": "deployment",
  "objective.set": "paths",
  "objective.list": "paths",
  "objective.remove": "paths",
  "objective.explain": "paths",
  "placement.get": "paths",
  "placement.wait": "paths",
  "placement.sweep": "pfs",
  "vacuum.run": "deployment",
  "scrub.run": "deployment",
  "fsck.run": "deployment",
  "job.list": "deployment",
  "job.get": "deployment",
  "job.wait": "deployment",
  "job.cancel": "deployment",
  "retention.set": "pfs",
  "retention.get": "pfs",
};

/** The only names a path field may have (a new one must be added here and to the check below). */
const PATH_KEYS = new Set(["path", "from", "to", "existing"]);

const sha = "ab".repeat(32);
const bytes = { $bytes: "" };
/** A valid input per "paths" operation that fills every path field with a distinct path. */
const SAMPLES: Record<string, unknown> = {
  "fs.stat": { path: "/s1" },
  "fs.lstat": { path: "/s1" },
  "fs.readdir": { path: "/s1", limit: 5 },
  "fs.readlink": { path: "/s1" },
  "fs.getXattr": { path: "/s1", name: "user.x" },
  "fs.listXattrs": { path: "/s1" },
  "fs.getTags": { path: "/s1" },
  "fs.mkdir": { path: "/s1/d", recursive: true },
  "fs.rename": { from: "/s1/a", to: "/s2/b" },
  "fs.unlink": { path: "/s1" },
  "fs.rmdir": { path: "/s1" },
  "fs.symlink": { path: "/s1/l", target: "../s2/t" },
  "fs.link": { existing: "/s1/a", path: "/s2/b" },
  "fs.setattr": { path: "/s1", attrs: { mode: 0o644 } },
  "fs.setXattr": { path: "/s1", name: "user.x", value: bytes },
  "fs.removeXattr": { path: "/s1", name: "user.x" },
  "fs.setTag": { path: "/s1", key: "k", value: "v" },
  "fs.removeTag": { path: "/s1", key: "k" },
  "fs.history": { path: "/s1" },
  "fs.revert": { path: "/s1", asOf: "0000000000000001" },
  "fs.batch": {
    ops: [
      { op: "mkdir", path: "/b1" },
      { op: "create", path: "/b2" },
      { op: "writeContent", path: "/b3", content: { size: 0, inline: bytes } },
      { op: "unlink", path: "/b4" },
      { op: "rmdir", path: "/b5" },
      { op: "rename", from: "/b6", to: "/b7" },
      { op: "symlink", target: "/b8", path: "/b9" },
      { op: "link", existing: "/b10", path: "/b11" },
      { op: "setattr", path: "/b12", attrs: {} },
      { op: "setTag", path: "/b13", key: "k", value: "v" },
      { op: "removeTag", path: "/b14", key: "k" },
    ],
  },
  "fs.currentTid": {},
  "upload.begin": { path: "/s1" },
  "upload.chunks": { uploadId: "x", chunks: [{ sha256: sha, size: 1, crc32c: 0 }] },
  "upload.commit": { path: "/s1", inline: bytes },
  "fs.read": { path: "/s1" },
  "fs.placement": { path: "/s1" },
  "fs.copyFile": { from: "/s1/a", to: "/s2/b" },
  "fs.reportBadInstance": { path: "/s1", chunk: sha, volume: "v" },
  "objective.set": { path: "/s1", text: "" },
  "objective.list": { path: "/s1" },
  "objective.remove": { path: "/s1" },
  "objective.explain": { path: "/s1" },
  "placement.get": { path: "/s1" },
  "placement.wait": { path: "/s1", timeoutSeconds: 1 },
};

/** Names of every property in an operation's input schema that is a path (pathSchema's description). */
function pathFieldsOf(op: Operation): Set<string> {
  const out = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
      return;
    }
    if (!node || typeof node !== "object") return;
    const props = (node as { properties?: Record<string, { description?: string }> }).properties;
    for (const [key, schema] of Object.entries(props ?? {}))
      if (String(schema?.description ?? "").startsWith("absolute path")) out.add(key);
    for (const value of Object.values(node)) walk(value);
  };
  walk(inputSchemaOf(op));
  return out;
}

/**
 * The paths a request names, found in its input by field name (a symlink's target counts by the
 * place it points to), each of which `paths(input)` must return.
 */
function namedPaths(input: unknown, fields: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
      return;
    }
    if (!node || typeof node !== "object") return;
    const o = node as Record<string, unknown>;
    for (const [key, value] of Object.entries(o)) {
      if (fields.has(key) && typeof value === "string") out.push(value);
      else walk(value);
    }
    if (typeof o.target === "string" && typeof o.path === "string")
      out.push(symlinkDestination(o.path, o.target));
  };
  walk(input);
  return out;
}

/** Paths of the input that `op.paths` does not return (empty = the declaration is complete). */
function undeclaredPaths(op: Operation, sample: unknown): string[] {
  const input = op.input.parse(sample);
  const declared = op.paths!(input).map((p) => parsePath(p).join("/"));
  return namedPaths(input, pathFieldsOf(op)).filter((p) => !declared.includes(parsePath(p).join("/")));
}

function refusal(fn: () => void): StrataError | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (isStrataError(err)) return err;
    throw err;
  }
}

const scoped = (over: Partial<Principal>): Principal => testPrincipal({ pfs: "p", ...over });

describe("every operation declares what it touches", () => {
  it("the registry's declarations match the reviewed table, one line per operation", () => {
    expect([...registry.keys()].sort()).toEqual(Object.keys(DECLARED).sort());
    for (const op of registry.values()) expect(op.touches, op.name).toBe(DECLARED[op.name]);
  });

  it("every path field of every operation is one paths(input) returns", () => {
    for (const op of registry.values()) {
      const fields = pathFieldsOf(op);
      for (const f of fields) expect(PATH_KEYS.has(f), `${op.name}: unknown path field ${f}`).toBe(true);
      if (op.touches !== "paths") {
        expect(fields.size, `${op.name} takes paths but declares ${op.touches}`).toBe(0);
        continue;
      }
      const sample = SAMPLES[op.name];
      expect(sample, `${op.name} needs a sample input here`).toBeDefined();
      // The sample fills every path field the schema has.
      const present = new Set<string>();
      JSON.stringify(sample, (key, value) => {
        if (fields.has(key)) present.add(key);
        return value;
      });
      expect([...present].sort(), op.name).toEqual([...fields].sort());
      expect(undeclaredPaths(op, sample), op.name).toEqual([]);
    }
  });

  it("counter-check: an operation whose paths() leaves out a field is caught", () => {
    const rename = registry.get("fs.rename")!;
    const leaky: Operation = { ...rename, paths: (i) => [(i as { from: string }).from] };
    expect(undeclaredPaths(leaky, SAMPLES["fs.rename"])).toEqual(["/s2/b"]);
    const batch = registry.get("fs.batch")!;
    const leakyBatch: Operation = { ...batch, paths: () => ["/b1"] };
    expect(undeclaredPaths(leakyBatch, SAMPLES["fs.batch"]).length).toBeGreaterThan(10);
  });

  it("counter-check: the registry refuses an operation without a declaration, or an inconsistent one", () => {
    const base = registry.get("fs.stat")!;
    const { touches: _t, ...undeclared } = base;
    expect(() => buildRegistry([[undeclared as Operation]])).toThrow(/declares no `touches`/);
    expect(() => buildRegistry([[{ ...base, touches: "path" as Touches }]])).toThrow(/declares no `touches`/);
    const { paths: _p, ...noPaths } = base;
    expect(() => buildRegistry([[noPaths as Operation]])).toThrow(/no `paths\(input\)`/);
    expect(() => buildRegistry([[{ ...base, touches: "pfs" }]])).toThrow(/has `paths`/);
    const mirrorRead = registry.get("mirror.read")!;
    const { pfsOf: _f, ...noPfs } = mirrorRead;
    expect(() => buildRegistry([[noPfs as Operation]])).toThrow(/no `pfsOf\(input\)`/);
    // The real areas pass the same check.
    expect(buildRegistry([[...registry.values()]]).size).toBe(registry.size);
  });
});

describe("authorisation follows the declaration", () => {
  const op = (name: string) => registry.get(name)!;

  it("a writer confined to /a cannot snapshot.create; a whole-PFS writer can", () => {
    const writerA = scoped({ prefix: "/a", rights: ["read", "write"] });
    expect(refusal(() => authorise(writerA, op("snapshot.create"), { name: "s" }, "p"))?.code).toBe("EACCES");
    expect(
      refusal(() =>
        authorise(scoped({ rights: ["read", "write"] }), op("snapshot.create"), { name: "s" }, "p"),
      ),
    ).toBeUndefined();
  });

  it("counter-check: declared as it was before (touches paths, no path), the confined writer gets through", () => {
    const writerA = scoped({ prefix: "/a", rights: ["read", "write"] });
    const before: Operation = { ...op("snapshot.create"), touches: "paths", paths: () => [] };
    expect(refusal(() => authorise(writerA, before, { name: "s" }, "p"))).toBeUndefined();
  });

  it("a prefix-scoped PFS admin cannot retention.set, snapshot.delete, placement.sweep or read the mirror stream", () => {
    const adminA = scoped({ prefix: "/a", rights: ["admin"] });
    for (const [name, input, pfs] of [
      ["retention.set", { policy: "" }, "p"],
      ["snapshot.delete", { name: "s" }, "p"],
      ["snapshot.list", {}, "p"],
      ["placement.sweep", {}, "p"],
      ["retention.get", {}, "p"],
      ["mirror.read", { pfs: "p" }, undefined],
      ["mirror.full", { pfs: "p" }, undefined],
      ["mirror.info", { pfs: "p" }, undefined],
    ] as const) {
      const err = refusal(() => authorise(adminA, op(name), input, pfs));
      expect(err?.code, name).toBe("EACCES");
      expect(err?.message, name).toMatch(/whole PFS/);
      expect(
        refusal(() => authorise(scoped({ rights: ["admin"] }), op(name), input, pfs)),
        name,
      ).toBeUndefined();
    }
  });

  it("a * token respects its prefix: not a deployment admin, covers only tokens inside it", () => {
    const starA = testPrincipal({ prefix: "/a" });
    expect(refusal(() => checkDeploymentAdmin(starA, "pfs.create"))?.code).toBe("EACCES");
    expect(refusal(() => checkDeploymentAdmin(testPrincipal(), "pfs.create"))).toBeUndefined();
    expect(covers(starA, { pfs: "q", prefix: "/a/b" })).toBe(true);
    expect(covers(starA, { pfs: "q", prefix: "/" })).toBe(false);
    expect(covers(starA, { pfs: "q", prefix: "/b" })).toBe(false);
    expect(refusal(() => authorise(starA, op("fs.stat"), { path: "/b" }, "q"))?.code).toBe("EACCES");
    expect(refusal(() => authorise(starA, op("snapshot.create"), { name: "s" }, "q"))?.code).toBe("EACCES");
    expect(pathWithin("/a/x", starA.prefix)).toBe(true);
  });

  it("a request naming more paths than the limit is refused before any work", () => {
    const ops = Array.from({ length: 100 }, (_, n) => ({ op: "rename", from: `/x${n}`, to: `/y${n}` }));
    const input = op("fs.batch").input.parse({ ops });
    expect(op("fs.batch").paths!(input).length).toBe(MAX_PATHS_PER_REQUEST);
    expect(refusal(() => authorise(testPrincipal(), op("fs.batch"), input, "p"))).toBeUndefined();
    const over: Operation = { ...op("fs.batch"), paths: (i) => [...op("fs.batch").paths!(i), "/one-more"] };
    expect(refusal(() => authorise(testPrincipal(), over, input, "p"))?.code).toBe("E2BIG");
  });
});
