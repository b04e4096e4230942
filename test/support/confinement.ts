/**
 * The confinement property (issue 13; docs/namespace.md "Confinement"), shared by the unit test
 * (memory store), its SQLite and HTTP runs, and `npm run reliability`.
 *
 * A world: PFS `p` holding a scope `/a` and state outside it. An unscoped writer changes the tree
 * at random (symlinks — absolute, relative, chains, loops —, hard links, renames, tags, files,
 * snapshots) and, between its changes, a principal scoped to `/a` (read+write, or read only)
 * calls random operations of the API registry through `invoke` (or over real HTTP) with random
 * paths: inside, outside, through symlinks, with `..`, live and as of earlier TIDs.
 *
 * After every scoped request:
 *  (a) every record of the state outside the scope's subtree (as it was just before the request)
 *      is unchanged: objects not reachable beneath /a (their versions, tags, xattrs, bytes,
 *      objectives), the entries of directories outside, the other entries of /a's parent, and
 *      every other record (snapshots, tokens, retention, …). A revert may also change a dead
 *      object — one that lived beneath /a at the revert's TID.
 *  (b) every object id and every byte string the request returned belongs to an object beneath
 *      /a (before or after the request, or at the TID of an as-of request).
 * Errors are refusals and fine; a success that reads or changes outside is an escape.
 */

import { nodeSha256 } from "../../adapters/data/sha256.ts";
import { base64ToBytes, bytesToBase64 } from "../../core/bytes.ts";
import type { Item, MetadataStore } from "../../core/metadata/port.ts";
import type { FileSystem, Namespace, ReadableFileSystem } from "../../core/namespace/api.ts";
import { createNamespace } from "../../core/namespace/index.ts";
import { formatPath, parsePath } from "../../core/namespace/path.ts";
import { fixedRegistry } from "../../core/volume/registry.ts";
import type { Principal } from "../../functions/api/auth.ts";
import { invoke } from "../../functions/api/handle.ts";
import { registry } from "../../functions/api/registry.ts";
import type { Services } from "../../functions/api/services.ts";
import type { LocalDeployment } from "../../functions/local/deployment.ts";
import { openPlacement } from "../../runtime/services.ts";

export const PFS = "p";
export const SCOPE = "/a";

/**
 * Operations left out of the property. Empty: the whole-PFS operations (mirror.*, snapshots,
 * retention, …) are in it and must be refused to a prefix-scoped token.
 */
export const AWAITING_SCOPES: ReadonlySet<string> = new Set<string>();

/**
 * Tracks every partition key written, so a test can read back the whole table of any store, and
 * counts writes to records that describe state (`pks.writes`): unchanged means nothing changed.
 */
export function trackPartitions(store: MetadataStore): Set<string> & { writes: number } {
  const pks = Object.assign(new Set<string>(), { writes: 0 });
  const s = store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const wrap = (name: string, pkOf: (args: unknown[]) => string[]) => {
    const original = s[name]!.bind(store);
    s[name] = (...args: unknown[]) => {
      for (const pk of pkOf(args)) {
        pks.add(pk);
        if (!IGNORED.some((r) => r.test(pk))) pks.writes++;
      }
      return original(...args);
    };
  };
  wrap("put", (a) => [(a[0] as Item).pk]);
  wrap("update", (a) => [(a[0] as Item).pk]);
  wrap("delete", (a) => [(a[0] as Item).pk]);
  wrap("transact", (a) =>
    (a[0] as Array<{ kind: string; item?: Item; key?: Item }>).map((op) => (op.item ?? op.key)!.pk),
  );
  return pks;
}

