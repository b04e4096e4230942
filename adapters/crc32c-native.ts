/**
 * Hardware-accelerated CRC32C (SSE 4.2 / ARMv8 CRC instructions) from `@node-rs/crc32`, a
 * prebuilt native module shipped through npm. Entry points (local server, CLI, bench, tests)
 * call {@link installNativeCrc32c} once; `core/` keeps working with its portable implementation
 * where the native module is missing.
 */
import { createRequire } from "node:module";
import { crc32cUpdatePortable, useCrc32cImplementation } from "../core/crc32c.ts";

type NativeCrc32c = (input: Buffer, initialState?: number) => number;

let installed: boolean | undefined;

/** Load the native CRC32C if present; returns whether it is now in use. Idempotent. */
export function installNativeCrc32c(): boolean {
  if (installed !== undefined) return installed;
  let native: NativeCrc32c;
  try {
    native = (createRequire(import.meta.url)("@node-rs/crc32") as { crc32c: NativeCrc32c }).crc32c;
  } catch {
    installed = false;
    return false;
  }
  const update = (crc: number, bytes: Uint8Array) =>
    native(
      Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length),
      crc,
    ) >>> 0;
  // Never trust an accelerator blindly: it must agree with the portable code before it is used.
  const probe = Uint8Array.from({ length: 257 }, (_, i) => (i * 31 + 7) & 0xff);
  if (update(0x1234, probe) !== crc32cUpdatePortable(0x1234, probe)) {
    installed = false;
    return false;
  }
  useCrc32cImplementation(update);
  installed = true;
  return true;
}
