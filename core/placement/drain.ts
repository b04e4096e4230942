/** Object-level drain: the chunk objects still on a draining volume moved to another volume. */

import { instanceKey } from "../data/chunk-items.ts";
import { presentItem, recordAfterSettle, recordPresent } from "../data/chunks.ts";
import { isStrataError, StrataError } from "../errors.ts";
import { type PlacementContext, presentInstances } from "./context.ts";
import { copyChunk, verify } from "./steps.ts";

/** Names of the volumes being drained. */
export async function drainingVolumes(ctx: PlacementContext): Promise<string[]> {
  return (await ctx.volumes.list()).filter((v) => v.state === "draining").map((v) => v.name);
}

/**
 * Move every chunk object still on a draining volume to another volume (for chunks no live file
 * placement moved: old versions' chunks, unreferenced ones awaiting vacuum): copy to the
 * cheapest active volume unless a present instance exists elsewhere, verify, record, then
 * delete from the draining volume. Returns how many objects left it.
 */
export async function evacuate(
  ctx: PlacementContext,
  volumeName: string,
  options: { limit?: number } = {},
): Promise<number> {
  const records = await ctx.volumes.list();
  const source = await ctx.volumes.volume(volumeName);
  const targets = records
    .filter((v) => v.state === "active")
    .sort((a, b) => (a.cost ?? 1) - (b.cost ?? 1) || (a.name < b.name ? -1 : 1));
  const names = records.map((v) => v.name);
  let moved = 0;
  for await (const page of source.listAll("chunks/")) {
    for (const entry of page) {
      if (options.limit !== undefined && moved >= options.limit) return moved;
      const sha = entry.key.slice(entry.key.lastIndexOf("/") + 1);
      const present = (await presentInstances(ctx, [sha], names)).get(sha)!;
      const elsewhere = [...present].filter((v) => v !== volumeName);
      if (elsewhere.length === 0) {
        const target = targets[0];
        if (!target)
          throw new StrataError(
            "EUNAVAIL",
            `cannot drain \`${volumeName}\`: no active volume to move chunk ${sha} to; add one`,
            {
              details: { volume: volumeName },
            },
          );
        const info = await source.head(entry.key);
        const targetVolume = await ctx.volumes.volume(target.name);
        await copyChunk(ctx, sha, info.size, info.crc32c, [volumeName], target.name);
        await verify(ctx, {
          pfs: "",
          path: `(volume ${volumeName})`,
          chunks: [[sha, info.size, info.crc32c]],
          copies: [[sha, target.name]],
        });
        const item = presentItem(
          { chunk: sha, size: info.size, crc32c: info.crc32c },
          target.name,
          ctx.clock(),
        );
        const failed = await recordPresent(ctx.store, [item], ctx.clock());
        if (failed.length > 0)
          await recordAfterSettle(ctx.store, failed, (n) => (n === target.name ? targetVolume : undefined), {
            clock: ctx.clock,
          });
      }
      try {
        await ctx.store.delete(instanceKey(sha, volumeName));
      } catch (err) {
        if (!isStrataError(err, "ECONFLICT")) throw err;
      }
      await source.delete(entry.key).catch((err) => {
        if (!isStrataError(err, "ENOENT")) throw err;
      });
      moved++;
    }
  }
  return moved;
}
