/**
 * What operations run against: `Services` (runtime/services.ts builds them, one per deployment
 * process: runtime/embedded.ts, runtime/local.ts, runtime/lambda.ts, or a test).
 */

export type { Schedules, Services } from "../../runtime/services.ts";
