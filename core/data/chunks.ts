/**
 * The chunk lifecycle: the one module that protects, reuses, uploads, verifies, reads, records
 * instances of and repairs chunks (vacuum is the one deleter and follows the same rules). Every
 * writer goes through it: the data plane (write/append/truncate), `upload.commit`, placement
 * (Copy/Commit; Trim deletes through `markForDeletion`/`deleteMarked`), mirror apply / full resync / backup restore / multi-master (`ensureChunks`) and
 * scrub repair. docs/data.md "Chunk lifecycle" has the same rules with the reasoning.
 *
 * Rules:
 *   1. Protect first. A chunk is protected — by a live intent (`intent#<pfs>`, class `Intent`; work
 *      of no PFS, scrub repair, files its intent deployment-wide in `intent#`) or by a committed
 *      reference — BEFORE any instance of it is read for reuse or written, until the commit that
 *      references it (scrub repair: until the instance is recorded). Vacuum marks an instance `deleting` and only then re-checks fresh
 *      intents and commits, so a protection written before the writer looked at the instance is
 *      always seen: either the writer sees the mark, or vacuum sees the protection. A protection
 *      that lapsed (even if renewed since) protects nothing: the writer records and commits
 *      nothing (`Intent.beforeCommit`, ETIMEDOUT).
 *   2. Reuse waits out a `deleting` lease (`settleInstance`): a marked instance is neither reused
 *      nor recorded over until vacuum unmarks it, deletes it, or its lease ends (vacuum deletes
 *      objects only well inside the lease, so afterwards the object is either gone or stays).
 *   3. Instance records are written with a condition (`recordPresent`): never over a live
 *      `deleting` mark. A failed condition means vacuum marked it meanwhile: settle and retry.
 *   4. Deletion (vacuum) deletes the object inside its lease and then the record, conditioned on
 *      its own mark; since rule 3 keeps writers off a live mark, the record it leaves is never
 *      `present` for a missing object. Objects are written only under an intent that names their
 *      volumes, so an object whose record was never written is found from the expired intent.
 *   5. One function chooses the copy to read (`orderCopies`); `readBest` reads and verifies it.
 */
import { randomHex } from "../bytes.ts";
import { crc32c } from "../crc32c.ts";
import { isStrataError, StrataError, strataError } from "../errors.ts";
import {
  type Condition,
  type Item,
  type Key,
  LIMITS,
  type MetadataStore,
  type TransactOp,
} from "../metadata/port.ts";
import type { VolumeRegistry } from "../volume/registry.ts";
import type { Volume } from "../volume/volume.ts";
import type { InstanceState } from "./api.ts";
import {
  chunkObjectKey,
  chunkPk,
  DEPLOYMENT_INTENTS,
  decodeInstance,
  type InstanceRecord,
  instanceItem,
  instanceKey,
  intentItem,
} from "./chunk-items.ts";

/** A chunk as a reference names it: its SHA-256, byte length and CRC32C. */
export interface ChunkRef {
  chunk: string;
  size: number;
  crc32c: number;
}

/**
 * Test-only switches that turn a rule off, so the interleaving tests can show that each rule is
 * what keeps the bytes (test/unit/chunk-lifecycle-interleaving.test.ts). Never set in production.
 */
export const UNSAFE_LIFECYCLE_SWITCHES = {
  /**
   * Rule 1 off: intents are not written (mirror chunk step, placement copy, data plane); an
   * upload session announces no chunks (only its staging objects).
   */
  noIntent: false,
  /** Rule 2 off: a `deleting` instance is treated as absent at once. */
  noLeaseWait: false,
  /** Rule 3 off: instance records are written unconditionally. */
  noCondition: false,
  /**
   * Vacuum ignores deployment-wide intents (`intent#`, scrub repair's protection): the state
   * before scrub repair was protected. Other writers' intents still count.
   */
  noDeploymentIntents: false,
  /**
   * A multi-master exchange removes its intent after the merge (the state before the fix)
   * instead of handing it to vacuum: peer chunks the merge did not reference are never offered
   * to vacuum (a leak).
   */
  exchangeRemovesIntent: false,
  /** Placement Commit does not check its recorded copies still exist (`confirmRecorded`). */
  noConfirm: false,
  /**
   * The data plane writes its deferred instance records without first checking its intent is
   * still live and never lapsed (core/data/intents.ts `storeChunks`): the state before the fix.
   */
  noRecordCheck: false,
  /**
   * An intent forgets it lapsed once a later write renewed it (`beforeCommit` then sees only
   * whether it is expired now): the state before the fix.
   */
  forgetLapse: false,
};

