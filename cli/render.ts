/** Human rendering of results whose shape the CLI does not own (status, registry operations). */
import { columns } from "./format.ts";

function cell(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/**
 * An array of objects → a table with a header of their keys; an object → "key  value" lines;
 * anything else → its string form.
 */
export function renderValue(value: unknown): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return ["(none)"];
    if (value.every((v) => typeof v === "object" && v !== null && !Array.isArray(v))) {
      const keys = [...new Set(value.flatMap((v) => Object.keys(v as object)))];
      return columns([
        keys.map((k) => k.toUpperCase()),
        ...value.map((v) => keys.map((k) => cell((v as Record<string, unknown>)[k]))),
      ]);
    }
    return value.map(cell);
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return ["(empty)"];
    return columns(entries.map(([k, v]) => [k, cell(v)]));
  }
  return value === undefined ? [] : [cell(value)];
}
