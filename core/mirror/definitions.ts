/**
 * Mirror definitions: what `mirror.run <name>` and the mirror schedule run.
 *
 * pk `mirrordef`, sk `<name>`: {target, source} — the mirror PFS and how to reach its source
 * (`{kind: "local", pfs}` in this deployment, `{kind: "http", url, pfs, token?}` in another one).
 * A remote token is stored in the metadata table as given: use a read-only token scoped to the
 * source PFS (a secret store is not wired yet).
 */
import { isStrataError, strataError } from "../errors.ts";
import type { Namespace } from "../namespace/api.ts";
import { seal, verify } from "../namespace/records.ts";
import { engineOf } from "./stream.ts";

export type SourceSpec =
  | { kind: "local"; pfs: string }
  | { kind: "http"; url: string; pfs: string; token?: string };

export interface MirrorDefinition {
  name: string;
  target: string;
  source: SourceSpec;
}

const DEF_PK = "mirrordef";

export function sourceLabel(spec: SourceSpec): string {
  return spec.kind === "local" ? `local:${spec.pfs}` : `${spec.url}#${spec.pfs}`;
}

export async function putMirrorDefinition(ns: Namespace, def: MirrorDefinition): Promise<void> {
  const engine = engineOf(ns);
  try {
    await engine.store.put(
      seal({ pk: DEF_PK, sk: def.name, target: def.target, source: { ...def.source } }),
      {
        condition: { op: "notExists" },
      },
    );
  } catch (err) {
    if (isStrataError(err, "ECONFLICT"))
      throw strataError("EEXIST", `mirror ${def.name} already exists`, { mirror: def.name });
    throw err;
  }
}

export async function getMirrorDefinition(ns: Namespace, name: string): Promise<MirrorDefinition> {
  const item = verify(await engineOf(ns).store.get({ pk: DEF_PK, sk: name }));
  if (!item)
    throw strataError("ENOENT", `no mirror named ${name}; create it with mirror.create`, { mirror: name });
  return { name, target: String(item.target), source: item.source as unknown as SourceSpec };
}

export async function listMirrorDefinitions(ns: Namespace): Promise<MirrorDefinition[]> {
  const engine = engineOf(ns);
  const out: MirrorDefinition[] = [];
  let cursor: string | undefined;
  do {
    const page = await engine.store.query(DEF_PK, cursor ? { cursor } : {});
    for (const item of page.items)
      out.push({
        name: item.sk,
        target: String(item.target),
        source: verify(item).source as unknown as SourceSpec,
      });
    cursor = page.cursor;
  } while (cursor);
  return out;
}
