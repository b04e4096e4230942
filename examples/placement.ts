/**
 * Placement on an embedded deployment: add a second volume, attach an objective that follows a
 * tag (`when tag:render-site place 1 on site:$tag:render-site`), tag a shot, wait for placement
 * to copy its chunks, see where they are and why.
 * Run: npx tsx examples/placement.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect } from "strata";

const dir = await mkdtemp(path.join(tmpdir(), "strata-placement-example-"));
const client = await connect({ local: dir });

try {
  // A second volume: another directory standing in for a render site's storage.
  await client.admin.call("volume.add", {
    name: "render-farm",
    kind: "local",
    config: { root: path.join(dir, "render-farm") },
    site: "render-farm",
    class: "local",
    cost: 1,
  });
  const { volumes } = await client.admin.call<{ volumes: { name: string; site?: string }[] }>(
    "volume.list",
    {},
  );
  console.log(`volumes: ${volumes.map((v) => `${v.name} (site ${v.site ?? "none"})`).join(", ")}`);

  // Everything keeps its copy at home; files under /show also get one at the site their
  // (inherited) render-site tag names. (Keeping the home copy also means no surplus copy to trim,
  // so the output shows the final placement at once instead of after the 60 s trim grace.)
  await client.mkdir("/show/shot42", { recursive: true });
  await client.mkdir("/show/shot43", { recursive: true });
  await client.admin.call("objective.set", { path: "/", text: "place 1 on volume:local" });
  await client.admin.call("objective.set", {
    path: "/show",
    text: "when tag:render-site place 1 on site:$tag:render-site",
  });

  // Large enough to be chunked, not inline; different bytes, as equal chunks are stored once.
  const frame = (fill: number) => new Uint8Array(512 * 1024).fill(fill);
  await client.writeFile("/show/shot42/plate.raw", frame(42));
  await client.writeFile("/show/shot43/plate.raw", frame(43));

  // Tag one shot's directory: placement copies its files to the render farm.
  await client.tags.set("/show/shot42", "render-site", "render-farm");
  const report = await client.waitForPlacement("/show/shot42/plate.raw", { timeoutMs: 15_000 });
  console.log(`placement of shot42: placed=${report.placed}, desired ${report.files[0]?.desired}`);

  const volumesOf = async (p: string) =>
    new Set((await client.placement(p)).flatMap((c) => c.instances.map((i) => `${i.volume}:${i.state}`)));
  const shot42 = await volumesOf("/show/shot42/plate.raw");
  const shot43 = await volumesOf("/show/shot43/plate.raw");
  console.log(`shot42 chunks on: ${[...shot42].join(", ")}`);
  console.log(`shot43 chunks on: ${[...shot43].join(", ")}`);
  if (!report.placed || !shot42.has("render-farm:present") || !shot42.has("local:present"))
    throw new Error("shot42 is not on render-farm");
  if ([...shot43].some((v) => v.startsWith("render-farm:"))) throw new Error("shot43 should stay home");

  // Why: the objectives that apply and the volumes they pick.
  const why = await client.admin.call<{ desired: string[]; reason: string; effective: unknown[] }>(
    "objective.explain",
    { path: "/show/shot42/plate.raw" },
  );
  console.log(`explain: desired ${why.desired.join(", ")} because ${why.reason}`);
  for (const e of why.effective) console.log(`  ${JSON.stringify(e)}`);
} finally {
  await client.close();
  await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
}
