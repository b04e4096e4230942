/**
 * The placement workflow's steps (core/workflows/placement.ts) — copy → verify → commit → trim,
 * the Catch-all recordFailure — and the sweeper's ListWork step. Each idempotent, each taking and
 * returning the workflow's JSON state.
 */

import { chunkObjectKey, instanceKey } from "../data/chunk-items.ts";
import {
  confirmRecorded,
  deleteMarked,
  Intent,
  markForDeletion,
  orderCopies,
  presentItem,
  putChunkObject,
  recordAfterSettle,
  recordPresent,
  removeIntent,
} from "../data/chunks.ts";
import { isStrataError, StrataError } from "../errors.ts";
import type { TransactOp } from "../metadata/port.ts";
import type { Volume } from "../volume/volume.ts";
import {
  bounded,
  chunksOf,
  currentVolumes,
  type Gathered,
  gather,
  type PlacementContext,
  planFor,
  presentInstances,
  readRecord,
  writeOps,
  writeRecord,
} from "./context.ts";
import { placementItem, placementKey, wantKey, wantPrefix } from "./placement-items.ts";
import { fileStatus } from "./status.ts";
import { GAVE_UP, GRACE_PENDING, type PlacementState, type SweepState } from "./types.ts";
import { filesUnder } from "./walk.ts";

/** How long trim's `deleting` mark holds writers off an instance it removes (objects go in its first half). */
const TRIM_LEASE_MS = 2 * 60 * 1000;

/** How long a placement run's intent protects the chunks it copies (copy → commit). */
const PLACEMENT_INTENT_TTL_MS = 6 * 60 * 60 * 1000;

/**
 * Plan, then copy every missing (chunk, desired volume) of ONE PAGE of the file's chunks (at most
 * `ctx.chunkPage`, from `state.chunkAt`) from a present instance. Idempotent. The page, never the
 * file's whole chunk list, travels in the state (Step Functions: 256 KiB per state); the plan is
 * made on the first page, over every chunk, and carried (`desired`); a new file version met on a
 * later page starts the run over at its first page.
 */
export async function copy(ctx: PlacementContext, state: PlacementState): Promise<PlacementState> {
  const round = (state.round ?? 0) + 1;
  if (round > ctx.maxCopyRounds)
    throw new StrataError(
      "EIO",
      `${state.pfs}:${state.path}: placement gave up after ${ctx.maxCopyRounds} copy rounds (last: ${state.lastError?.Cause ?? state.lastError?.Error ?? "?"})`,
      { details: { pfs: state.pfs, path: state.path, workflowError: GAVE_UP } },
    );
  const run = state.run ?? randomId(ctx.random);
  let g: Gathered;
  try {
    g = await gather(ctx, state.pfs, state.path);
  } catch (err) {
    if (isStrataError(err, "ENOENT") || isStrataError(err, "ENOTDIR"))
      return { pfs: state.pfs, path: state.path, run, skip: "gone" };
    throw err;
  }
  if (g.stat.type !== "file") return { pfs: state.pfs, path: state.path, run, skip: g.stat.type };
  const all = chunksOf(g.stat);
  if (all.length === 0) return { pfs: state.pfs, path: state.path, run, ino: g.stat.ino, skip: "inline" };
  // Same version: go on at the page the state names; a new version starts over.
  const sameVersion = state.version === g.stat.tid && state.desired !== undefined;
  const at = sameVersion ? Math.min(state.chunkAt ?? 0, all.length) : 0;
  const chunks = all.slice(at, at + ctx.chunkPage);
  const volumes = await ctx.volumes.list();
  const names = volumes.map((v) => v.name);
  // Rule 1: the page's chunks are protected before their instances are looked at (one intent
  // item per run, rewritten per page: an earlier page's chunks are recorded by then).
  const intent = new Intent({
    store: ctx.store,
    pfs: state.pfs,
    path: state.path,
    volumes: names,
    ttlMs: PLACEMENT_INTENT_TTL_MS,
    clock: ctx.clock,
    ...(state.intent ? { id: state.intent } : {}),
  });
  await intent.protect(chunks.map((c) => c[0]));
  const present = await presentInstances(
    ctx,
    chunks.map((c) => c[0]),
    names,
  );
  let desired: string[];
  let unsatisfied: string | undefined;
  if (sameVersion && at > 0) desired = state.desired!;
  else {
    // The plan sees where the whole file is (every chunk), not just this page.
    const everywhere =
      all.length === chunks.length
        ? present
        : await presentInstances(
            ctx,
            all.map((c) => c[0]),
            names,
          );
    const plan = await planFor(ctx, state.pfs, g, currentVolumes(everywhere, names));
    desired = plan.desired;
    if (desired.length === 0)
      unsatisfied = plan.unsatisfied
        .map((u) => `${u.statement} (${u.at}): ${u.found}/${u.wanted}`)
        .join("; ");
  }
  const base = {
    pfs: state.pfs,
    path: state.path,
    run,
    round,
    ino: g.stat.ino,
    chunks,
    chunkAt: at,
    chunkCount: all.length,
    desired,
    intent: intent.id,
    version: g.stat.tid,
    ...(state.surplus && sameVersion ? { surplus: state.surplus } : {}),
  };
  if (unsatisfied !== undefined) {
    await writeRecord(ctx, state.pfs, g.stat.ino, {
      path: state.path,
      status: "unsatisfied",
      run,
      desired: [],
      surplus: [],
      error: { code: "EUNSATISFIED", message: unsatisfied },
    });
    return { ...base, copies: [], skip: "unsatisfied" };
  }
  const cost = new Map(volumes.map((v) => [v.name, v.cost ?? 1]));
  const copies: Array<[string, string]> = [];
  const jobs: Array<() => Promise<void>> = [];
  for (const [sha, size, crc] of chunks) {
    const have = present.get(sha)!;
    for (const target of desired) {
      if (have.has(target)) continue;
      copies.push([sha, target]);
      const sources = orderCopies(
        [...have].map((volume) => ({ volume, state: "present" as const, cost: cost.get(volume) })),
        {},
      ).map((c) => c.volume);
      jobs.push(() => copyChunk(ctx, sha, size, crc, sources, target));
    }
  }
  // Shown by placement.get while the copies run (nothing to copy: no write).
  if (copies.length > 0)
    await writeRecord(ctx, state.pfs, g.stat.ino, {
      path: state.path,
      status: "placing",
      run,
      desired,
      surplus: [],
    });
  await bounded(jobs, ctx.parallelism);
  return { ...base, copies };
}

