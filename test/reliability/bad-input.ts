/**
 * The bad-input corpus: hostile and malformed inputs × every SDK operation that takes a path, a
 * name, a tag, an xattr, a body or a batch. Each call on a REJECTED input must fail with a
 * StrataError of an input code (EINVAL, ENAMETOOLONG, E2BIG) and leave the whole durable state
 * (every store item + every volume object) bit-for-bit unchanged.
 *
 * Some odd inputs are legitimately ACCEPTED (docs/reliability.md lists them and why); for those
 * the harness asserts confinement instead: a file created under `/box/<input>` appears as exactly
 * one entry of `/box` whose name is the input as given (no decoding, no normalisation, no case
 * folding), and nothing outside `/box` changed.
 */
import { isStrataError } from "../../core/errors.ts";
import type { Strata } from "../../sdk/types.ts";
import { World, type WorldOptions } from "./world.ts";

export type Verdict = "reject" | "accept";

export interface CorpusEntry {
  label: string;
  value: unknown;
  verdict: Verdict;
  /**
   * Wrong only as a path to look up or create, not as a symlink target (a target is any string of
   * ≤ 4,096 bytes without NUL; relative and over-long components resolve, or fail, later).
   */
  pathOnly?: boolean;
}

const INPUT_CODES = new Set(["EINVAL", "ENAMETOOLONG", "E2BIG"]);
const bytes = (n: number) => "x".repeat(n);

/** Names (one path component) — used as `/box/<name>` for path-taking ops. */
export function nameCorpus(): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  const reject = (label: string, value: string) =>
    out.push({ label, value, verdict: "reject", pathOnly: !/NUL|surrogate/.test(label) });
  const accept = (label: string, value: string) => out.push({ label, value, verdict: "accept" });
  // NUL anywhere.
  for (const v of ["\0", "a\0", "\0a", "a\0b", "\0\0", `${bytes(10)}\0`])
    reject(`NUL ${JSON.stringify(v)}`, v);
  // Lone UTF-16 surrogates: not encodable as UTF-8 (the JS form of "invalid UTF-8").
  for (const v of ["\uD800", "\uDBFF", "\uDC00", "\uDFFF", "a\uD800", "\uDC00a", "a\uD83Db", "\uDE00\uD83D"])
    reject(`lone surrogate ${JSON.stringify(v)}`, v);
  // Length: 255 bytes is the limit, in whatever encoding width.
  accept("255 ASCII bytes", bytes(255));
  reject("256 ASCII bytes", bytes(256));
  accept("253 + 2-byte char = 255 bytes", `${bytes(253)}é`);
  reject("254 + 2-byte char = 256 bytes (straddles byte 255)", `${bytes(254)}é`);
  accept("252 + 3-byte char = 255 bytes", `${bytes(252)}€`);
  reject("253 + 3-byte char (straddles)", `${bytes(253)}€`);
  reject("254 + 3-byte char (straddles)", `${bytes(254)}€`);
  accept("251 + 4-byte char = 255 bytes", `${bytes(251)}😀`);
  for (const k of [252, 253, 254]) reject(`${k} + 4-byte char (straddles)`, `${bytes(k)}😀`);
  reject("85 × 3-byte chars + 1 = 256 bytes", `${"€".repeat(85)}x`);
  accept("85 × 3-byte chars = 255 bytes", "€".repeat(85));
  reject("1,000 bytes", bytes(1000));
  // Control characters other than NUL: legal in POSIX names and stored exactly (accepted).
  for (let c = 1; c < 32; c++)
    accept(`control U+${c.toString(16).padStart(4, "0")}`, `c${String.fromCharCode(c)}`);
  accept("DEL", "c\u007f");
  accept("C1 control U+0085", "c\u0085");
  // Encoded traversal: a literal name, never decoded.
  for (const v of [
    "%2e%2e%2f",
    "%2e%2e",
    "%2E%2E%2F",
    "..%2f",
    "%2e%2e%5c",
    "%252e%252e%252f",
    "%25252e",
    "..%252f",
    "%c0%ae%c0%ae%2f",
    "%u002e%u002e",
  ])
    accept(`encoded traversal ${v}`, v);
  // Look-alikes: distinct names (no normalisation, no case folding).
  for (const v of [
    "é",
    "e\u0301",
    "Å",
    "A\u030a",
    "\u212b",
    "K",
    "k",
    "\u212a",
    "ß",
    "SS",
    "ss",
    "ﬁ",
    "fi",
    "I",
    "ı",
    "İ",
    "\u0130",
    "ǅ",
    "\uFEFFa",
    "a\u200b",
    "\u00a0",
    "ＡＢ",
  ])
    accept(`look-alike ${JSON.stringify(v)}`, v);
  // Dots and separators as parts of a name.
  for (const v of ["...", ".a", "a.", "..a", "a..", " .. ", "\\..\\", "..\\a"])
    accept(`dots ${JSON.stringify(v)}`, v);
  return out;
}