export class Rng {
  constructor(private s: number) {}
  next(): number {
    // mulberry32
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const NAMES = ["a", "b", "c", "x", "l", "m", "s", "f", "g"];
const TARGETS = [
  "/a",
  "/a/b",
  "/a/f",
  "/x",
  "/",
  "/secret",
  "..",
  "../..",
  "../x",
  "../a/b",
  "../../secret",
  "b",
  "f",
  "l",
  ".",
  "m/..",
  "/a/l",
  "/a/m",
  "s",
  "../l",
];

/** Paths of the seed tree and through its symlinks (escaping, inside, chains), and new names. */
const KNOWN = [
  "/a",
  "/a/f",
  "/a/b",
  "/a/b/g",
  "/a/l",
  "/a/l/f",
  "/a/l/l",
  "/a/l/l/g",
  "/a/b/m",
  "/a/b/m/f",
  "/a/b/m/b/g",
  "/a/b/m/l/f",
  "/a/b/../f",
  "/a/l/../secret",
  "/a/../x/f",
  "/a/new",
  "/a/b/new",
  "/a/s",
  "/a/s/f",
  "/x/f",
  "/secret",
];

/** A random path: mostly beneath /a, through the names symlinks take, sometimes with `..`. */
export function randomPath(rng: Rng): string {
  if (rng.chance(0.5)) return rng.pick(KNOWN);
  const comps: string[] = rng.chance(0.75) ? ["a"] : [];
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) comps.push(rng.chance(0.08) ? ".." : rng.chance(0.04) ? "." : rng.pick(NAMES));
  return `/${comps.join("/")}`;
}

/** How the scoped principal's requests reach the API. */
export type Call = (principal: Principal, op: string, input: unknown, pfs?: string) => Promise<unknown>;

export interface ConfinementWorld {
  /** The PFS of this world (the scope is /a in it). */
  pfs: string;
  ns: Namespace;
  store: MetadataStore;
  pks: Set<string> & { writes: number };
  call: Call;
  /** The principals the scoped requests run as (prefix /a): read+write, read only. */
  writer: Principal;
  reader: Principal;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
let markerSeq = 0;
/** A value no other object holds: its owner can be found in the records. */
const marker = () => `§${++markerSeq}§`;
const MARKER = /§(\d+)§/g;

const inline = (text: string) => ({ size: enc.encode(text).length, inline: enc.encode(text) });

/** The initial tree: a scope with escaping and inside symlinks, and secrets outside. */
export async function seedTree(fs: FileSystem): Promise<void> {
  await fs.batch([
    { op: "mkdir", path: "/a" },
    { op: "mkdir", path: "/a/b" },
    { op: "create", path: "/a/f", options: { content: inline(marker()) } },
    { op: "create", path: "/a/b/g", options: { content: inline(marker()) } },
    { op: "mkdir", path: "/x" },
    { op: "create", path: "/x/f", options: { content: inline(marker()) } },
    { op: "create", path: "/secret", options: { content: inline(marker()) } },
    { op: "symlink", target: "../x", path: "/a/l" },
    { op: "symlink", target: "/a", path: "/a/b/m" },
    { op: "symlink", target: "/a/b", path: "/x/l" },
    { op: "setTag", path: "/x", key: "k", value: marker() },
    { op: "setTag", path: "/a", key: "k", value: marker() },
  ]);
}

/** One change by the unscoped writer (errors ignored: the tree is random). */
export async function unscopedStep(fs: FileSystem, rng: Rng, log: string[], snapshots: Map<string, string>) {
  const p = () => randomPath(rng);
  const steps: Array<[string, () => Promise<unknown>]> = [
    ["symlink", () => fs.symlink(rng.pick(TARGETS), p())],
    ["rename", () => fs.rename(p(), p())],
    ["link", () => fs.link(p(), p())],
    ["mkdir", () => fs.mkdir(p())],
    ["create", () => fs.create(p(), { content: inline(marker()) })],
    ["write", () => fs.writeContent(p(), inline(marker()))],
    ["tag", () => fs.setTag(p(), "k", marker())],
    ["xattr", () => fs.setXattr(p(), "user.x", enc.encode(marker()))],
    ["unlink", () => fs.unlink(p())],
    [
      "snapshot",
      async () => {
        const s = await fs.createSnapshot(`s${snapshots.size}`);
        snapshots.set(s.name, s.tid);
      },
    ],
  ];
  const [name, run] = rng.pick(steps);
  try {
    await run();
    log.push(`unscoped ${name} ok`);
  } catch (err) {
    log.push(`unscoped ${name} ${(err as { code?: string }).code ?? err}`);
  }
}

const b64 = (text: string) => ({ $bytes: bytesToBase64(enc.encode(text)) });
/** The scoped caller's own values (not markers: they belong to nobody yet). */
const own = () => `own-${markerSeq}`;

export interface Request {
  op: string;
  input: Record<string, unknown>;
  /** PFS route (undefined: deployment route). */
  pfs?: string;
  /** The TID an as-of request reads at. */
  asOfTid?: string;
}

/** A random request for `op`, with paths inside, outside and through symlinks, live or as of. */
export function randomRequest(
  pfs: string,
  op: string,
  rng: Rng,
  tids: readonly string[],
  snapshots: Map<string, string>,
): Request {
  const p = () => randomPath(rng);
  let asOfTid: string | undefined;
  const asOf = (force = false): Record<string, unknown> => {
    if (!force && (tids.length === 0 || rng.chance(0.6))) return {};
    if (snapshots.size > 0 && rng.chance(0.25)) {
      const [name, tid] = rng.pick([...snapshots.entries()]);
      asOfTid = tid;
      return { asOf: { snapshot: name } };
    }
    asOfTid = rng.pick(tids);
    return { asOf: asOfTid };
  };
  const path = { path: "" };
  const withPath = () => ({ ...path, path: p() });
  const batchOp = (): Record<string, unknown> => {
    const k = rng.int(6);
    if (k === 0) return { op: "mkdir", path: p() };
    if (k === 1) return { op: "create", path: p(), options: { content: { size: 3, inline: b64("own") } } };
    if (k === 2) return { op: "rename", from: p(), to: p() };
    if (k === 3) return { op: "symlink", target: rng.pick(TARGETS), path: p() };
    if (k === 4) return { op: "link", existing: p(), path: p() };
    return { op: "setTag", path: p(), key: "k", value: own() };
  };
  const inputs: Record<string, () => Record<string, unknown>> = {
    "fs.stat": () => ({ ...withPath(), ...asOf() }),
    "fs.lstat": () => ({ ...withPath(), ...asOf() }),
    "fs.readdir": () => ({ ...withPath(), ...asOf() }),
    "fs.readlink": () => ({ ...withPath(), ...asOf() }),
    "fs.getXattr": () => ({ ...withPath(), name: "user.x", ...asOf() }),
    "fs.listXattrs": () => ({ ...withPath(), ...asOf() }),
    "fs.getTags": () => ({ ...withPath(), ...asOf() }),
    "fs.mkdir": () => ({ ...withPath(), ...(rng.chance(0.3) ? { recursive: true } : {}) }),
    "fs.rename": () => ({ from: p(), to: p() }),
    "fs.unlink": withPath,
    "fs.rmdir": withPath,
    "fs.symlink": () => ({ target: rng.pick(TARGETS), path: p() }),
    "fs.link": () => ({ existing: p(), path: p() }),
    "fs.setattr": () => ({ ...withPath(), attrs: { mode: 0o700 } }),
    "fs.setXattr": () => ({ ...withPath(), name: "user.x", value: b64(own()) }),
    "fs.removeXattr": () => ({ ...withPath(), name: "user.x" }),
    "fs.setTag": () => ({ ...withPath(), key: "k", value: own() }),
    "fs.removeTag": () => ({ ...withPath(), key: "k" }),
    "fs.history": withPath,
    "fs.revert": () => ({ ...withPath(), ...asOf(true), ...(rng.chance(0.5) ? { recursive: true } : {}) }),
    "fs.batch": () => ({ ops: Array.from({ length: 1 + rng.int(3) }, batchOp) }),
    "fs.read": () => ({ ...withPath(), ...asOf() }),
    "fs.placement": () => ({ ...withPath(), ...asOf() }),
    "fs.reportBadInstance": () => ({ ...withPath(), chunk: "0".repeat(64), volume: "v" }),
    "upload.begin": withPath,
    "upload.chunks": () => ({ uploadId: "x", chunks: [{ sha256: "0".repeat(64), size: 1, crc32c: 0 }] }),
    "upload.commit": () => ({ ...withPath(), inline: b64(own()) }),
    "snapshot.create": () => ({ name: `scoped${rng.int(3)}`, ...asOf() }),
    "snapshot.delete": () => ({ name: rng.pick(["s0", "s1", "scoped0"]) }),
    "objective.set": () => ({ ...withPath(), text: "place 1 on site:home" }),
    "objective.list": () => (rng.chance(0.5) ? withPath() : {}),
    "objective.remove": withPath,
    "objective.explain": withPath,
    "placement.get": withPath,
    "placement.wait": () => ({ ...withPath(), timeoutSeconds: 0 }),
    "retention.set": () => ({ policy: "all 1h" }),
    "mirror.info": () => ({ pfs }),
    "mirror.read": () => ({ pfs }),
    "mirror.full": () => ({ pfs }),
    // A chunk named with a record of this PFS: a whole-PFS reader's request; a scoped token is refused.
    "mirror.chunk": () => ({
      pfs,
      chunk: "0".repeat(64),
      size: 1,
      crc32c: 0,
      from: { pk: rng.pick(["x", "a"]), sk: "v" },
      inline: true,
    }),
    "mirror.status": () => ({}),
    "fsck.run": () => ({ pfs: [pfs] }),
    "token.create": () => ({ pfs, prefix: "/", rights: ["read"] }),
    "token.revoke": () => ({ id: "x" }),
    "pfs.delete": () => ({ name: pfs }),
    "pfs.create": () => ({ name: "q" }),
  };
  const input = inputs[op]?.() ?? {};
  const scope = registry.get(op)?.scope;
  return { op, input, ...(scope === "pfs" ? { pfs } : {}), ...(asOfTid ? { asOfTid } : {}) };
}

/** Objects beneath the scope, walked by an unscoped reader (live, or an as-of view). */
export async function insideOf(
  fs: ReadableFileSystem,
): Promise<{ inside: Set<string>; parent?: string; name: string }> {
  const comps = parsePath(SCOPE);
  const inside = new Set<string>();
  const name = comps.at(-1)!;
  let parent: string | undefined;
  try {
    parent = (await fs.lstat(formatPath(comps.slice(0, -1)))).ino;
    for (let i = 0; i < comps.length; i++) {
      const st = await fs.lstat(formatPath(comps.slice(0, i + 1)));
      if (st.type === "symlink" || (i < comps.length - 1 && st.type !== "dir"))
        return { inside, parent, name };
      if (i === comps.length - 1) {
        inside.add(st.ino);
        if (st.type === "dir") await walk(fs, formatPath(comps), inside);
      }
    }
  } catch {
    // missing: nothing is inside
  }
  return { inside, ...(parent ? { parent } : {}), name };
}

async function walk(fs: ReadableFileSystem, path: string, inside: Set<string>): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await fs.readdir(path, cursor ? { cursor } : {});
    for (const e of page.entries) {
      inside.add(e.ino);
      if (e.type === "dir") await walk(fs, `${path}/${e.name}`, inside);
    }
    cursor = page.cursor;
  } while (cursor);
}