/** Where the lifecycle's waits and times come from (injectable for tests). */
export interface LifecycleClock {
  clock: () => number;
  /** Pause (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface IntentOptions extends LifecycleClock {
  store: MetadataStore;
  pfs: string;
  path: string;
  /** Volumes the chunks go to (vacuum looks there for objects written before their record). */
  volumes: string[];
  /** Lifetime, renewed with every announcement. */
  ttlMs: number;
  /** An intent written earlier (a workflow step resuming it); default a new id. */
  id?: string;
}

/**
 * An intent: the protection of rule 1. Created (one PutItem) when the first chunk is announced,
 * rewritten with every further announcement — before that chunk's instance is looked at — so
 * vacuum always knows every chunk a pending commit may reference; each rewrite renews
 * `expiresAt`. Removed after the commit (then the reference protects the chunks).
 */
export class Intent {
  readonly id: string;
  readonly created: number;
  expiresAt = 0;
  private readonly chunks: string[] = [];
  private written = false;
  /**
   * The intent expired at some point since it was first written (a renewal landed after the
   * previous `expiresAt`): vacuum may have reclaimed chunks announced before, even if it is live now.
   */
  private lapsed = false;
  /** The last intent write (errors swallowed: each announcement sees its own write's error). */
  private chain: Promise<void> = Promise.resolve();
  /** The write the next announcement joins, until it starts. */
  private next: Promise<void> | undefined;

  constructor(private readonly o: IntentOptions) {
    this.created = o.clock();
    this.id = o.id ?? `${this.created.toString(36).padStart(9, "0")}-${randomHex(8)}`;
  }

  get volumes(): string[] {
    return this.o.volumes;
  }

  /** Record `sha` in the intent; resolves once the item is written. */
  announce(sha: string): Promise<void> {
    this.chunks.push(sha);
    // Group commit: announcements made before the next write starts share it. The timer lets
    // every chunk already hashed in this turn join (a 64 MiB buffer: one write for 4 chunks).
    if (!this.next) {
      const next = this.chain
        .then(() => new Promise<void>((resolve) => setTimeout(resolve, 0)))
        .then(async () => {
          if (this.next === next) this.next = undefined;
          await this.write();
        });
      this.next = next;
      this.chain = next.catch(() => {});
    }
    return this.next;
  }

  /** Announce every chunk of `shas` in one write. */
  async protect(shas: Iterable<string>): Promise<void> {
    for (const sha of shas) this.chunks.push(sha);
    await this.chain;
    if (this.chunks.length > 0) await this.write();
  }

  /** This intent's item as it stands, protecting its chunks until `expiresAt`. */
  private item(expiresAt: number): Item {
    return intentItem({
      pfs: this.o.pfs,
      id: this.id,
      path: this.o.path,
      volumes: this.o.volumes,
      chunks: [...new Set(this.chunks)],
      created: this.created,
      expiresAt,
    });
  }

  private async write(): Promise<void> {
    if (UNSAFE_LIFECYCLE_SWITCHES.noIntent) return;
    const now = this.o.clock();
    const previous = this.written ? this.expiresAt : Number.POSITIVE_INFINITY;
    await this.o.store.put(this.item(now + this.o.ttlMs));
    // The old item protected until `previous`: landing after it leaves a gap vacuum may have used.
    if (this.o.clock() >= previous && !UNSAFE_LIFECYCLE_SWITCHES.forgetLapse) this.lapsed = true;
    this.expiresAt = now + this.o.ttlMs;
    this.written = true;
  }

  /**
   * Just before the commit (and before a writer's deferred instance records): an intent that is
   * expired now, or expired at some point since it was first written, means vacuum may already
   * have reclaimed the chunks (ETIMEDOUT, nothing committed); one past half its life is renewed so
   * the commit lands inside it.
   */
  async beforeCommit(): Promise<void> {
    await this.chain;
    if (!this.written) return;
    const left = this.expiresAt - this.o.clock();
    if (left <= 0 || this.lapsed)
      throw new StrataError(
        "ETIMEDOUT",
        `${this.o.pfs}:${this.o.path}: the upload outlived its intent (${this.id}); vacuum may have reclaimed its chunks, so nothing was committed. Retry the write`,
        { details: { path: this.o.path, pfs: this.o.pfs, intent: this.id } },
      );
    if (left < this.o.ttlMs / 2) await this.write();
  }