/**
 * Paths with "..", "." and repeated slashes: ACCEPTED, resolved lexically before any lookup
 * (docs/namespace.md), so they can never climb above the root. Each is written, and the bytes
 * must be found at the canonical path — and nowhere else.
 */
export const DOT_PATHS: Array<[string, string]> = [
  ["/../box/d1", "/box/d1"],
  ["/../../../../box/d2", "/box/d2"],
  ["/box/../box/d3", "/box/d3"],
  ["/box/./d4", "/box/d4"],
  ["//box///d5", "/box/d5"],
  ["/box/x/../d6", "/box/d6"],
  ["/box/x/y/../../d7", "/box/d7"],
  ["/./box/./d8/.", "/box/d8"],
  ["/box/d9/", "/box/d9"],
  ["/..//..//box/d10", "/box/d10"],
  ["/box/f/../d11", "/box/d11"],
  ["/box/%2e%2e/../d12", "/box/d12"],
  ["/box/../../box/../box/d13", "/box/d13"],
  ["/box/.../../d14", "/box/d14"],
];

/** Whole paths (as given, not under /box). */
export function pathCorpus(): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  const reject = (label: string, value: unknown, pathOnly = false) =>
    out.push({ label, value, verdict: "reject", pathOnly });
  for (const v of ["", "a", "a/b", "./a", "../a", "..", ".", "box", " /box", "\\box", "C:\\box", "//"].slice(
    0,
    11,
  ))
    reject(`relative ${JSON.stringify(v)}`, v, true);
  reject("4,097-byte path", `/${"d/".repeat(2048)}`);
  reject("deep path of 2,049 components", "/d".repeat(2049));
  reject("8 KB path", `/${bytes(8192)}`);
  reject("path with NUL", "/box/\0/x");
  reject("path with a lone surrogate", "/box/\uD800/x");
  for (const v of [
    null,
    undefined,
    42,
    0,
    -1,
    true,
    false,
    {},
    [],
    ["/box"],
    { path: "/box" },
    new Uint8Array([47]),
    () => "/box",
    Symbol("p"),
    10n,
    Number.NaN,
  ])
    reject(
      `wrong type ${typeof v} ${String(typeof v === "symbol" ? "symbol" : Array.isArray(v) ? `[${v}]` : v)}`,
      v,
    );
  return out;
}

