/**
 * TID leases: fencing for long readers of history, instead of timing.
 *
 * A reader that reads history at a TID for longer than a moment (a revert, `snapshot.create` with
 * `asOf`, a dry run) takes a lease on that TID before it reads, renews it while it works and
 * drops it when done. Vacuum (core/maintenance/vacuum.ts) treats every live lease's TID like a
 * snapshot's: it stays a complete point of the next watermark and nothing visible at it is pruned.
 *
 * | pk             | sk                     | attributes                                       |
 * |----------------|------------------------|--------------------------------------------------|
 * | `ret#<pfs id>` | `lease#<tid>#<random>` | `tid`, `until` (ms), `floor`?, `ttl` (s, table TTL) |
 *
 * Why it is safe (vacuum writes the watermark W BEFORE it reads the leases it prunes by; the
 * reader writes its lease BEFORE it re-reads the watermark, uncached):
 * - the lease was written before vacuum read the leases → vacuum keeps everything visible at T;
 * - else vacuum had already written W when the reader re-read the watermark, so the reader sees W
 *   (or a later one): T complete under it means every record visible at T is visible at a point
 *   of W and is not pruned; T not complete → the reader re-snaps or fails EPRUNED before reading.
 *
 * The bound: a lease lives `ttlMs` (default 60 s) past its last renewal; a holder renews when a
 * third of that has passed (`keep()` at each step of its work) and stops with ECONFLICT if it
 * finds its lease lapsed (a pause longer than the TTL: vacuum may have pruned meanwhile), before
 * committing anything read under it. Vacuum counts a lease live until `until` + its clock-skew
 * bound (default 1 min). A holder that dies stops renewing: its lease expires after at most
 * `ttlMs` (+ skew) and no longer holds history back; vacuum deletes expired lease records.
 *
 * Range readers (the mirror stream, hence mirror runs, backups and `mirror.read` over HTTP) read
 * the records of every commit in (from, upto], not the state at one TID: a point lease would not
 * stop retention thinning the versions in between. They take a FLOOR lease (`floor: true`, the
 * same item and protocol): vacuum prunes nothing that ended after a live floor (it keeps every
 * record whose `dtid` > from) and does not move the watermark's `exactFrom` past it.
 */
import { randomHex } from "../bytes.ts";
import { isStrataError, StrataError, strataError } from "../errors.ts";
import type { Condition, Item, Key, MetadataStore } from "../metadata/port.ts";
import { ttlAttribute } from "../metadata/table.ts";
import type { Tid } from "../namespace/api.ts";
import { seal, verify } from "../namespace/records.ts";

export const LEASE_TTL_MS = 60_000;
const LEASE_PREFIX = "lease#";
/** A holder stops trusting its lease this long before `until` (its own clock may be late). */
const HOLDER_MARGIN_MS = 1_000;

export interface LeaseOptions {
  clock: () => number;
  /** Lifetime past each renewal (default {@link LEASE_TTL_MS}). */
  ttlMs?: number;
}

/**
 * Test-only switch: range readers take no floor lease (the state before they did), so a test can
 * show a vacuum pruning under a stream read. Never set in production.
 */
export const UNSAFE_LEASE_SWITCHES = { noFloorLease: false };

function leaseKey(pfsId: string, tid: Tid): Key {
  return { pk: `ret#${pfsId}`, sk: `${LEASE_PREFIX}${tid}#${randomHex(8)}` };
}

/** A lease held on one TID of one PFS. */
export class TidLease {
  private renewedAt: number;

  constructor(
    private readonly store: MetadataStore,
    private readonly key: Key,
    readonly tid: Tid,
    readonly pfs: string,
    private until: number,
    private readonly clock: () => number,
    private readonly ttlMs: number,
    private readonly floor = false,
  ) {
    this.renewedAt = clock();
  }

  private lapsed(): Error {
    return strataError(
      "ECONFLICT",
      `the lease on history of PFS ${this.pfs} at ${this.tid} lapsed (a pause longer than ${this.ttlMs} ms); vacuum may have pruned it meanwhile: retry`,
      { pfs: this.pfs, asOf: this.tid },
    );
  }