  /**
   * Hand the intent to vacuum now (best effort): rewritten already expired, so the next vacuum
   * decides each of its chunks again — a chunk a commit references keeps its reference (vacuum's
   * re-check sees commits after its cursor), one nothing references is collected. For a writer
   * whose commits reference only some of the chunks it protected (a multi-master merge keeps only
   * the peer's final versions), on every exit path. A failure leaves it to expire on its own.
   */
  async expire(): Promise<void> {
    if (!this.written) return;
    try {
      const now = this.o.clock();
      await this.o.store.put(this.item(now));
      this.expiresAt = now;
    } catch {
      // It expires after its TTL.
    }
  }

  /** Delete the intent after a successful commit; a failure leaves it for vacuum (best effort). */
  async remove(): Promise<void> {
    if (!this.written) return;
    try {
      await this.o.store.delete({ pk: `intent#${this.o.pfs}`, sk: this.id });
    } catch {
      // An expired intent whose chunks are referenced costs vacuum one check.
    }
  }
}

/**
 * The `pfs` parts of every intent partition vacuum must read (at its start and at its re-check):
 * each PFS's, and the deployment-wide one (`DEPLOYMENT_INTENTS`).
 */
export function intentPartitions(pfsNames: Iterable<string>): string[] {
  const out = [...pfsNames];
  if (!UNSAFE_LIFECYCLE_SWITCHES.noDeploymentIntents) out.push(DEPLOYMENT_INTENTS);
  return out;
}

/** Delete an intent by id after the commit that references its chunks (best effort). */
export async function removeIntent(store: MetadataStore, pfs: string, id: string): Promise<void> {
  await store.delete({ pk: `intent#${pfs}`, sk: id }).catch(() => {});
}

/**
 * The instance record at `key`, after waiting out a vacuum `deleting` lease (rule 2): polls until
 * the record changes (gone → absent; present → reuse) or the lease ends (→ undefined: write again;
 * a create-only put that finds the object keeps it).
 */
export async function settleInstance(
  store: MetadataStore,
  key: Key,
  c: LifecycleClock & { signal?: AbortSignal | undefined; known?: Item | null | undefined },
): Promise<Item | undefined> {
  // `known`: the record as just read after the protection was written (null: there is none).
  let record = c.known !== undefined ? (c.known ?? undefined) : await store.get(key);
  const sleep = c.sleep ?? defaultSleep;
  while (record?.state === "deleting") {
    if (UNSAFE_LIFECYCLE_SWITCHES.noLeaseWait) return undefined;
    const wait = Number(record.until) - c.clock();
    if (!(wait > 0)) return undefined;
    await sleep(Math.min(wait, 500));
    if (c.signal?.aborted)
      throw strataError("EABORTED", `aborted while chunk ${key.pk.slice(6)} was being vacuumed`);
    record = await store.get(key);
  }
  return record;
}

/**
 * Put a chunk's object create-only. Content-addressed: an object already there with the chunk's
 * size and CRC32C is this chunk (kept); one that differs is a damaged copy, replaced by the right
 * bytes (always safe). Returns whether bytes were written.
 */
export async function putChunkObject(
  volume: Volume,
  ref: ChunkRef,
  bytes: Uint8Array,
  signal?: AbortSignal,
): Promise<boolean> {
  const key = chunkObjectKey(ref.chunk);
  const put = (ifNoneMatch: boolean) =>
    volume.put(key, bytes, { size: ref.size, crc32c: ref.crc32c, ifNoneMatch, signal });
  try {
    await put(true);
    return true;
  } catch (err) {
    if (!isStrataError(err, "EEXIST")) throw err;
    const info = await volume.head(key, { signal });
    if (info.size === ref.size && info.crc32c === ref.crc32c) return false;
    await put(false);
    return true;
  }
}

