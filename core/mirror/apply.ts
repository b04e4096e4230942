/**
 * Applying stream pages to a mirror PFS (HAMMER's mirror-write), idempotently and atomically with
 * the mirror's sync TID.
 *
 * Each record is put as given (its state as of its TID), so applying a commit twice writes the
 * same items twice. The live state that is not streamed is derived from the entry history of the
 * same commit: an entry-history record that ends at T turns the live entry into a tombstone
 * `{dtid: T}` (and, for a directory, removes its `ctl`); one that starts at T makes the live entry
 * `{ino, type, ctid: T}` (and, for a directory, its `ctl` `{parent, name}`). Ends are applied
 * before starts, so a rename (end + start in one commit) lands as a start.
 *
 * Commits are packed into TransactWriteItems of ≤ 100 items, collapsed per key (a later commit's
 * state replaces an earlier one's), and every transaction that completes a commit also puts the
 * mirror's state item with `sync` = the last TID it completes, conditioned on the `sync` it read.
 * A commit too big for one transaction is applied in parts: the first part records it as
 * `pending`, the last clears that and moves `sync`. A crash between parts leaves `sync` before the
 * commit; the next run re-applies the whole commit (same items) — no duplicates, no gaps.
 */
import { isStrataError, strataError } from "../errors.ts";
import type { Item, TransactOp } from "../metadata/port.ts";
import { itemSize } from "../metadata/values.ts";
import type { Tid } from "../namespace/api.ts";
import { changePk, ctlKey, entryKey, seal } from "../namespace/records.ts";
import { checkRecord, type StreamPage, type StreamRecord, targetItem } from "./format.ts";

/** What a run keeps about the mirror's state item between transactions. */
export interface MirrorState {
  /** The mirror PFS's id on the target. */
  id: string;
  /** Its change-index shards (the registry's `shards`). */
  shards: number;
  item: Item;
}

/**
 * The mirror's own change-index item for an applied commit, so the mirror can be the source of
 * another mirror, a backup or (once promoted) a peer with its whole history. One per source TID
 * (commits of one TID from several source engines are applied as one): shard = a hash of the
 * TID, suffix `00000000` — re-applying writes the same item.
 */
export function changeItemFor(
  mirrorId: string,
  shards: number,
  tid: Tid,
  keys: Array<{ pk: string; sk: string }>,
): Item {
  let h = 0;
  for (let i = 0; i < tid.length; i++) h = (h * 31 + tid.charCodeAt(i)) >>> 0;
  return {
    pk: changePk(mirrorId, h % shards),
    sk: `${tid}#00000000`,
    tid,
    keys: keys.map((k) => [k.pk, k.sk]),
  };
}

export interface ApplyStats {
  commits: number;
  records: number;
  transactions: number;
}

/** Items per TransactWriteItems besides the state item (the store's limit is 100). */
export const APPLY_MAX_ITEMS = 99;
/** Bytes of items per TransactWriteItems (DynamoDB's limit is 4 MB; an item is ≤ 400 KB). */
export const APPLY_MAX_BYTES = 3_500_000;

/** An op's share of a transaction's byte limit (deletes: a key's worth). */
export const opBytes = (op: TransactOp): number => (op.kind === "put" ? itemSize(op.item) : 2048);

/**
 * `ops` cut, in order, into transactions of at most `maxItems` ops and APPLY_MAX_BYTES bytes
 * (an op bigger than the byte limit alone still gets a transaction of its own).
 */
export function transactionParts(ops: TransactOp[], maxItems: number): TransactOp[][] {
  const parts: TransactOp[][] = [[]];
  let partBytes = 0;
  for (const op of ops) {
    const part = parts[parts.length - 1]!;
    if (part.length > 0 && (part.length >= maxItems || partBytes + opBytes(op) > APPLY_MAX_BYTES)) {
      parts.push([op]);
      partBytes = opBytes(op);
    } else {
      part.push(op);
      partBytes += opBytes(op);
    }
  }
  return parts;
}

/** Items one commit writes on the mirror: its records plus the derived live entries and ctl items. */
const put = (item: Item): TransactOp => ({ kind: "put", item: seal(item) });