/** Tag keys / values, xattr names / values, bodies, modes, lengths, snapshot names, batches. */
export function argCorpus() {
  const wrong = [null, undefined, 42, true, {}, [], Symbol("s"), 10n];
  return {
    tagKeys: [
      ...["", "\0", "k\0", bytes(129), "\uD800", `k${"€".repeat(43)}`].map((value) => ({
        label: `tag key ${JSON.stringify(value).slice(0, 30)}`,
        value,
      })),
      ...wrong.map((value) => ({ label: `tag key of type ${typeof value}`, value })),
    ],
    tagValues: [
      ...[bytes(1025), "\uDFFF", `${"€".repeat(342)}`].map((value) => ({
        label: `tag value ${JSON.stringify(value).slice(0, 30)}`,
        value,
      })),
      ...wrong
        .filter((v) => v !== undefined)
        .map((value) => ({ label: `tag value of type ${typeof value}`, value })),
    ],
    xattrNames: [
      ...["", "\0", "user.\0", bytes(256), "\uD800"].map((value) => ({
        label: `xattr name ${JSON.stringify(value).slice(0, 30)}`,
        value,
      })),
      ...wrong.map((value) => ({ label: `xattr name of type ${typeof value}`, value })),
    ],
    xattrValues: [
      { label: "xattr value 64 KiB + 1", value: new Uint8Array(64 * 1024 + 1) },
      ...[null, undefined, 42, {}, [1, 2], Symbol("v")].map((value) => ({
        label: `xattr value of type ${typeof value}`,
        value,
      })),
    ],
    bodies: [42, null, {}, true, [1, 2, 3], ["a", 1], Symbol("b"), 10n, new Date(0), { length: 3 }].map(
      (value) => ({
        label: `body ${typeof value} ${Array.isArray(value) ? "array" : String(typeof value === "symbol" ? "symbol" : value)}`,
        value,
      }),
    ),
    modes: [-1, 0o10000, 1.5, Number.NaN, "755", {}, Number.POSITIVE_INFINITY].map((value) => ({
      label: `mode ${String(value)}`,
      value,
    })),
    lengths: [-1, 1.5, Number.NaN, "3", null, Number.POSITIVE_INFINITY, 2 ** 60].map((value) => ({
      label: `truncate length ${String(value)}`,
      value,
    })),
    snapshotNames: [
      ...["", "\0", "s\0", bytes(256), "\uD800"].map((value) => ({
        label: `snapshot name ${JSON.stringify(value).slice(0, 30)}`,
        value,
      })),
      ...wrong.map((value) => ({ label: `snapshot name of type ${typeof value}`, value })),
    ],
    asOf: [
      "zzz",
      "",
      "0".repeat(17),
      new Date(Number.NaN),
      { snapshot: 42 },
      { snapshot: "" },
      42,
      [],
      { tid: "x" },
    ].map((value) => ({
      label: `asOf ${String(value instanceof Date ? "Invalid Date" : JSON.stringify(value))}`,
      value,
    })),
    batches: [
      { label: "batch not an array", value: { op: "mkdir", path: "/box/b" } },
      {
        label: "batch of 101 ops",
        value: Array.from({ length: 101 }, (_, i) => ({ op: "mkdir", path: `/box/b${i}` })),
      },
      {
        label: "batch of 10,000 ops",
        value: Array.from({ length: 10_000 }, (_, i) => ({ op: "mkdir", path: `/box/b${i}` })),
      },
      {
        label: "batch op of unknown kind",
        value: [
          { op: "mkdir", path: "/box/b" },
          { op: "format", path: "/" },
        ],
      },
      { label: "batch op without a path", value: [{ op: "mkdir", path: "/box/b" }, { op: "unlink" }] },
      { label: "batch op null", value: [{ op: "mkdir", path: "/box/b" }, null] },
      {
        label: "batch writeFile of 4,097 bytes",
        value: [{ op: "writeFile", path: "/box/b", data: new Uint8Array(4097) }],
      },
      { label: "batch writeFile of a number", value: [{ op: "writeFile", path: "/box/b", data: 42 }] },
      {
        label: "batch with a NUL path",
        value: [
          { op: "mkdir", path: "/box/b" },
          { op: "mkdir", path: "/box/\0" },
        ],
      },
      {
        label: "batch with an oversized tag",
        value: [
          { op: "mkdir", path: "/box/b" },
          { op: "setTag", path: "/box/b", key: "k", value: bytes(2000) },
        ],
      },
      { label: "batch with a bad mode", value: [{ op: "mkdir", path: "/box/b", mode: -5 }] },
      { label: "batch of strings", value: ["mkdir /box/b"] },
    ],
  };
}

/** Ops that take a path, by how they use it. */
type PathOp = { name: string; call: (c: Strata, path: unknown) => Promise<unknown>; target?: boolean };

const any = (x: unknown) => x as never;

export const PATH_OPS: PathOp[] = [
  { name: "readFile", call: (c, p) => c.readFile(any(p)) },
  { name: "writeFile", call: (c, p) => c.writeFile(any(p), "hello") },
  { name: "writeFile 70 KB", call: (c, p) => c.writeFile(any(p), new Uint8Array(70_000).fill(7)) },
  { name: "appendFile", call: (c, p) => c.appendFile(any(p), "more") },
  { name: "truncate", call: (c, p) => c.truncate(any(p), 3) },
  { name: "stat", call: (c, p) => c.stat(any(p)) },
  { name: "lstat", call: (c, p) => c.lstat(any(p)) },
  { name: "readdir", call: (c, p) => c.readdir(any(p)) },
  { name: "mkdir", call: (c, p) => c.mkdir(any(p)) },
  { name: "mkdir -p", call: (c, p) => c.mkdir(any(p), { recursive: true }) },
  { name: "rm -r", call: (c, p) => c.rm(any(p), { recursive: true }) },
  { name: "unlink", call: (c, p) => c.unlink(any(p)) },
  { name: "rmdir", call: (c, p) => c.rmdir(any(p)) },
  { name: "rename from", call: (c, p) => c.rename(any(p), "/box/renamed") },
  { name: "rename to", call: (c, p) => c.rename("/box/f", any(p)) },
  { name: "symlink path", call: (c, p) => c.symlink("/box/f", any(p)) },
  { name: "symlink target", call: (c, p) => c.symlink(any(p), "/box/link"), target: true },
  { name: "link to", call: (c, p) => c.link("/box/f", any(p)) },
  { name: "readlink", call: (c, p) => c.readlink(any(p)) },
  { name: "chmod", call: (c, p) => c.chmod(any(p), 0o600) },
  { name: "chown", call: (c, p) => c.chown(any(p), 1, 1) },
  { name: "utimes", call: (c, p) => c.utimes(any(p), 1, 1) },
  { name: "setxattr", call: (c, p) => c.setxattr(any(p), "user.a", new Uint8Array([1])) },
  { name: "getxattr", call: (c, p) => c.getxattr(any(p), "user.a") },
  { name: "listxattr", call: (c, p) => c.listxattr(any(p)) },
  { name: "tags.set", call: (c, p) => c.tags.set(any(p), "k", "v") },
  { name: "tags.list", call: (c, p) => c.tags.list(any(p)) },
  { name: "history", call: (c, p) => c.history(any(p)) },
  { name: "revert", call: (c, p) => c.revert(any(p), { snapshot: "base" }) },
  { name: "placement", call: (c, p) => c.placement(any(p)) },
  { name: "asOf readFile", call: (c, p) => c.asOf({ snapshot: "base" }).readFile(any(p)) },
  { name: "batch mkdir", call: (c, p) => c.batch([{ op: "mkdir", path: any(p) }]) },
];

