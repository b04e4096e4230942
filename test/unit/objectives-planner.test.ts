import { describe, expect, it } from "vitest";
import { parseObjectives } from "../../core/objectives/language.ts";
import { type FileFacts, planPlacement, type VolumeFacts } from "../../core/objectives/planner.ts";

const NOW = Date.UTC(2026, 10, 21);
const DAY = 86_400_000;
const VOLUMES: VolumeFacts[] = [
  { name: "local", kind: "local", site: "home", cloud: "onprem", class: "fast", cost: 0, state: "active" },
  { name: "s3", kind: "s3", site: "aws-eu", cloud: "aws", class: "durable", cost: 2, state: "active" },
  {
    name: "azure",
    kind: "azure",
    site: "azure-eu",
    cloud: "azure",
    class: "durable",
    cost: 3,
    state: "active",
  },
  { name: "gcs", kind: "gcs", site: "gcs-eu", cloud: "gcp", class: "archive", cost: 1, state: "active" },
];

function file(over: Partial<FileFacts> = {}): FileFacts {
  return { path: "/show/shot42/a.exr", size: 1000, mtimeMs: NOW, atimeMs: NOW, uid: 1000, tags: {}, ...over };
}

function plan(levels: Array<[string, string]>, f = file(), volumes = VOLUMES, current?: string[]) {
  return planPlacement({
    file: f,
    levels: levels.map(([path, text]) => ({ path, objectives: parseObjectives(text) })),
    volumes,
    defaultVolume: "local",
    now: NOW,
    ...(current ? { current } : {}),
  });
}

describe("placement planner", () => {
  it("no objective: one copy on the PFS default volume", () => {
    const p = plan([]);
    expect(p.desired).toEqual(["local"]);
    expect(p.reason).toContain("default volume");
  });

  it("the default volume draining or excluded: the best other eligible volume", () => {
    const draining = VOLUMES.map((v) => (v.name === "local" ? { ...v, state: "draining" as const } : v));
    expect(plan([], file(), draining).desired).toEqual(["gcs"]); // cheapest
    expect(plan([["/", "exclude volume:local"]]).desired).toEqual(["gcs"]);
  });

  it("place N picks N matching volumes, cheapest first; keep adds to the union", () => {
    expect(plan([["/", "place 2 on class:durable"]]).desired).toEqual(["azure", "s3"]);
    expect(plan([["/", "place 1 on class:durable"]]).desired).toEqual(["s3"]);
    expect(plan([["/", "place 1 on class:durable\nkeep 1 copies on fast"]]).desired).toEqual(["local", "s3"]);
  });

  it("volumes already holding the file are kept before cheaper ones (no needless moves)", () => {
    expect(plan([["/", "place 1 on class:durable"]], file(), VOLUMES, ["azure"]).desired).toEqual(["azure"]);
  });

  it("prefer outranks cost and current holdings", () => {
    expect(
      plan([["/", "place 1 on class:durable\nprefer azure-eu"]], file(), VOLUMES, ["s3"]).desired,
    ).toEqual(["azure"]);
  });

  it("conditions on tags (inherited), path, size, age and owner", () => {
    const text = 'when tag:render-site = "gcs-eu" place 1 on site:gcs-eu';
    expect(plan([["/show", text]], file({ tags: { "render-site": "gcs-eu" } })).desired).toEqual(["gcs"]);
    expect(plan([["/show", text]], file({ tags: { "render-site": "aws-eu" } })).desired).toEqual(["local"]);
    expect(plan([["/", 'when path ~ "/show/**/*.exr" place 1 on cloud:aws']]).desired).toEqual(["s3"]);
    expect(plan([["/", 'when path ~ "/other/**" place 1 on cloud:aws']]).desired).toEqual(["local"]);
    expect(plan([["/", "when size >= 1KB place 1 on cloud:aws"]]).desired).toEqual(["s3"]);
    expect(plan([["/", "when size > 1KB place 1 on cloud:aws"]]).desired).toEqual(["local"]);
    expect(
      plan([["/", "when atime > 7d place 1 on cloud:aws"]], file({ atimeMs: NOW - 8 * DAY })).desired,
    ).toEqual(["s3"]);
    expect(plan([["/", "when owner != 1000 place 1 on cloud:aws"]]).desired).toEqual(["local"]);
  });

  it("a tag-valued selector maps the tag to a site; an unset tag makes the rule not apply", () => {
    const text = "when tag:render-site place 1 on site:$tag:render-site";
    expect(plan([["/show", text]], file({ tags: { "render-site": "azure-eu" } })).desired).toEqual(["azure"]);
    expect(plan([["/show", "place 1 on site:$tag:render-site"]]).desired).toEqual(["local"]);
  });

  it("an unsatisfied tag-valued rule names the site the file's tag asks for", () => {
    const text = "when tag:render-site place 1 on site:$tag:render-site";
    const p = plan([["/show", text]], file({ tags: { "render-site": "gcs-mars" } }));
    expect(p.desired).toEqual([]);
    expect(p.unsatisfied).toEqual([
      { statement: text, at: "/show", wanted: 1, found: 0, wants: "site:gcs-mars" },
    ]);
  });

  it("statements accumulate from the root down; override drops what is inherited", () => {
    const levels: Array<[string, string]> = [
      ["/", "place 1 on volume:local"],
      ["/show", "place 1 on cloud:gcp"],
    ];
    expect(plan(levels).desired).toEqual(["gcs", "local"]);
    expect(plan([...levels, ["/show/shot42", "override\nplace 1 on cloud:aws"]]).desired).toEqual(["s3"]);
    const p = plan([...levels, ["/show/shot42", "override\nplace 1 on cloud:aws"]]);
    expect(p.effective.map((s) => s.at)).toEqual(["/show/shot42"]);
  });

  it("after D move to: an old enough file wants only that class", () => {
    const text = "place 2 on class:durable\nafter 30d move to archive\nafter 365d move to fast";
    expect(plan([["/", text]], file({ mtimeMs: NOW - 10 * DAY })).desired).toEqual(["azure", "s3"]);
    expect(plan([["/", text]], file({ mtimeMs: NOW - 40 * DAY })).desired).toEqual(["gcs"]);
    expect(plan([["/", text]], file({ mtimeMs: NOW - 400 * DAY })).desired).toEqual(["local"]);
  });

  it("a rule that finds too few volumes is reported; nothing eligible gives an empty set", () => {
    const p = plan([["/", "place 3 on class:durable"]]);
    expect(p.desired).toEqual(["azure", "s3"]);
    expect(p.unsatisfied).toEqual([
      { statement: "place 3 on class:durable", at: "/", wanted: 3, found: 2, wants: "class:durable" },
    ]);
    const none = plan([["/", "place 1 on site:mars"]]);
    expect(none.desired).toEqual([]);
    expect(none.unsatisfied[0]!.found).toBe(0);
  });

  it("draining volumes are never chosen", () => {
    const draining = VOLUMES.map((v) => (v.name === "s3" ? { ...v, state: "draining" as const } : v));
    expect(plan([["/", "place 1 on class:durable"]], file(), draining, ["s3"]).desired).toEqual(["azure"]);
  });
});
