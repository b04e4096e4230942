/** Kept failing cases: the JSON files of one folder under test/regressions/. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Every `*.json` in test/regressions/<folder>/, sorted by file name, parsed as `T` (no check of its
 * shape: each harness fills in its own defaults). A missing folder is no cases.
 */
export function regressionFiles<T>(folder: string): Array<{ file: string; parsed: T }> {
  const dir = join(import.meta.dirname, "..", "regressions", folder);
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith(".json"))
      .sort();
  } catch {
    return [];
  }
  return files.map((file) => ({ file, parsed: JSON.parse(readFileSync(join(dir, file), "utf8")) as T }));
}