/** Ops that take one other argument, with the corpus they get. */
function argOps(): Array<{
  name: string;
  inputs: Array<{ label: string; value: unknown }>;
  call: (c: Strata, v: unknown) => Promise<unknown>;
}> {
  const a = argCorpus();
  return [
    { name: "tags.set key", inputs: a.tagKeys, call: (c, v) => c.tags.set("/box/f", any(v), "v") },
    { name: "tags.set value", inputs: a.tagValues, call: (c, v) => c.tags.set("/box/f", "k", any(v)) },
    { name: "tags.remove key", inputs: a.tagKeys, call: (c, v) => c.tags.remove("/box/f", any(v)) },
    {
      name: "setxattr name",
      inputs: a.xattrNames,
      call: (c, v) => c.setxattr("/box/f", any(v), new Uint8Array([1])),
    },
    { name: "setxattr value", inputs: a.xattrValues, call: (c, v) => c.setxattr("/box/f", "user.a", any(v)) },
    { name: "removexattr name", inputs: a.xattrNames, call: (c, v) => c.removexattr("/box/f", any(v)) },
    { name: "writeFile body", inputs: a.bodies, call: (c, v) => c.writeFile("/box/f", any(v)) },
    { name: "appendFile body", inputs: a.bodies, call: (c, v) => c.appendFile("/box/f", any(v)) },
    { name: "chmod mode", inputs: a.modes, call: (c, v) => c.chmod("/box/f", any(v)) },
    { name: "mkdir mode", inputs: a.modes, call: (c, v) => c.mkdir("/box/m", { mode: any(v) }) },
    { name: "truncate length", inputs: a.lengths, call: (c, v) => c.truncate("/box/f", any(v)) },
    { name: "snapshots.create name", inputs: a.snapshotNames, call: (c, v) => c.snapshots.create(any(v)) },
    { name: "asOf point", inputs: a.asOf, call: (c, v) => c.asOf(any(v)).readFile("/box/f") },
    { name: "revert point", inputs: a.asOf, call: (c, v) => c.revert("/box", any(v)) },
    { name: "batch", inputs: a.batches, call: (c, v) => c.batch(any(v)) },
  ];
}

export interface BadInputFigures {
  /** Distinct corpus inputs (names + paths + other arguments). */
  inputs: number;
  /** Calls made (input × operation). */
  calls: number;
  rejected: number;
  /** Rejected inputs that got through (success, a non-StrataError, or a non-input code). */
  notRejected: number;
  /** Rejections after which the state hash differed. */
  stateChanged: number;
  accepted: number;
  /** Accepted inputs that did not land as exactly `/box/<input>`. */
  escaped: number;
  failures: string[];
}

async function outcome(
  fn: () => Promise<unknown>,
): Promise<{ ok: true } | { ok: false; code?: string; error: unknown }> {
  try {
    await fn();
    return { ok: true };
  } catch (err) {
    return { ok: false, code: isStrataError(err) ? err.code : undefined, error: err };
  }
}

async function setUp(client: Strata): Promise<void> {
  await client.mkdir("/box");
  await client.writeFile("/box/f", "content of f");
  await client.writeFile("/outside", "do not touch");
  await client.snapshots.create("base");
}

/** Where the corpus runs: a client, and a digest of the whole durable state behind it. */
export interface BadInputTarget {
  client: Strata;
  stateHash(): Promise<string>;
  dispose(): Promise<void>;
}

