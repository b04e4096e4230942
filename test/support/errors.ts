import { isStrataError, type StrataError } from "../../core/errors.ts";

/**
 * The StrataError `promise` rejects with, for asserting its code and details. Fails the test when
 * the promise resolves, or rejects with anything that is not a StrataError.
 */
export async function failureOf(promise: Promise<unknown>): Promise<StrataError> {
  try {
    await promise;
  } catch (err) {
    if (isStrataError(err)) return err;
    throw new Error(`expected a StrataError, got ${String(err)}`, { cause: err });
  }
  throw new Error("expected the call to fail, it succeeded");
}

/** The StrataError code `promise` rejects with, "ok" when it resolves (anything else as its text). */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return isStrataError(err) ? err.code : String(err);
  }
  return "ok";
}