/** Records that change with any request and describe no object (upload intents: the caller's own). */
const IGNORED = [/^chg#/, /^epoch#/, /^alloc$/, /^intent#/];

/** Records as text (bytes as text too: markers are found in them; unchanged records keep their key order). */
const recordText = (item: Item) =>
  JSON.stringify(item, (_, v) => (v instanceof Uint8Array ? { $b: dec.decode(v) } : v));

export interface Snapshot {
  /** owner → its records, canonical. Owners: `o:<ino>`, `e:<dir>` (entries), `r` (the scope's own entry), `m` (the rest). */
  owners: Map<string, string[]>;
  /** marker → the objects whose records hold it. */
  markers: Map<string, Set<string>>;
}

/** Every record of the table, grouped by owner. */
export async function snapshot(
  store: MetadataStore,
  pks: Set<string>,
  pfs: string,
  pfsId: string,
  scopeEntry: { parent?: string; name: string },
): Promise<Snapshot> {
  const owners = new Map<string, string[]>();
  const markers = new Map<string, Set<string>>();
  const add = (owner: string, item: Item) => {
    const text = recordText(item);
    const list = owners.get(owner) ?? [];
    owners.set(owner, list);
    list.push(text);
    if (!owner.startsWith("o:")) return;
    if (!text.includes("§")) return;
    for (const m of text.matchAll(MARKER)) {
      const set = markers.get(m[0]) ?? new Set<string>();
      markers.set(m[0], set);
      set.add(owner.slice(2));
    }
  };
  for (const pk of [...pks].sort()) {
    if (IGNORED.some((r) => r.test(pk))) continue;
    let cursor: string | undefined;
    do {
      const page = await store.query(pk, cursor ? { cursor } : {});
      for (const item of page.items) add(ownerOf(item, pfs, pfsId, scopeEntry), item);
      cursor = page.cursor;
    } while (cursor);
  }
  for (const list of owners.values()) list.sort();
  return { owners, markers };
}

function ownerOf(item: Item, pfs: string, id: string, scope: { parent?: string; name: string }): string {
  const pk = item.pk;
  if (pk.startsWith(`ino#${id}#`)) return `o:${pk.slice(`ino#${id}#`.length)}`;
  if (pk === `objective#${pfs}` || pk === `placement#${pfs}`) return `o:${item.sk}`;
  for (const prefix of [`dir#${id}#`, `dh#${id}#`])
    if (pk.startsWith(prefix)) {
      const dir = pk.slice(prefix.length);
      const name = prefix.startsWith("dir") ? item.sk : item.sk.slice(0, item.sk.lastIndexOf("/"));
      return dir === scope.parent && name === scope.name ? "r" : `e:${dir}`;
    }
  return "m";
}

/** Object ids and markers a result holds. */
export function revealed(value: unknown): { inos: Set<string>; markers: Set<string> } {
  const inos = new Set<string>();
  const markers = new Set<string>();
  const text = (s: string) => {
    for (const m of s.matchAll(MARKER)) markers.add(m[0]);
  };
  const visit = (v: unknown, key?: string) => {
    if (typeof v === "string") {
      if (key === "ino") inos.add(v);
      text(v);
    } else if (v instanceof Uint8Array) text(dec.decode(v));
    else if (Array.isArray(v)) for (const x of v) visit(x);
    else if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (typeof o.$bytes === "string") text(dec.decode(base64ToBytes(o.$bytes) ?? new Uint8Array()));
      for (const [k, x] of Object.entries(o)) visit(x, k);
    }
  };
  visit(value);
  return { inos, markers };
}

