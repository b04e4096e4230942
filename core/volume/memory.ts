/**
 * `MemoryVolumeDriver`: a volume held in a Map — the reference driver for unit tests of layers
 * above volumes (the engine, the data path) and for the Volume wrapper's own tests. Pure, no I/O.
 * It passes the conformance suite (except the memory-bounded case: it holds every body by design).
 */
import { collectBytes } from "../bytes.ts";
import { StrataError } from "../errors.ts";
import { compareUtf8 } from "../text.ts";
import type {
  DriverGetOptions,
  DriverPutOptions,
  GetResult,
  ListPage,
  ObjectInfo,
  PutBody,
  VolumeCapabilities,
  VolumeDriver,
} from "./port.ts";

interface Stored {
  bytes: Uint8Array;
  crc32c: number;
  metadata: Record<string, string>;
  lastModified: Date;
}

export class MemoryVolumeDriver implements VolumeDriver {
  readonly capabilities: VolumeCapabilities = {
    atomicCreateOnly: true,
    serverSideCopy: true,
    nativeCrc32c: false,
    maxObjectSize: 2 ** 31,
    listOrder: "utf8",
  };
  readonly objects = new Map<string, Stored>();

  constructor(readonly name = "memory") {}

  async put(key: string, body: PutBody, options: DriverPutOptions): Promise<ObjectInfo> {
    const bytes = await collectBytes(body, options.signal);
    // Check and store with no await in between: racing create-only puts have one winner.
    if (options.ifNoneMatch && this.objects.has(key)) throw this.exists(key);
    const stored = {
      bytes,
      crc32c: body.crc32c(),
      metadata: { ...options.metadata },
      lastModified: new Date(),
    };
    this.objects.set(key, stored);
    return this.info(key, stored);
  }

  async get(key: string, options: DriverGetOptions): Promise<GetResult> {
    const stored = this.find(key);
    const start = Math.min(options.range?.start ?? 0, stored.bytes.length);
    const end = Math.min(options.range?.end ?? stored.bytes.length, stored.bytes.length);
    const slice = stored.bytes.subarray(start, Math.max(start, end));
    async function* body(): AsyncGenerator<Uint8Array> {
      const step = 1024 * 1024;
      for (let at = 0; at < slice.length; at += step) yield slice.subarray(at, at + step);
    }
    return { info: this.info(key, stored), body: body() };
  }

  async head(key: string): Promise<ObjectInfo> {
    return this.info(key, this.find(key));
  }

  async list(prefix: string, options: { cursor?: string; limit?: number } = {}): Promise<ListPage> {
    const limit = Math.min(options.limit ?? 1000, 1000);
    const keys = [...this.objects.keys()]
      .filter(
        (k) => k.startsWith(prefix) && (options.cursor === undefined || compareUtf8(k, options.cursor) > 0),
      )
      .sort(compareUtf8);
    const page = keys.slice(0, limit);
    const entries = page.map((key) => ({ key, size: this.objects.get(key)!.bytes.length }));
    return keys.length > limit ? { entries, cursor: page[page.length - 1]! } : { entries };
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  async copy(sourceKey: string, targetKey: string, options: { ifNoneMatch: boolean }): Promise<ObjectInfo> {
    const stored = this.find(sourceKey);
    if (options.ifNoneMatch && this.objects.has(targetKey)) throw this.exists(targetKey);
    const copy = { ...stored, metadata: { ...stored.metadata }, lastModified: new Date() };
    this.objects.set(targetKey, copy);
    return this.info(targetKey, copy);
  }

  private find(key: string): Stored {
    const stored = this.objects.get(key);
    if (!stored) {
      throw new StrataError("ENOENT", `volume \`${this.name}\` has no object ${JSON.stringify(key)}`, {
        details: { volume: this.name, key },
      });
    }
    return stored;
  }

  private exists(key: string): StrataError {
    return new StrataError(
      "EEXIST",
      `volume \`${this.name}\`: key ${JSON.stringify(key)} already exists and the put was create-only`,
      { details: { volume: this.name, key } },
    );
  }

  private info(key: string, stored: Stored): ObjectInfo {
    return {
      key,
      size: stored.bytes.length,
      crc32c: stored.crc32c,
      metadata: { ...stored.metadata },
      lastModified: stored.lastModified,
    };
  }
}