  /**
   * Call at each step of the work, and before committing anything read under the lease: renews
   * when a third of the TTL has passed; ECONFLICT when the lease lapsed (nothing read since its
   * last renewal can be trusted).
   */
  async keep(): Promise<void> {
    const now = this.clock();
    if (now >= this.until - HOLDER_MARGIN_MS) throw this.lapsed();
    if (now < this.renewedAt + this.ttlMs / 3) return;
    const until = now + this.ttlMs;
    try {
      // A whole sealed item (records carry a CRC), only over our own unexpired one (or over this
      // very renewal, when a first try's reply was lost).
      await putWithRetries(
        this.store,
        seal({ ...this.key, tid: this.tid, until, ...expiresAt(until), ...floorAttr(this.floor) }),
        {
          op: "or",
          of: [
            { op: "eq", attr: "until", value: this.until },
            { op: "eq", attr: "until", value: until },
          ],
        },
      );
    } catch (err) {
      if (isStrataError(err, "ECONFLICT")) throw this.lapsed();
      throw err;
    }
    this.until = until;
    this.renewedAt = now;
  }

  /** Drop the lease (best effort: an undropped lease expires on its own). */
  async release(): Promise<void> {
    try {
      await this.store.delete(this.key);
    } catch {
      // It expires after its TTL.
    }
  }
}

/**
 * A conditional put, re-sent (at most 3 times) after a retryable failure — which may have been
 * "applied, reply lost": the condition admits our own item, so the re-send then succeeds.
 */
async function putWithRetries(store: MetadataStore, item: Item, condition: Condition): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await store.put(item, { condition });
      return;
    } catch (err) {
      if (!(err instanceof StrataError && err.retryable) || attempt >= 3) throw err;
    }
  }
}

/** The table's TTL (epoch seconds), an hour after `until`: vacuum, not the table, decides liveness. */
const expiresAt = (until: number) => ttlAttribute(until + 3600_000);

const floorAttr = (floor: boolean): Record<string, boolean> => (floor ? { floor: true } : {});

/**
 * Write a lease on `tid` (one PutItem). The caller then re-reads the watermark (uncached).
 * `floor`: a range reader's lease — nothing that ended after `tid` is pruned while it lives.
 */
export async function takeLease(
  store: MetadataStore,
  pfs: { id: string; name: string },
  tid: Tid,
  options: LeaseOptions & { floor?: boolean },
): Promise<TidLease> {
  const ttlMs = options.ttlMs ?? LEASE_TTL_MS;
  const key = leaseKey(pfs.id, tid);
  const until = options.clock() + ttlMs;
  const floor = options.floor === true;
  // The key is random, so an item already there with our `until` is this very put (reply lost).
  await putWithRetries(store, seal({ ...key, tid, until, ...expiresAt(until), ...floorAttr(floor) }), {
    op: "or",
    of: [{ op: "notExists" }, { op: "eq", attr: "until", value: until }],
  });
  return new TidLease(store, key, tid, pfs.name, until, options.clock, ttlMs, floor);
}

/** TIDs of the point leases live at `now` (see {@link liveLeases}). */
export async function liveLeaseTids(
  store: MetadataStore,
  pfsId: string,
  now: number,
  skewMs: number,
  dropExpired = false,
): Promise<Tid[]> {
  return (await liveLeases(store, pfsId, now, skewMs, dropExpired)).tids;
}

/**
 * The leases live at `now` (until + `skewMs` > now), for vacuum: the point leases' TIDs, and the
 * lowest live floor (range readers). With `dropExpired`, expired lease records are deleted
 * (condition: still the expired one).
 */
export async function liveLeases(
  store: MetadataStore,
  pfsId: string,
  now: number,
  skewMs: number,
  dropExpired = false,
): Promise<{ tids: Tid[]; floor?: Tid }> {
  const tids = new Set<Tid>();
  let floor: Tid | undefined;
  let cursor: string | undefined;
  do {
    const page = await store.query(`ret#${pfsId}`, {
      sk: { op: "beginsWith", value: LEASE_PREFIX },
      ...(cursor ? { cursor } : {}),
    });
    for (const item of page.items) {
      verify(item);
      const until = Number(item.until);
      if (until + skewMs > now) {
        const tid = String(item.tid);
        if (item.floor !== true) tids.add(tid);
        else if (floor === undefined || tid < floor) floor = tid;
      } else if (dropExpired)
        await store
          .delete(item, { condition: { op: "eq", attr: "until", value: until } })
          .catch((err: unknown) => {
            if (!isStrataError(err, "ECONFLICT")) throw err; // renewed meanwhile: it stays
          });
    }
    cursor = page.cursor;
  } while (cursor);
  return { tids: [...tids].sort(), ...(floor !== undefined ? { floor } : {}) };
}
