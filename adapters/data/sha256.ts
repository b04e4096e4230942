/**
 * SHA-256 for chunk addresses through node:crypto: about 3× WebCrypto's `crypto.subtle` on one
 * 8 MiB chunk here (no copy of the input, SHA-NI used directly), at the price of running on the
 * event loop (~6 ms per 8 MiB chunk). Entry points on Node inject it: `createDataPlane({ sha256: nodeSha256 })`.
 */
import { createHash } from "node:crypto";
import type { Sha256 } from "../../core/data/api.ts";

export const nodeSha256: Sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
