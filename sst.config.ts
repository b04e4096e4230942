/// <reference path="./.sst/platform/config.d.ts" />

// Wires the stacks together. No top-level imports: SST evaluates this file before installing
// its platform, so each stack is imported inside run().
export default $config({
  app(input) {
    return {
      name: "strata",
      removal: input?.stage === "production" ? "retain" : "remove",
      protect: input?.stage === "production",
      home: "aws",
    };
  },
  async run() {
    const { metadataTable } = await import("./stacks/metadata");
    const { api, volumeBucket } = await import("./stacks/api");
    await import("./stacks/workflows");
    await import("./stacks/schedules");
    return { table: metadataTable.name, api: api.url, volume: volumeBucket.name };
  },
});