export interface SequenceResult {
  requests: number;
  succeeded: number;
  escapes: string[];
}

export interface SequenceOptions {
  /** Scoped requests per sequence. */
  requests: number;
  /** Operation names to call (default: every registry operation not in AWAITING_SCOPES). */
  ops?: readonly string[];
}

export function scopedOps(): string[] {
  return [...registry.keys()].filter((n) => !AWAITING_SCOPES.has(n)).sort();
}

/** Runs one random sequence in a fresh world; returns the escapes found (empty = the property holds). */
export async function runSequence(
  world: ConfinementWorld,
  seed: number,
  options: SequenceOptions,
): Promise<SequenceResult> {
  const rng = new Rng(seed);
  const pfs = world.pfs;
  const fs = world.ns.pfs(pfs);
  const pfsId = (await world.ns.listPfs()).find((x) => x.name === pfs)!.id;
  const ops = options.ops ?? scopedOps();
  const log: string[] = [];
  const tids: string[] = [];
  const snapshots = new Map<string, string>();
  const escapes: string[] = [];
  let succeeded = 0;
  await seedTree(fs);
  tids.push(await fs.currentTid());
  // Path operations most of the time: the others are refused whole (and cheap to try).
  const pathOps = ops.filter((n) => registry.get(n)?.paths !== undefined);
  let previous: { inside: Awaited<ReturnType<typeof insideOf>>; snap: Snapshot } | undefined;
  for (let r = 0; r < options.requests; r++) {
    for (let k = rng.int(3); k > 0; k--) {
      await unscopedStep(fs, rng, log, snapshots);
      tids.push(await fs.currentTid());
      previous = undefined;
    }
    const principal = rng.chance(0.7) ? world.writer : world.reader;
    const req = randomRequest(pfs, rng.pick(rng.chance(0.8) ? pathOps : ops), rng, tids, snapshots);
    const before = previous?.inside ?? (await insideOf(fs));
    const snapBefore = previous?.snap ?? (await snapshot(world.store, world.pks, pfs, pfsId, before));
    const writesBefore = world.pks.writes;
    let result: unknown;
    let ok = false;
    try {
      result = await world.call(principal, req.op, req.input, req.pfs);
      ok = true;
      succeeded++;
    } catch (err) {
      result = undefined;
      log.push(
        `scoped ${principal.rights.join("+")} ${req.op} ${JSON.stringify(req.input)} → ${(err as { code?: string }).code ?? String(err)}`,
      );
    }
    if (ok) log.push(`scoped ${principal.rights.join("+")} ${req.op} ${JSON.stringify(req.input)} → ok`);
    // No write to a state record: the state is the one before (reads and most refusals).
    const wrote = world.pks.writes !== writesBefore;
    const after = wrote ? await insideOf(fs) : before;
    const snapAfter = wrote ? await snapshot(world.store, world.pks, pfs, pfsId, before) : snapBefore;
    previous = { inside: after, snap: snapAfter };
    const then = req.asOfTid ? (await insideOf(fs.asOf(req.asOfTid))).inside : new Set<string>();
    const allowed = new Set([...before.inside, ...after.inside, ...then]);
    // (a) nothing outside changed
    for (const [owner, records] of snapBefore.owners) {
      if (owner === "r") continue;
      if (owner.startsWith("o:") && before.inside.has(owner.slice(2))) continue;
      if (owner.startsWith("e:") && before.inside.has(owner.slice(2))) continue;
      const now = snapAfter.owners.get(owner) ?? [];
      if (now.join("\n") === records.join("\n")) continue;
      // A revert may bring back a dead object that lived beneath the scope at its TID.
      if (
        req.op === "fs.revert" &&
        owner.startsWith("o:") &&
        then.has(owner.slice(2)) &&
        !isLive(snapBefore, owner)
      )
        continue;
      escapes.push(`${req.op} changed ${owner} outside ${SCOPE}`);
    }
    for (const owner of snapAfter.owners.keys())
      if (
        (owner.startsWith("e:") || owner === "m") &&
        !snapBefore.owners.has(owner) &&
        !after.inside.has(owner.slice(2))
      )
        escapes.push(`${req.op} created records of ${owner} outside ${SCOPE}`);
    // (b) nothing returned from outside
    if (ok) {
      const seen = revealed(result);
      for (const ino of seen.inos)
        if (!allowed.has(ino)) escapes.push(`${req.op} returned object ${ino} outside ${SCOPE}`);
      for (const m of seen.markers) {
        const holders = new Set([...(snapBefore.markers.get(m) ?? []), ...(snapAfter.markers.get(m) ?? [])]);
        if (![...holders].some((h) => allowed.has(h)))
          escapes.push(
            `${req.op} returned ${m}, held by ${[...holders].join(",") || "nobody"} outside ${SCOPE}`,
          );
      }
    }
    if (escapes.length > 0) {
      escapes.push(`seed ${seed}; steps:\n  ${log.join("\n  ")}`);
      break;
    }
  }
  return { requests: options.requests, succeeded, escapes };
}