/** A `present` instance record of `ref` on `volume`. */
export function presentItem(ref: ChunkRef, volume: string, now: number): Item {
  return instanceItem({
    chunk: ref.chunk,
    volume,
    state: "present",
    size: ref.size,
    crc32c: ref.crc32c,
    time: now,
  });
}

/** Rule 3: an instance record is written only where no live `deleting` mark is. */
export function recordCondition(now: number): Condition {
  return {
    op: "or",
    of: [
      { op: "notExists" },
      { op: "ne", attr: "state", value: "deleting" },
      { op: "lt", attr: "until", value: now },
    ],
  };
}

/**
 * Write instance records (≤ 100 per transaction; a lone one as a plain put), each with rule 3's
 * condition. Returns the items whose condition failed (a vacuum marked them meanwhile): the caller
 * settles and retries them (`recordAfterSettle`).
 */
export async function recordPresent(store: MetadataStore, items: Item[], now: number): Promise<Item[]> {
  const unsafe = UNSAFE_LIFECYCLE_SWITCHES.noCondition;
  const failed: Item[] = [];
  const one = async (item: Item) => {
    try {
      await store.put(item, unsafe ? {} : { condition: recordCondition(now) });
    } catch (err) {
      if (!isStrataError(err, "ECONFLICT")) throw err;
      failed.push(item);
    }
  };
  for (let at = 0; at < items.length; at += LIMITS.transactItems) {
    const group = items.slice(at, at + LIMITS.transactItems);
    if (group.length === 1) {
      await one(group[0]!);
      continue;
    }
    try {
      await store.transact(
        group.map((item) => ({
          kind: "put" as const,
          item,
          ...(unsafe ? {} : { condition: recordCondition(now) }),
        })),
      );
    } catch (err) {
      if (!isStrataError(err, "ECONFLICT")) throw err;
      for (const item of group) await one(item); // find which ones
    }
  }
  return failed;
}

/**
 * Records whose condition failed: wait out the mark, then record again if the object is still
 * there with the chunk's size and CRC32C. Under rule 1 it always is (the writer's protection was
 * written before the mark, so vacuum re-checks and unmarks); a missing one is EIO, nothing recorded.
 */
export async function recordAfterSettle(
  store: MetadataStore,
  items: Item[],
  volumeOf: (name: string) => Volume | undefined,
  c: LifecycleClock & { signal?: AbortSignal | undefined },
): Promise<void> {
  for (let item of items) {
    for (let attempt = 0; ; attempt++) {
      const rec = decodeInstance(item);
      const now = await settleInstance(store, item, c);
      if (now?.state === "present") break;
      const volume = volumeOf(rec.volume);
      const info = volume ? await volume.head(chunkObjectKey(rec.chunk)).catch(() => undefined) : undefined;
      if (!info || info.size !== rec.size || info.crc32c !== rec.crc32c)
        throw strataError(
          "EIO",
          `chunk ${rec.chunk} on volume ${rec.volume} was deleted while being recorded; write again`,
          { chunk: rec.chunk, volume: rec.volume },
        );
      item = { ...item, time: c.clock() };
      const failed = await recordPresent(store, [item], c.clock());
      if (failed.length === 0) break;
      if (attempt >= 8)
        throw strataError("ECONFLICT", `chunk ${rec.chunk}: its instance record keeps changing`);
    }
  }
}

/**
 * After recording `present` where the writer's protection may have LAPSED (a workflow step
 * resumed hours later, like placement's Commit after its Copy's intent expired): check every
 * recorded object is still there. A vacuum that saw the intent expired may have marked, deleted
 * the object and dropped its mark entirely between the writer's last look and its record write
 * — rule 3's condition cannot see a mark that is already gone — so a missing object's record is
 * deleted again (only while it is still ours: `present` with our `time`) and the step fails EIO.
 * A vacuum that marks our record after this check deletes object and record itself (rule 4).
 * Cost: one HEAD per recorded instance.
 */
