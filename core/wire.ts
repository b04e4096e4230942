/**
 * The JSON wire form of strata values, shared by the HTTP API (functions/api) and the remote SDK
 * (sdk/remote.ts): plain JSON plus two tagged values, so stats, versions and snapshots round-trip
 * exactly:
 *
 *   Uint8Array → { "$bytes": "<base64>" }      Date → { "$date": "<ISO 8601>" }
 *
 * Pure (no node:* imports): base64 by core/bytes.ts.
 */
import { base64ToBytes, bytesToBase64 } from "./bytes.ts";

/** A value → JSON-safe form (Uint8Array and Date tagged; everything else as JSON has it). */
export function toWire(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: bytesToBase64(value) };
  if (value instanceof Date) return { $date: value.toISOString() };
  if (Array.isArray(value)) return value.map(toWire);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toWire(v);
    return out;
  }
  return value;
}

/** Inverse of {@link toWire}. */
export function fromWire(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && typeof obj.$bytes === "string") {
      const bytes = base64ToBytes(obj.$bytes);
      if (bytes) return bytes;
    }
    if (keys.length === 1 && typeof obj.$date === "string") return new Date(obj.$date);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = fromWire(v);
    return out;
  }
  return value;
}