function isLive(snap: Snapshot, owner: string): boolean {
  return (snap.owners.get(owner) ?? []).some((r) => r.includes('"sk":"v#') && !r.includes('"dtid"'));
}

/** A scoped principal of PFS p, prefix /a (embedded worlds: no token). */
export function scopedPrincipal(rights: Principal["rights"], pfs = PFS): Principal {
  return { tokenId: rights.join("+"), pfs, prefix: SCOPE, rights, expiresAt: 8.64e15 };
}

/**
 * A world on a running deployment (functions/local/deployment.ts): a fresh PFS, real tokens for
 * /a, every request over HTTP. `pks` tracks the deployment's store (one tracker per deployment).
 */
export async function httpWorld(
  deployment: LocalDeployment,
  pks: Set<string> & { writes: number },
  pfs: string,
): Promise<ConfinementWorld> {
  const { services, endpoint } = deployment;
  await services.namespace.createPfs(pfs);
  const tokens = new Map<string, string>();
  for (const rights of [["read", "write"], ["read"]] as Array<Principal["rights"]>) {
    const made = await services.tokens.create({ pfs, prefix: SCOPE, rights, ttlSeconds: 3600 });
    tokens.set(rights.join("+"), made.token);
  }
  return {
    pfs,
    ns: services.namespace,
    store: services.store,
    pks,
    writer: scopedPrincipal(["read", "write"], pfs),
    reader: scopedPrincipal(["read"], pfs),
    call: async (principal, op, input, route) => {
      const url = route
        ? `${endpoint}/v1/pfs/${encodeURIComponent(route)}/ops/${op}`
        : `${endpoint}/v1/ops/${op}`;
      const res = await fetch(url, {
        method: "POST",
        headers: {
          authorization: `Bearer ${tokens.get(principal.tokenId)}`,
          "content-type": "application/json",
        },
        body: JSON.stringify(input),
      });
      const body = (await res.json()) as { error?: { code: string; message: string } };
      if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code });
      return body;
    },
  };
}