/** Read every copied instance back in full at its target: size and CRC32C must be the chunk's. */
export async function verify(ctx: PlacementContext, state: PlacementState): Promise<PlacementState> {
  const sizes = new Map((state.chunks ?? []).map(([sha, size, crc]) => [sha, { size, crc }]));
  await bounded(
    (state.copies ?? []).map(([sha, target]) => async () => {
      const want = sizes.get(sha)!;
      const volume = await ctx.volumes.volume(target);
      const key = chunkObjectKey(sha);
      try {
        const { info, body } = await volume.get(key);
        let size = 0;
        for await (const piece of body) size += piece.byteLength;
        if (info.size !== want.size || info.crc32c !== want.crc || size !== want.size)
          throw new StrataError(
            "ECORRUPT",
            `volume \`${target}\`: chunk ${sha} was copied with the wrong bytes`,
            {
              details: { volume: target, chunk: sha },
            },
          );
      } catch (err) {
        if (isStrataError(err, "ECORRUPT") || isStrataError(err, "ENOENT")) {
          // A bad copy is removed so the next copy round writes it again (create-only put).
          await volume.delete(key).catch(() => {});
          throw new StrataError(
            "ECORRUPT",
            `${state.pfs}:${state.path}: the copy of chunk ${sha} on volume \`${target}\` failed verification (${isStrataError(err) ? err.code : "?"}); copying again`,
            { details: { pfs: state.pfs, path: state.path, volume: target, chunk: sha }, cause: err },
          );
        }
        throw err;
      }
    }),
    ctx.parallelism,
  );
  return state;
}

/**
 * Record the page's verified instances present and the file's wants for the page's chunks; on the
 * last page, the run as placed (with the surplus seen over every page). `more` tells the workflow
 * to copy the next page (`chunkAt` moved past this one).
 */