export async function confirmRecorded(
  store: MetadataStore,
  items: Item[],
  volumeOf: (name: string) => Volume | undefined,
): Promise<void> {
  if (UNSAFE_LIFECYCLE_SWITCHES.noConfirm) return;
  const lost: InstanceRecord[] = [];
  for (const item of items) {
    const rec = decodeInstance(item);
    const volume = volumeOf(rec.volume);
    if (!volume) continue;
    const info = await volume.head(chunkObjectKey(rec.chunk)).catch((err: unknown) => {
      if (isStrataError(err, "ENOENT")) return undefined;
      throw err;
    });
    if (info && info.size === rec.size && info.crc32c === rec.crc32c) continue;
    await store
      .delete(item, {
        condition: {
          op: "and",
          of: [
            { op: "eq", attr: "state", value: "present" },
            { op: "eq", attr: "time", value: rec.time },
          ],
        },
      })
      .catch((err: unknown) => {
        if (!isStrataError(err, "ECONFLICT")) throw err; // marked or rewritten meanwhile: not ours
      });
    lost.push(rec);
  }
  if (lost.length > 0)
    throw strataError(
      "EIO",
      `chunk ${lost[0]!.chunk} on volume ${lost[0]!.volume} was deleted before it was recorded (its protection had lapsed); nothing recorded, copy again`,
      { chunk: lost[0]!.chunk, volume: lost[0]!.volume, lost: lost.length },
    );
}

/** What `ensureInstance` did: reused a present instance, or put the object (`uploaded` if bytes moved). */
export type Ensured = "reused" | "recorded" | "uploaded";

/**
 * Rules 2 and 3 for one chunk on one volume, for a writer whose protection (rule 1) is already
 * written: settle the record; present → reuse; else put the object create-only and record it
 * conditionally (a lost condition: settle and go round again). `bytes` is asked at most once.
 * With `defer`, the record is not written but pushed there (the caller batches `recordPresent`).
 */
export async function ensureInstance(
  store: MetadataStore,
  target: { name: string; volume: Volume },
  ref: ChunkRef,
  bytes: () => Uint8Array | Promise<Uint8Array>,
  c: LifecycleClock & {
    signal?: AbortSignal | undefined;
    defer?: Item[];
    known?: Item | null | undefined;
    /** How the object gets there (default `putChunkObject`; upload.commit promotes its staged copy). */
    place?: () => Promise<boolean>;
  },
): Promise<Ensured> {
  const key = instanceKey(ref.chunk, target.name);
  let body: Uint8Array | undefined;
  let known = c.known;
  for (let attempt = 0; ; attempt++) {
    const record = await settleInstance(store, key, { ...c, known });
    known = undefined;
    if (record?.state === "present") return "reused";
    let uploaded: boolean;
    if (c.place) uploaded = await c.place();
    else {
      body ??= await bytes();
      uploaded = await putChunkObject(target.volume, ref, body, c.signal);
    }
    const item = presentItem(ref, target.name, c.clock());
    if (c.defer) {
      c.defer.push(item);
      return uploaded ? "uploaded" : "recorded";
    }
    const failed = await recordPresent(store, [item], c.clock());
    if (failed.length === 0) return uploaded ? "uploaded" : "recorded";
    if (attempt >= 8)
      throw strataError("ECONFLICT", `chunk ${ref.chunk}: its instance record keeps changing`);
  }
}

/**
 * Vacuum's deletion of one instance it marked (token `token`) and re-checked: the object first,
 * then — by the caller, batched — the record, conditioned on the mark (`deletedRecordCondition`).
 * No writer records over a live mark (rule 3), so the record deleted is the marked one.
 */
export async function deleteMarkedObject(volume: Volume, sha: string): Promise<void> {
  await volume.delete(chunkObjectKey(sha));
}

/**
 * A deleter besides vacuum (placement trim) removes a `present` instance the same way (rule 4):
 * `markForDeletion` marks it `deleting` with a lease (this op goes into the deleter's own
 * transaction; it fails if the instance is no longer `present`), `deleteMarked` then deletes the
 * object well inside the lease and the record conditioned on the mark. Writers wait the mark
 * out (rule 2) and never record over it (rule 3), so no `present` record is left for the deleted
 * object; a lease run out unmarks instead (nothing deleted).
 */
export function markForDeletion(key: Key, mark: { token: string; until: number }): TransactOp {
  return {
    kind: "update",
    key,
    update: { set: { state: "deleting", until: mark.until, token: mark.token, prev: "present" } },
    condition: { op: "eq", attr: "state", value: "present" },
  };
}

