/**
 * Stream sources for the mirror operations and schedules: a PFS of this deployment (in process)
 * or of another deployment over its HTTP API (`mirror.info`, `mirror.read`, `mirror.chunk`,
 * `mirror.full`; records travel in the stream's JSON form, core/mirror/format.ts).
 */
import { crc32c } from "../../core/crc32c.ts";
import { strataError } from "../../core/errors.ts";
import {
  type ChunkRef,
  checkPage,
  type FullPage,
  fromJsonValue,
  localSource,
  type MirrorTarget,
  type SourceInfo,
  type SourceSpec,
  type StreamPage,
  type StreamRecord,
  type StreamSource,
  sourceLabel,
} from "../../core/mirror/index.ts";
import { remoteDeployment } from "../../sdk/remote.ts";
import type { Services } from "../api/services.ts";

/**
 * What mirror runs need: `Services`, or the schedule Lambdas' deps (runtime/lambda.ts `lambdaDeps`).
 * The runs take THE volume registry and ask it at each page, so a volume added at runtime is a
 * mirror target at once and a removed one is not read.
 */
export type MirrorDeps = Pick<Services, "namespace" | "store" | "clock" | "volumes">;

/** A source PFS of another deployment, through its HTTP API with a read token for that PFS. */
export function httpSource(spec: { url: string; pfs: string; token?: string }): StreamSource {
  const remote = remoteDeployment({
    endpoint: spec.url,
    pfs: spec.pfs,
    ...(spec.token ? { token: spec.token } : {}),
  });
  const admin = remote.admin;
  if (!admin)
    throw strataError("EINVAL", `the remote deployment at ${spec.url} offers no admin calls`, {
      url: spec.url,
    });
  const call = <T>(op: string, input: Record<string, unknown>) =>
    admin.call<T>(op, { pfs: spec.pfs, ...input });
  return {
    label: sourceLabel({ kind: "http", ...spec }),
    info: () => call<SourceInfo>("mirror.info", {}),
    read: async (request) => {
      const page = await call<StreamPage>("mirror.read", { ...request });
      return checkPage({ ...page, records: fromJsonValue(page.records) as StreamRecord[] }, spec.url);
    },
    // Bytes by presigned GET straight from a volume of the source (checked against the
    // extent's size and CRC32C); through the API only when no URL works.
    chunk: async (ref: ChunkRef) => {
      const { sources } = await call<{ sources: Array<{ url: string; headers: Record<string, string> }> }>(
        "mirror.chunk",
        { ...ref },
      );
      for (const source of sources) {
        try {
          const res = await fetch(source.url, { method: "GET", headers: source.headers });
          if (!res.ok) continue;
          const bytes = new Uint8Array(await res.arrayBuffer());
          if (bytes.length === ref.size && crc32c(bytes) === ref.crc32c) return bytes;
        } catch {
          // unreachable volume: the next source, then the API
        }
      }
      const out = await call<{ bytes: unknown }>("mirror.chunk", { ...ref, inline: true });
      const bytes = fromJsonValue(out.bytes) as Uint8Array;
      if (bytes.length !== ref.size || crc32c(bytes) !== ref.crc32c)
        throw strataError("ECORRUPT", `chunk ${ref.chunk} from ${spec.url} has the wrong bytes`, {
          chunk: ref.chunk,
        });
      return bytes;
    },
    // mirror.full is paged (≤ 1 MB a reply): every page, all as of the first page's TID.
    full: async () => {
      let page = await call<FullPage>("mirror.full", {});
      const records = fromJsonValue(page.records) as StreamRecord[];
      const first = page;
      while (page.next !== undefined) {
        page = await call<FullPage>("mirror.full", { cursor: page.next });
        records.push(...(fromJsonValue(page.records) as StreamRecord[]));
      }
      return { source: first.source, upto: first.upto, records };
    },
  };
}

export async function sourceFor(deps: MirrorDeps, spec: SourceSpec): Promise<StreamSource> {
  if (spec.kind === "http") return httpSource(spec);
  return localSource({
    ns: deps.namespace,
    pfs: spec.pfs,
    store: deps.store,
    volumes: deps.volumes,
  });
}

/** The mirror's deployment as core/mirror takes it (its volume registry included). */
export async function mirrorTarget(deps: MirrorDeps): Promise<MirrorTarget> {
  return { ns: deps.namespace, volumes: deps.volumes, clock: deps.clock };
}