export async function commit(ctx: PlacementContext, state: PlacementState): Promise<PlacementState> {
  const { pfs, ino } = state;
  if (ino === undefined || !state.chunks || !state.desired) return { ...state, more: false };
  const now = ctx.clock();
  const sizes = new Map(state.chunks.map(([sha, size, crc]) => [sha, { size, crc }]));
  // The verified copies, conditionally (rule 3: never over a vacuum's live `deleting` mark).
  const records = (state.copies ?? []).map(([chunk, volume]) =>
    presentItem({ chunk, size: sizes.get(chunk)!.size, crc32c: sizes.get(chunk)!.crc }, volume, now),
  );
  const failed = await recordPresent(ctx.store, records, now);
  const reachable = new Map<string, Volume>();
  for (const [, v] of state.copies ?? []) reachable.set(v, await ctx.volumes.volume(v));
  if (failed.length > 0)
    await recordAfterSettle(ctx.store, failed, (name) => reachable.get(name), {
      clock: ctx.clock,
      ...(ctx.leaseSleep ? { sleep: ctx.leaseSleep } : {}),
    });
  // Commit may run long after Copy, its intent expired: check the copies are still there.
  await confirmRecorded(ctx.store, records, (name) => reachable.get(name));
  const ops: TransactOp[] = [];
  // The file's wants: the desired ones written (unless there already), its stale ones elsewhere
  // (an earlier run's desired set) deleted so the trim guard no longer sees them.
  const mine = `#${pfs}#${ino}`;
  for (const [sha] of state.chunks) {
    const have = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await ctx.store.query(`chunk#${sha}`, {
        sk: { op: "beginsWith", value: "want#" },
        cursor,
      });
      for (const item of page.items) {
        if (!item.sk.endsWith(mine)) continue;
        const volume = item.sk.slice("want#".length, item.sk.length - mine.length);
        if (state.desired.includes(volume)) have.add(volume);
        else ops.push({ kind: "delete", key: { pk: item.pk, sk: item.sk } });
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    for (const v of state.desired)
      if (!have.has(v))
        ops.push({ kind: "put", item: { ...wantKey(sha, v, pfs, ino), path: state.path, time: now } });
  }
  const names = (await ctx.volumes.list()).map((v) => v.name);
  const present = await presentInstances(
    ctx,
    state.chunks.map((c) => c[0]),
    names,
  );
  const holding = new Set<string>(state.surplus ?? []);
  for (const set of present.values()) for (const v of set) holding.add(v);
  const surplus = [...holding].filter((v) => !state.desired!.includes(v)).sort();
  const next = (state.chunkAt ?? 0) + state.chunks.length;
  const last = next >= (state.chunkCount ?? state.chunks.length);
  if (!last) {
    await writeOps(ctx, ops);
    await releaseIntent(ctx, state);
    return { ...state, surplus, chunkAt: next, more: true, round: 0, copies: [] };
  }
  ops.push({
    kind: "put",
    item: placementItem({
      pfs,
      ino,
      path: state.path,
      status: "placed",
      run: state.run ?? "",
      desired: state.desired,
      surplus,
      placedAt: now,
      failures: 0,
      time: now,
    }),
  });
  await writeOps(ctx, ops);
  await releaseIntent(ctx, state);
  return { ...state, placedAt: now, surplus, more: false };
}

/**
 * The page's copies are recorded; the file's committed reference protects its chunks from here,
 * if the version copied is still the live one (else the intent expires for vacuum).
 */
async function releaseIntent(ctx: PlacementContext, state: PlacementState): Promise<void> {
  if (!state.intent) return;
  const live = await ctx.namespace
    .pfs(state.pfs)
    .stat(state.path)
    .catch(() => undefined);
  if (live?.tid === state.version) await removeIntent(ctx.store, state.pfs, state.intent);
}

/**
 * Remove surplus instances once the grace passed (GRACE_PENDING before: the workflow retries),
 * one page of the committed version's chunks per call (`trimAt`; `trimMore` loops the workflow).
 * Skips what another file wants and the last present instance of a chunk; a superseded run trims nothing.
 */
export async function trim(ctx: PlacementContext, state: PlacementState): Promise<PlacementState> {
  const { pfs, ino } = state;
  if (ino === undefined || !state.chunks || !state.surplus || state.surplus.length === 0)
    return { ...state, trimmed: state.trimmed ?? 0, trimMore: false };
  if (ctx.clock() < (state.placedAt ?? 0) + ctx.graceMs) {
    throw new StrataError("ETIMEDOUT", `${pfs}:${state.path}: trim waits for the grace period`, {
      details: { pfs, path: state.path, workflowError: GRACE_PENDING },
    });
  }
  const superseded = { ...state, trimmed: state.trimmed ?? 0, skip: "superseded", trimMore: false };
  const record = await readRecord(ctx, pfs, ino);
  if (!record || record.run !== state.run) return superseded;
  // This page of the committed version's chunks: the state's own page when the file has one page,
  // else read as of the version (a newer version is another run's business).
  const count = state.chunkCount ?? state.chunks.length;
  const at = state.trimAt ?? 0;
  let chunks: Array<[string, number, number]>;
  if (count === state.chunks.length) chunks = state.chunks;
  else {
    const then = await ctx.namespace
      .pfs(pfs)
      .stat(state.path, state.version !== undefined ? { asOf: state.version } : {})
      .catch(() => undefined);
    if (!then || then.ino !== ino) return superseded;
    chunks = chunksOf(then).slice(at, at + ctx.chunkPage);
  }
  const nextAt = at + chunks.length;
  const lastPage = nextAt >= count || chunks.length === 0;
  const names = (await ctx.volumes.list()).map((v) => v.name);
  const present = await presentInstances(
    ctx,
    chunks.map((c) => c[0]),
    names,
  );
  const victims: Array<[string, string]> = [];
  const left = new Set<string>(state.trimLeft ?? []);
  for (const [sha] of chunks) {
    const holders = present.get(sha)!;
    for (const v of state.surplus) {
      if (!holders.has(v)) continue;
      const wanted = await ctx.store.query(`chunk#${sha}`, {
        sk: { op: "beginsWith", value: wantPrefix(v) },
        limit: 1,
      });
      // Another file wants it there, or it is the chunk's last present instance: kept.
      if (wanted.items.length > 0 || holders.size === 1) {
        left.add(v);
        continue;
      }
      holders.delete(v);
      victims.push([sha, v]);
    }
  }
  // One transaction: the victims marked `deleting` (chunk lifecycle rule 4: each still
  // `present`) and, only if this run is still the file's latest (else a newer run owns the trim
  // and nothing is marked), on the last page the run's surplus left — on earlier pages a check.
  const mark = {
    token: `trim-${state.run ?? ""}-${ctx.clock().toString(36)}`,
    until: ctx.clock() + TRIM_LEASE_MS,
    leaseMs: TRIM_LEASE_MS,
  };
  const ops: TransactOp[] = victims.map(([sha, v]) => markForDeletion(instanceKey(sha, v), mark));
  const stillLatest = { op: "eq" as const, attr: "run", value: state.run ?? "" };
  const recordOp: TransactOp = lastPage
    ? {
        kind: "update",
        key: placementKey(pfs, ino),
        update: { set: { surplus: [...left].sort(), time: ctx.clock() } },
        condition: stillLatest,
      }
    : { kind: "check", key: placementKey(pfs, ino), condition: stillLatest };
  const marked: Array<[string, string]> = [];
  try {
    for (let at = 0; at < ops.length; at += 99) {
      const group = ops.slice(at, at + 99);
      await ctx.store.transact(at + 99 >= ops.length ? [...group, recordOp] : group);
      marked.push(...victims.slice(at, at + 99));
    }
    if (ops.length === 0 && lastPage) await writeOps(ctx, [recordOp]);
  } catch (err) {
    if (!isStrataError(err, "ECONFLICT")) throw err;
    // A newer run, or an instance no longer `present` (a vacuum marked it): the marks already
    // made are deleted below; the rest waits for the next run.
    victims.length = 0;
    victims.push(...marked);
    if (marked.length === 0) return superseded;
  }
  // Marked first, then the objects, then the records (conditioned on the mark): a writer meeting
  // the mark waits (it never records `present` for an object about to go), a reader that had
  // chosen one of these instances gets ENOENT and moves on to the next instance.
  let deleted = 0;
  for (const [sha, v] of victims) {
    const volume = await ctx.volumes.volume(v);
    if (await deleteMarked(ctx.store, volume, instanceKey(sha, v), sha, mark, ctx.clock)) deleted++;
  }
  const trimmed = (state.trimmed ?? 0) + deleted;
  if (lastPage) {
    const { trimAt: _a, trimLeft: _l, ...rest } = state;
    return { ...rest, trimmed, trimMore: false };
  }
  return { ...state, trimmed, trimAt: nextAt, trimLeft: [...left].sort(), trimMore: true };
}

/** The Catch-all step: the run's error on the file's placement record (placement.get shows it). */
export async function recordFailure(ctx: PlacementContext, state: PlacementState): Promise<PlacementState> {
  const code = state.error?.Error ?? "EIO";
  const message = causeMessage(state.error?.Cause) ?? code;
  let ino = state.ino;
  if (ino === undefined) {
    try {
      ino = (await ctx.namespace.pfs(state.pfs).stat(state.path)).ino;
    } catch {
      return state;
    }
  }
  const previous = await readRecord(ctx, state.pfs, ino);
  await writeRecord(ctx, state.pfs, ino, {
    path: state.path,
    status: "failed",
    run: state.run ?? previous?.run ?? "",
    desired: state.desired ?? previous?.desired ?? [],
    surplus: previous?.surplus ?? [],
    error: { code, message },
    failures: (previous?.failures ?? 0) + 1,
  });
  return state;
}

/**
 * The sweeper workflow's ListWork step: the next page — up to `limit` (default 100) files that
 * are not placed or hold surplus instances, looking at no more than `scan` (default 1,000) files —
 * over every PFS (or `pfs`) in name order after `cursor`. When the walk is not done, `next` is
 * the input of the execution that sweeps the next page (one execution per page keeps each far
 * below Step Functions' 25,000 history events whatever the file count).
 */
export async function sweepList(ctx: PlacementContext, state: SweepState): Promise<SweepState> {
  const limit = state.limit ?? 100;
  const scan = state.scan ?? 1000;
  const names = (await ctx.namespace.listPfs())
    .map((p) => p.name)
    .filter((name) => state.pfs === undefined || name === state.pfs)
    .sort();
  const jobs: Array<{ pfs: string; path: string }> = [];
  let looked = 0;
  const carry = {
    limit,
    scan,
    ...(state.pfs !== undefined ? { pfs: state.pfs } : {}),
    ...(state.job !== undefined ? { job: state.job } : {}),
  };
  const page = (cursor: { pfs: string; after: string } | undefined, done: boolean): SweepState => {
    const counts = {
      pages: (state.counts?.pages ?? 0) + 1,
      scanned: (state.counts?.scanned ?? 0) + looked,
      placed: (state.counts?.placed ?? 0) + jobs.length,
    };
    const out: SweepState = { ...carry, counts, jobs, done };
    if (cursor) out.cursor = cursor;
    if (!done && cursor) out.next = { ...carry, counts, cursor };
    return out;
  };
  for (const pfs of names) {
    if (state.cursor && pfs < state.cursor.pfs) continue;
    const after = state.cursor?.pfs === pfs ? state.cursor.after : undefined;
    let files: AsyncGenerator<string>;
    try {
      files = filesUnder(ctx, pfs, "/", after !== undefined ? { after } : {});
      for await (const file of files) {
        looked++;
        const st = await fileStatus(ctx, pfs, file).catch(() => undefined);
        if (st && ((st.status !== "placed" && st.status !== "inline") || st.surplus.length > 0))
          jobs.push({ pfs, path: file });
        if (jobs.length >= limit || looked >= scan) return page({ pfs, after: file }, false);
      }
    } catch (err) {
      if (!isStrataError(err, "ENOENT")) throw err; // a PFS removed while sweeping
    }
  }
  return page(undefined, true);
}

export async function copyChunk(
  ctx: PlacementContext,

  sha: string,
  size: number,
  crc: number,
  sources: string[],
  target: string,
): Promise<void> {
  if (sources.length === 0)
    throw new StrataError(
      "EIO",
      `chunk ${sha} has no present instance to copy from; the scrub must repair it first`,
      {
        details: { chunk: sha, target },
      },
    );
  const key = chunkObjectKey(sha);
  let last: unknown;
  for (const name of sources) {
    let bytes: Uint8Array;
    try {
      bytes = await (await ctx.volumes.volume(name)).getBytes(key);
      if (bytes.byteLength !== size)
        throw new StrataError(
          "ECORRUPT",
          `volume \`${name}\`: chunk ${sha} has ${bytes.byteLength} bytes, expected ${size}`,
          { details: { volume: name, chunk: sha } },
        );
    } catch (err) {
      last = err;
      continue; // the next source
    }
    await putChunkObject(await ctx.volumes.volume(target), { chunk: sha, size, crc32c: crc }, bytes);
    return;
  }
  throw last;
}

function randomId(random: () => number): string {
  return Array.from({ length: 4 }, () =>
    Math.floor(random() * 0x10000)
      .toString(16)
      .padStart(4, "0"),
  ).join("");
}

/** Step Functions' Cause is the error's message, or a JSON object carrying one. */
function causeMessage(cause: string | undefined): string | undefined {
  if (cause === undefined) return undefined;
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string; message?: string };
    return parsed.errorMessage ?? parsed.message ?? cause;
  } catch {
    return cause;
  }
}