function commitItems(
  records: StreamRecord[],
  tid: Tid,
  mirrorId: string,
  shards: number,
): Map<string, TransactOp> {
  const out = new Map<string, TransactOp>();
  const key = (pk: string, sk: string) => `${pk}\u0000${sk}`;
  for (const r of records) {
    const item = targetItem(r, mirrorId);
    out.set(key(item.pk, item.sk), put(item));
  }
  const change = changeItemFor(
    mirrorId,
    shards,
    tid,
    records.map((r) => targetItem(r, mirrorId)),
  );
  out.set(key(change.pk, change.sk), put(change));
  const history = records.filter((r) => r.pk.startsWith("dh#"));
  const dirOf = (r: StreamRecord) => r.pk.slice(3);
  for (const r of history)
    if (r.item.dtid === tid) {
      const entry = entryKey(mirrorId, dirOf(r), String(r.item.name));
      out.set(key(entry.pk, entry.sk), put({ ...entry, dtid: tid }));
      if (r.item.type === "dir") {
        const ctl = ctlKey(mirrorId, String(r.item.ino));
        out.set(key(ctl.pk, ctl.sk), { kind: "delete", key: ctl });
      }
    }
  for (const r of history)
    if (r.item.ctid === tid && r.item.dtid === undefined) {
      const entry = entryKey(mirrorId, dirOf(r), String(r.item.name));
      out.set(key(entry.pk, entry.sk), put({ ...entry, ino: r.item.ino!, type: r.item.type!, ctid: tid }));
      if (r.item.type === "dir") {
        const ctl = ctlKey(mirrorId, String(r.item.ino));
        out.set(key(ctl.pk, ctl.sk), put({ ...ctl, parent: dirOf(r), name: String(r.item.name) }));
      }
    }
  return out;
}

/**
 * Apply one page (records already fetched and their chunks already placed). Returns the new state.
 * `store.transact` is the only write; every one of them keeps the invariants in the module header.
 */
export async function applyPage(
  transact: (ops: TransactOp[]) => Promise<void>,
  state: MirrorState,
  page: StreamPage,
  where: string,
  stats: ApplyStats,
  /** Items per transaction (tests lower it to exercise commits applied in parts). */
  maxItems = APPLY_MAX_ITEMS,
): Promise<MirrorState> {
  const MAX_ITEMS = Math.min(APPLY_MAX_ITEMS, Math.max(1, maxItems));
  const sync = String(state.item.sync);
  const commits: Array<{ tid: Tid; records: StreamRecord[] }> = [];
  for (const r of page.records) {
    checkRecord(r, where);
    if (r.tid <= sync) continue; // already applied (an overlapping page)
    if (r.tid > page.upto)
      throw strataError("ECORRUPT", `stream page from ${where} holds a record above its upto`, {
        tid: r.tid,
      });
    const last = commits[commits.length - 1];
    if (last && last.tid === r.tid) last.records.push(r);
    else if (last && last.tid > r.tid)
      throw strataError("ECORRUPT", `stream page from ${where} is not in TID order`, { tid: r.tid });
    else commits.push({ tid: r.tid, records: [r] });
  }

  let current = state;
  const commitState = async (ops: TransactOp[], next: Record<string, unknown>) => {
    const prev = current.item;
    const item = { ...prev, ...next } as Item;
    if (next.pending === undefined) delete item.pending;
    const sealed = seal(item);
    try {
      await transact([
        ...ops,
        {
          kind: "put",
          item: sealed,
          condition: {
            op: "and",
            of: [
              { op: "eq", attr: "sync", value: String(prev.sync) },
              prev.pending === undefined
                ? { op: "attrNotExists", attr: "pending" }
                : { op: "eq", attr: "pending", value: String(prev.pending) },
            ],
          },
        },
      ]);
    } catch (err) {
      if (isStrataError(err, "ECONFLICT") && err.details.reasons?.at(-1))
        throw strataError(
          "ECONFLICT",
          `mirror ${String(prev.name)} was changed by another run while this one applied; run it again`,
          { mirror: prev.name },
          err,
        );
      throw err;
    }
    stats.transactions++;
    current = { ...current, item: sealed };
  };

  let group = new Map<string, TransactOp>();
  let groupBytes = 0;
  let groupLast: Tid | undefined;
  const flush = async (syncTo: Tid) => {
    await commitState([...group.values()], { sync: syncTo, pending: undefined });
    group = new Map();
    groupBytes = 0;
    groupLast = undefined;
  };
  for (const c of commits) {
    const items = commitItems(c.records, c.tid, current.id, current.shards);
    stats.commits++;
    stats.records += c.records.length;
    const ops = [...items.values()];
    const bytes = ops.reduce((n, op) => n + opBytes(op), 0);
    const fresh = [...items.keys()].filter((k) => !group.has(k)).length;
    if (group.size + fresh <= MAX_ITEMS && groupBytes + bytes <= APPLY_MAX_BYTES) {
      for (const [k, v] of items) group.set(k, v);
      groupBytes += bytes;
      groupLast = c.tid;
      continue;
    }
    if (groupLast !== undefined) await flush(groupLast);
    if (items.size <= MAX_ITEMS && bytes <= APPLY_MAX_BYTES) {
      group = items;
      groupBytes = bytes;
      groupLast = c.tid;
      continue;
    }
    // One commit bigger than a transaction: parts, `pending` until the last one lands.
    const parts = transactionParts(ops, MAX_ITEMS);
    for (let i = 0; i < parts.length; i++)
      await commitState(
        parts[i]!,
        i === parts.length - 1 ? { sync: c.tid, pending: undefined } : { pending: c.tid },
      );
  }
  const end = page.upto > String(current.item.sync) ? page.upto : String(current.item.sync);
  if (group.size > 0 || end > String(current.item.sync)) await flush(end);
  return current;
}