/** See `markForDeletion`. Returns whether the object was deleted. */
export async function deleteMarked(
  store: MetadataStore,
  volume: Volume,
  key: Key,
  sha: string,
  mark: { token: string; until: number; leaseMs: number },
  clock: () => number,
): Promise<boolean> {
  if (clock() >= mark.until - mark.leaseMs / 2) {
    // Too late to delete inside the lease: give the instance back.
    await store
      .update(
        key,
        { set: { state: "present" }, remove: ["until", "token", "prev"] },
        { condition: deletedRecordCondition(mark.token) },
      )
      .catch((err) => {
        if (!isStrataError(err, "ECONFLICT")) throw err;
      });
    return false;
  }
  try {
    await deleteMarkedObject(volume, sha);
  } catch (err) {
    if (!isStrataError(err, "ENOENT")) throw err;
  }
  await store.delete(key, { condition: deletedRecordCondition(mark.token) }).catch((err) => {
    if (!isStrataError(err, "ECONFLICT")) throw err; // a vacuum took the expired mark over
  });
  return true;
}

/** The condition of vacuum's record delete: still its own mark. */
export const deletedRecordCondition = (token: string): Condition => ({
  op: "eq",
  attr: "token",
  value: token,
});

/**
 * Scrub repair of one bad instance (rule 1 for work of no PFS): a deployment-wide intent naming
 * the chunk and the target volume is written first, then the instance record is read again; only
 * a record still there and not marked `deleting` is repaired, by overwriting the object with
 * verified bytes (unconditional: a corrupt object may still carry a right-looking header, so
 * create-only would keep it). A vacuum that marks the instance after the intent was written sees
 * the intent at its re-check and keeps the chunk; one that marked before is seen here (or has
 * deleted the record: nothing is written). The caller verifies the copy and records its state
 * (`setCheckedState`). Returns whether the object was rewritten.
 *
 * The intent is never removed, it expires (`ttlMs`, default 10 min): a vacuum that kept the chunk
 * because of it dropped it as a candidate, and no commit will reference it later, so the expired
 * intent is what makes a later vacuum decide the chunk again (collect it if garbage, with an
 * object written after vacuum's re-check found through the intent's volume). One small item per
 * repair, deleted by that vacuum.
 */
export async function repairInstance(
  store: MetadataStore,
  target: { name: string; volume: Volume },
  ref: ChunkRef,
  bytes: Uint8Array,
  c: LifecycleClock & { ttlMs?: number },
): Promise<boolean> {
  const intent = new Intent({
    store,
    pfs: DEPLOYMENT_INTENTS,
    path: `scrub:${target.name}`,
    volumes: [target.name],
    ttlMs: c.ttlMs ?? 10 * 60_000,
    clock: c.clock,
  });
  await intent.protect([ref.chunk]);
  const now = await store.get(instanceKey(ref.chunk, target.name));
  if (!now || now.state === "deleting") return false;
  await volumePut(target.volume, ref, bytes);
  return true;
}

const volumePut = (volume: Volume, ref: ChunkRef, bytes: Uint8Array) =>
  volume.put(chunkObjectKey(ref.chunk), bytes, { size: ref.size, crc32c: ref.crc32c });

/**
 * Scrub's verdict on an instance it checked: set its state, only while its record exists and is
 * not marked `deleting` (a deleted record is never re-created: the chunk was garbage). Returns
 * whether it was written.
 */
export async function setCheckedState(
  store: MetadataStore,
  record: InstanceRecord,
  state: "present" | "corrupt" | "missing",
  now: number,
): Promise<boolean> {
  try {
    await store.put(instanceItem({ ...record, state, time: now }), {
      condition: { op: "and", of: [{ op: "exists" }, { op: "ne", attr: "state", value: "deleting" }] },
    });
    return true;
  } catch (err) {
    if (!isStrataError(err, "ECONFLICT")) throw err;
    return false;
  }
}

/**
 * A reader or scrub found an instance bad: record it `corrupt` or `missing` (an existing record
 * only, and never one vacuum has marked `deleting`: that instance is on its way out anyway).
 * Returns whether the record changed.
 */
export async function markBad(
  store: MetadataStore,
  key: Key,
  state: "corrupt" | "missing",
  now: number,
): Promise<boolean> {
  try {
    await store.update(
      key,
      { set: { state, time: now } },
      {
        condition: {
          op: "and",
          of: [{ op: "exists" }, { op: "ne", attr: "state", value: "deleting" }],
        },
      },
    );
    return true;
  } catch (err) {
    if (!isStrataError(err, "ECONFLICT")) throw err;
    return false;
  }
}