/** The whole corpus through the embedded SDK on a fresh world. */
export async function runBadInputs(options: {
  backend: WorldOptions["backend"];
  seed: number;
}): Promise<BadInputFigures> {
  const world = await World.create({ backend: options.backend, seed: options.seed });
  return await runBadInputsOn({
    client: world.boot().client,
    stateHash: () => world.stateHash(),
    dispose: () => world.dispose(),
  });
}

/** The whole corpus through `target.client`; the state hash is checked around every rejection. */
export async function runBadInputsOn(
  target: BadInputTarget,
  /** Use every n-th path operation only (a quicker tier; every input still runs). Default 1. */
  opStride = 1,
): Promise<BadInputFigures> {
  const pathOps = PATH_OPS.filter((_, i) => i % opStride === 0);
  const { client } = target;
  const world = { stateHash: () => target.stateHash(), dispose: () => target.dispose() };
  await setUp(client);
  const f: BadInputFigures = {
    inputs: 0,
    calls: 0,
    rejected: 0,
    notRejected: 0,
    stateChanged: 0,
    accepted: 0,
    escaped: 0,
    failures: [],
  };
  const fail = (m: string) => {
    if (f.failures.length < 100) f.failures.push(m);
  };
  // The state after one call is the state before the next (computed once: hashing is the cost).
  let before = await world.stateHash();
  const expectRejected = async (what: string, fn: () => Promise<unknown>) => {
    f.calls++;
    const got = await outcome(fn);
    const after = await world.stateHash();
    if (got.ok || !got.code || !INPUT_CODES.has(got.code)) {
      f.notRejected++;
      fail(
        `${what}: ${got.ok ? "accepted" : got.code ? `failed ${got.code}: ${(got.error as Error).message}` : `threw a non-StrataError: ${String(got.error)}`}`,
      );
    } else f.rejected++;
    if (before !== after) {
      f.stateChanged++;
      fail(`${what}: the state changed although the call failed`);
    }
    before = after;
  };
  try {
    const names = nameCorpus();
    const paths = pathCorpus();
    const args = argOps();
    f.inputs = names.length + paths.length + DOT_PATHS.length + args.reduce((n, a) => n + a.inputs.length, 0);
    const applies = (op: PathOp, entry: CorpusEntry) => !(op.target && entry.pathOnly);
    for (const entry of names) {
      if (entry.verdict === "reject") {
        for (const op of pathOps)
          if (applies(op, entry))
            await expectRejected(`${op.name}(/box/${entry.label})`, () =>
              op.call(client, `/box/${entry.value}`),
            );
        continue;
      }
      // Accepted: it must land as exactly that one new name inside /box, and nothing else changes.
      f.accepted++;
      f.calls++;
      const outsideBefore = JSON.stringify(await client.readdir("/"));
      const path = `/box/${entry.value}`;
      const got = await outcome(async () => {
        const had = new Set(await client.readdir("/box"));
        await client.writeFile(path, "odd but fine");
        const gained = (await client.readdir("/box")).filter((n) => !had.has(n));
        if (gained.length !== 1 || gained[0] !== entry.value)
          throw new Error(`/box gained ${JSON.stringify(gained)}`);
        if (new TextDecoder().decode(await client.readFile(path)) !== "odd but fine")
          throw new Error("read back differs");
        await client.unlink(path);
      });
      before = await world.stateHash();
      if (!got.ok || JSON.stringify(await client.readdir("/")) !== outsideBefore) {
        f.escaped++;
        fail(
          `accepted ${entry.label}: ${got.ok ? "changed something outside /box" : String((got.error as Error).message)}`,
        );
      }
    }
    for (const [given, canonical] of DOT_PATHS) {
      f.accepted++;
      f.calls++;
      const rootBefore = JSON.stringify(await client.readdir("/"));
      const got = await outcome(async () => {
        await client.writeFile(given, given);
        if (new TextDecoder().decode(await client.readFile(canonical)) !== given)
          throw new Error(`not found at ${canonical}`);
        await client.unlink(canonical);
      });
      before = await world.stateHash();
      if (!got.ok || JSON.stringify(await client.readdir("/")) !== rootBefore) {
        f.escaped++;
        fail(`accepted ${given}: ${got.ok ? "changed the root" : String((got.error as Error).message)}`);
      }
    }
    for (const entry of paths)
      for (const op of pathOps)
        if (applies(op, entry))
          await expectRejected(`${op.name}(${entry.label})`, () => op.call(client, entry.value));
    for (const op of args)
      for (const input of op.inputs)
        await expectRejected(`${op.name}(${input.label})`, () => op.call(client, input.value));
  } finally {
    await world.dispose();
  }
  return f;
}
