/**
 * The layer table of DESIGN.md ("Layers and folders") and "no import circles", checked by
 * dependency-cruiser in `npm test` (`npm run check:layers`; docs/architecture.md explains the
 * layers). Each rule forbids the edges a layer may NOT have; a violation names the rule, the
 * importing file and the imported one.
 *
 * There are no exceptions: the violations found when the check was introduced (issue 15: auth
 * types in functions/ and sdk/, the blob route in adapters/, embedded wiring in adapters/ and sdk/,
 * circles in core/namespace, core/mirror, functions/api and bench/) were all removed. The two
 * deliberate meeting points of layers — embedded mode — are rules of their own below, allowed
 * only as dynamic imports.
 */

/** Top-level folders that only tests, benchmarks and tooling may import. */
const TOOLING = "^(test|bench|examples|scripts)/";

/**
 * The layer rules. `from`/`to` are dependency-cruiser path conditions on repository-relative
 * paths; node builtins resolve to their own name (e.g. "node:fs" or "fs"), npm packages to
 * node_modules/….
 */
const LAYERS = [
  {
    name: "core-is-pure",
    comment:
      "core/ imports nothing outside core/: no node builtins (node:fs…), no npm packages (@aws-sdk, @azure, @google-cloud, sst…), no other layer",
    from: { path: "^core/" },
    to: { pathNot: "^core/" },
  },
  {
    name: "adapters-import-core-and-sdks",
    comment:
      "adapters/ import core/, other adapters, node builtins and the cloud SDKs: never a layer above them",
    from: { path: "^adapters/" },
    to: { path: ["^(functions|runtime|sdk|cli|stacks|standins)/", TOOLING] },
  },
  {
    name: "runtime-imports-core-adapters-sdk",
    comment:
      "runtime/ (configuration, services, entry points) imports core/, adapters/ and sdk/ (to hand out an embedded client), and the stand-ins of npm start; never functions/, cli/ or stacks/",
    from: { path: "^runtime/" },
    to: { path: ["^(cli|stacks)/", TOOLING] },
  },
  {
    name: "runtime-imports-core-adapters-sdk",
    comment:
      "runtime/ never imports functions/ — except the embedded entry point, which loads the operation registry (functions/api/) on the first client.admin call, by dynamic import: an embedded deployment is the server and its client in one process",
    from: { path: "^runtime/", pathNot: "^runtime/embedded\\.ts$" },
    to: { path: "^functions/" },
  },
  {
    name: "runtime-imports-core-adapters-sdk",
    comment:
      "the embedded entry point loads functions/api/ on demand (dynamic import) and nothing else of functions/",
    from: { path: "^runtime/embedded\\.ts$" },
    to: { path: "^functions/", pathNot: "^functions/api/" },
  },
  {
    name: "runtime-imports-core-adapters-sdk",
    comment: "the embedded entry point never imports functions/ statically",
    from: { path: "^runtime/embedded\\.ts$" },
    to: { path: "^functions/", dependencyTypesNot: ["dynamic-import"] },
  },
  {
    name: "functions-are-thin",
    comment: "functions/ import core/, adapters/ and runtime/; never cli/, stacks/ or tooling",
    from: { path: "^functions/" },
    to: { path: ["^(cli|stacks)/", TOOLING] },
  },
  {
    name: "functions-use-sdk-only-as-a-remote-client",
    comment:
      "functions/ use sdk/ only as a client of another deployment: functions/mirror/sources.ts (a mirror's source)",
    from: { path: "^functions/", pathNot: "^functions/mirror/sources\\.ts$" },
    to: { path: "^sdk/" },
  },
  {
    name: "sdk-and-cli-speak-http",
    comment:
      "sdk/ and cli/ import core/ (types, pure helpers) and talk HTTP; embedded mode comes through a separate entry point in runtime/, not through adapters/ or functions/",
    from: { path: "^(sdk|cli)/" },
    to: { path: ["^(adapters|functions|stacks|standins)/", TOOLING] },
  },
  {
    name: "sdk-and-cli-speak-http",
    comment:
      "sdk/ and cli/ reach runtime/ only as connect({ local }) does: a dynamic import of the embedded entry point (runtime/embedded.ts) from sdk/connect.ts, so a remote-only client loads no adapter",
    from: { path: "^(sdk|cli)/", pathNot: "^sdk/connect\\.ts$" },
    to: { path: "^runtime/" },
  },
  {
    name: "sdk-and-cli-speak-http",
    comment:
      "sdk/connect.ts reaches runtime/ only through the embedded entry point, and only by dynamic import",
    from: { path: "^sdk/connect\\.ts$" },
    to: { path: "^runtime/", pathNot: "^runtime/embedded\\.ts$" },
  },
  {
    name: "sdk-and-cli-speak-http",
    comment: "sdk/connect.ts loads the embedded entry point on demand (dynamic import), never statically",
    from: { path: "^sdk/connect\\.ts$" },
    to: { path: "^runtime/embedded\\.ts$", dependencyTypesNot: ["dynamic-import"] },
  },
  {
    name: "cli-uses-the-sdk",
    comment: "the sdk does not import the cli",
    from: { path: "^sdk/" },
    to: { path: "^cli/" },
  },
  {
    name: "gateways-are-clients",
    comment:
      "gateways/ (the S3 gateway, the WebDAV server, the FUSE mount) are clients like the CLI: they import core/ (types, pure helpers), sdk/ (connect, remote or embedded) and their protocol packages; never adapters/, functions/, runtime/, stacks/ or standins/",
    from: { path: "^gateways/" },
    to: { path: ["^(adapters|functions|runtime|stacks|standins|cli)/", TOOLING] },
  },
  {
    name: "gateways-are-clients",
    comment:
      "only the CLI (`strata serve`, `strata mount`), the local server (npm start starts the gateways) and tooling import gateways/; the sdk and everything below it never do",
    from: { pathNot: ["^(gateways|cli|functions/local)/", TOOLING] },
    to: { path: "^gateways/" },
  },
  {
    name: "stacks-import-sst-and-core-data",
    comment:
      "stacks/ (SST components) import sst, other stacks and core/ definitions as data (workflows, the table): no handler code, adapters or SDKs",
    from: { path: "^stacks/" },
    to: { pathNot: ["^stacks/", "^core/", "(^|/)node_modules/(sst|@pulumi)/"] },
  },
  {
    name: "standins-are-tooling",
    comment:
      "standins/ (stand-in servers for tests and npm start) import core/ helpers and their own packages; only tooling, runtime/ and the local server (functions/local/) start them",
    from: { pathNot: ["^(standins|runtime|functions/local)/", TOOLING] },
    to: { path: "^standins/" },
  },
  {
    name: "standins-import-core-only",
    comment: "standins/ import core/ and npm packages, not the layers they stand in for",
    from: { path: "^standins/" },
    to: { path: ["^(adapters|functions|runtime|sdk|cli|stacks)/", TOOLING] },
  },
  {
    name: "sst-config-has-no-top-level-imports",
    comment: "sst.config.ts imports stacks inside run(): SST evaluates it before installing its platform",
    from: { path: "^sst\\.config\\.ts$" },
    to: { dependencyTypesNot: ["dynamic-import"] },
  },
];

const CIRCLES = {
  name: "no-import-circles",
  comment: "no import circles anywhere (a circle has no layer order: split the shared part out)",
  from: {},
  to: { circular: true },
};

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [...LAYERS, CIRCLES].map((rule) => ({ severity: "error", ...rule })),
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: ["(^|/)\\.sst/", "(^|/)\\.strata/"] },
    tsPreCompilationDeps: true,
    combinedDependencies: false,
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".mjs", ".js", ".cjs", ".d.ts", ".json"],
    },
  },
};
