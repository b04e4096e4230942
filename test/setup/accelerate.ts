// Every test worker uses the same CRC32C as a deployment would: the native one when present.
import { installNativeCrc32c } from "../../adapters/crc32c-native.ts";

installNativeCrc32c();
