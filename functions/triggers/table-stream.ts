/**
 * The cloud's change events: the metadata table's DynamoDB Stream → placement jobs, one per file.
 * Deployed as the enrichment of an EventBridge Pipe (stacks/workflows.ts): the pipe reads the
 * stream, this handler turns a batch of stream records into `[{ pfs, path }, …]`, and the pipe
 * starts one placement workflow execution per element — no Step Functions SDK call here.
 *
 * Records that mean work:
 *   INSERT `chg#<pfs id>#<shard>`        an engine commit: its written keys (entries, inode versions)
 *   any    `objective#<pfs>` / `<ino>`   objectives attached, changed or removed: that subtree
 *   MODIFY `volume` / `<name>` → draining every file of every PFS (a drain)
 * Everything else (chunk instances, placement records, cursors…) is ignored.
 */
import type { MetadataStore } from "../../core/metadata/port.ts";
import type { Namespace } from "../../core/namespace/api.ts";
import type { Placement } from "../../core/placement/index.ts";
import { type ChangeTarget, changeTargets, pathsForTargets } from "../../core/placement/orchestrator.ts";

/** DynamoDB's AttributeValue as the stream delivers it. */
export type AttributeValue =
  | { S: string }
  | { N: string }
  | { B: string }
  | { BOOL: boolean }
  | { NULL: true }
  | { L: AttributeValue[] }
  | { M: Record<string, AttributeValue> }
  | { SS: string[] }
  | { NS: string[] };

export interface StreamRecord {
  eventName?: "INSERT" | "MODIFY" | "REMOVE";
  dynamodb?: {
    Keys?: Record<string, AttributeValue>;
    NewImage?: Record<string, AttributeValue>;
    OldImage?: Record<string, AttributeValue>;
  };
}

export interface PlacementJob {
  pfs: string;
  path: string;
}

/** Files per invocation; past it the rest is left to the sweeper (the pipe's payload has limits too). */
export const MAX_JOBS = 2000;

export function fromAttribute(v: AttributeValue): unknown {
  if ("S" in v) return v.S;
  if ("N" in v) return Number(v.N);
  if ("B" in v) return v.B;
  if ("BOOL" in v) return v.BOOL;
  if ("NULL" in v) return null;
  if ("L" in v) return v.L.map(fromAttribute);
  if ("M" in v) return Object.fromEntries(Object.entries(v.M).map(([k, x]) => [k, fromAttribute(x)]));
  if ("SS" in v) return v.SS;
  return v.NS.map(Number);
}

function image(r: StreamRecord): Record<string, unknown> | undefined {
  const img = r.dynamodb?.NewImage ?? r.dynamodb?.OldImage ?? r.dynamodb?.Keys;
  return img ? Object.fromEntries(Object.entries(img).map(([k, v]) => [k, fromAttribute(v)])) : undefined;
}

export interface TableStreamDeps {
  store: MetadataStore;
  namespace: Namespace;
  placement: Placement;
}

/** The handler over its dependencies (tests feed synthesized stream records). */
export function createTableStreamHandler(deps: TableStreamDeps) {
  return async (event: StreamRecord[] | { Records: StreamRecord[] }): Promise<PlacementJob[]> => {
    const records = Array.isArray(event) ? event : event.Records;
    const pfsList = await deps.namespace.listPfs();
    const nameOf = new Map(pfsList.map((p) => [p.id, p.name]));
    const byPfs = new Map<string, ChangeTarget[]>();
    const subtrees: PlacementJob[] = [];
    for (const r of records) {
      const item = image(r);
      if (!item || typeof item.pk !== "string" || typeof item.sk !== "string") continue;
      const [kind, a] = item.pk.split("#");
      if (kind === "chg" && r.eventName === "INSERT" && a) {
        const list = byPfs.get(a) ?? [];
        list.push(...changeTargets(item.keys));
        byPfs.set(a, list);
      } else if (kind === "objective" && a) {
        // The attachment's inode: a directory's current path comes from the namespace; else the path stored with it.
        const id = pfsList.find((p) => p.name === a)?.id;
        const paths = id
          ? await pathsForTargets(deps.store, a, id, [{ kind: "inode", pfsId: id, ino: item.sk }])
          : [];
        if (paths.length === 0 && typeof item.path === "string") paths.push(item.path);
        for (const path of paths) subtrees.push({ pfs: a, path });
      } else if (item.pk === "volume" && r.eventName === "MODIFY") {
        const before = r.dynamodb?.OldImage?.state;
        const now = r.dynamodb?.NewImage?.state;
        if (
          now &&
          "S" in now &&
          now.S === "draining" &&
          !(before && "S" in before && before.S === "draining")
        )
          for (const p of pfsList) subtrees.push({ pfs: p.name, path: "/" });
      }
    }
    for (const [id, targets] of byPfs) {
      const pfs = nameOf.get(id);
      if (!pfs) continue;
      for (const path of await pathsForTargets(deps.store, pfs, id, targets)) subtrees.push({ pfs, path });
    }
    const jobs = new Map<string, PlacementJob>();
    for (const s of subtrees) {
      try {
        for await (const file of deps.placement.files(s.pfs, s.path)) {
          if (jobs.size >= MAX_JOBS) return [...jobs.values()];
          jobs.set(`${s.pfs}\u0000${file}`, { pfs: s.pfs, path: file });
        }
      } catch {
        // Removed since the change: nothing to place there.
      }
    }
    return [...jobs.values()];
  };
}

/** The Lambda entry: dependencies built once per container from the environment (runtime/lambda.ts). */
export const handler = async (
  event: StreamRecord[] | { Records: StreamRecord[] },
): Promise<PlacementJob[]> => {
  const { cloudPlacement } = await import("../../runtime/lambda.ts");
  const p = await cloudPlacement();
  return createTableStreamHandler({ store: p.store, namespace: p.namespace, placement: p.placement })(event);
};