/**
 * An embedded world on `store`: the registry through `invoke`, with placement (objectives) and a
 * data plane, no volumes (contents stay inline). `unconfined` is the counter-check's switch.
 */
export async function embeddedWorld(
  store: MetadataStore,
  options: { unconfined?: boolean } = {},
): Promise<ConfinementWorld> {
  const pks = trackPartitions(store);
  const ns = createNamespace({ store });
  await ns.createPfs(PFS);
  const shared = sharedPlacement();
  shared.current.store = store;
  shared.current.ns = ns;
  const services = {
    namespace: ns,
    data: shared.placement.data,
    store,
    placement: shared.placement,
    volumes: fixedRegistry({}),
    sha256: nodeSha256,
    clock: Date.now,
    deployment: { name: "confinement", startedAt: Date.now(), runtime: "test" },
    ...(options.unconfined ? { testOnlyUnconfined: true } : {}),
  } as unknown as Services;
  return {
    pfs: PFS,
    ns,
    store,
    pks,
    call: (principal, op, input, pfs) => invoke(services, principal, op, input, pfs ? { pfs } : {}),
    writer: scopedPrincipal(["read", "write"]),
    reader: scopedPrincipal(["read"]),
  };
}

/** Delegates every member to `target()` (a world's store or namespace, swapped per sequence). */
function delegate<T extends object>(target: () => T): T {
  return new Proxy({} as T, {
    get: (_, key) => {
      const t = target() as Record<PropertyKey, unknown>;
      const v = t[key];
      return typeof v === "function" ? v.bind(t) : v;
    },
  });
}

let placementOnce:
  | { placement: ReturnType<typeof openPlacement>; current: { store?: MetadataStore; ns?: Namespace } }
  | undefined;

/**
 * Placement services (objectives, data plane) built once per process — building the workflow
 * runner validates its ASL, which costs ~1 s — over whichever world runs now. Its orchestrator
 * is never started: placement runs an objective change would trigger are not part of this property.
 */
function sharedPlacement() {
  if (!placementOnce) {
    const current: { store?: MetadataStore; ns?: Namespace } = {};
    const placement = openPlacement({
      store: delegate(() => current.store!),
      namespace: delegate(() => current.ns!),
      defaultVolume: "home",
      volumesTtlMs: 0,
      data: { chunkSize: 64 * 1024, sha256: nodeSha256 },
    });
    placementOnce = { placement, current };
  }
  return placementOnce;
}
