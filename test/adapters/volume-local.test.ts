import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { corruptLocalObject, LocalVolumeDriver } from "../../adapters/volumes/local.ts";
import { testVolume } from "../conformance/volume.ts";

testVolume("local", async () => {
  const root = await mkdtemp(join(tmpdir(), "strata-volume-local-"));
  const driver = new LocalVolumeDriver({ name: "local-test", root });
  return {
    driver,
    corruptAtRest: (key) => corruptLocalObject(driver, key),
    dispose: () => rm(root, { recursive: true, force: true }),
  };
});
