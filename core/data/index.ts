/** The data plane: file contents as chunks on volumes (see api.ts and docs/data.md). */
export type * from "./api.ts";
export { chunkObjectKey } from "./chunk-items.ts";
export {
  createDataPlane,
  DATA_DEFAULTS,
  type DataPlaneAdmin,
  type DataPlaneOptions,
  type Extent,
  type FileToPlace,
  type VolumeEntry,
  webCryptoSha256,
} from "./plane.ts";