/** One copy a reader may read: its volume, its recorded state (undefined: no record), its weights. */
export interface CopyCandidate {
  volume: string;
  state: InstanceState | "unknown" | undefined;
  site?: string | undefined;
  /** Relative read cost (default 1). */
  cost?: number | undefined;
  /** Recent read failures on that volume. */
  failures?: number | undefined;
}

/**
 * THE choice of the copy to read, pure: copies recorded `present` (or with no record) first, then
 * the reader's own site, then lower cost, then fewer recent failures; ties keep the given order.
 * Used by the data plane, the mirror source, `fs.read` (presigned sources) and the remote SDK.
 */
export function orderCopies<T extends CopyCandidate>(
  candidates: T[],
  reader: { site?: string | undefined },
): T[] {
  const rank = (c: T) => [
    c.state === "present" || c.state === undefined || c.state === "unknown" ? 0 : 1,
    reader.site !== undefined && c.site === reader.site ? 0 : 1,
    c.cost ?? 1,
    c.failures ?? 0,
  ];
  return candidates
    .map((c, i) => ({ c, i, r: rank(c) }))
    .sort((a, b) => {
      for (let k = 0; k < a.r.length; k++) if (a.r[k] !== b.r[k]) return a.r[k]! - b.r[k]!;
      return a.i - b.i;
    })
    .map((x) => x.c);
}

/**
 * THE verdict when no copy of a chunk could be read, from the error code of every copy tried
 * (the embedded plane, the remote SDK's plane and the mirror's `readBest` all answer it):
 * ECORRUPT when any copy had the wrong bytes (data was damaged: scrub repairs from a good copy);
 * EIO when every copy tried was missing, or there was none to try (the bytes are gone: a retry
 * will not help); EUNAVAIL otherwise (some copy could not be reached: a retry may succeed).
 */
export function unreadableVerdict(codes: readonly string[]): "ECORRUPT" | "EIO" | "EUNAVAIL" {
  if (codes.includes("ECORRUPT")) return "ECORRUPT";
  return codes.every((c) => c === "ENOENT") ? "EIO" : "EUNAVAIL";
}

/** Whether `bytes` are the chunk `ref` names (length and CRC32C). */
export function isChunk(ref: ChunkRef, bytes: Uint8Array): boolean {
  return bytes.byteLength === ref.size && crc32c(bytes) === ref.crc32c;
}

/**
 * A chunk's bytes from the best copy that has them right: the recorded instances ordered by
 * `orderCopies`, then every other volume of the registry now (a lost record must not lose the bytes).
 */
export async function readBest(
  store: MetadataStore,
  registry: VolumeRegistry,
  ref: ChunkRef,
  reader: { site?: string; siteOf?: (volume: string) => string | undefined } = {},
): Promise<Uint8Array> {
  const volumes = await registry.handles();
  const page = await store.query(chunkPk(ref.chunk), { sk: { op: "beginsWith", value: "inst#" } });
  const recorded = page.items.map(decodeInstance).filter((r) => volumes[r.volume]);
  const ordered = orderCopies(
    recorded.map((r) => ({ volume: r.volume, state: r.state, site: reader.siteOf?.(r.volume) })),
    reader,
  );
  const order = [...ordered.map((c) => c.volume), ...Object.keys(volumes)].filter(
    (v, i, all) => all.indexOf(v) === i,
  );
  let last: unknown;
  const codes: string[] = [];
  for (const name of order) {
    try {
      const bytes = await volumes[name]!.volume.getBytes(chunkObjectKey(ref.chunk));
      if (isChunk(ref, bytes)) return bytes;
      last = strataError("ECORRUPT", `chunk ${ref.chunk} on volume ${name} has the wrong bytes`, {
        chunk: ref.chunk,
        volume: name,
      });
    } catch (err) {
      last = err;
    }
    codes.push(isStrataError(last) ? last.code : "EIO");
  }
  throw strataError(
    unreadableVerdict(codes),
    `no readable instance of chunk ${ref.chunk} (tried ${order.join(", ") || "no volume"})`,
    { chunk: ref.chunk, tried: order },
    last,
  );
}
