/**
 * `client.jobs`: the deployment's jobs (docs/jobs.md) over the registry operations `job.list`,
 * `job.get`, `job.wait`, `job.cancel`, and `sweep` to start a placement sweep of the client's PFS.
 * `wait` loops over `job.wait` calls (the server waits at most 30 s per call and answers
 * ETIMEDOUT with again: true) until the job ends or `timeoutMs` passes.
 */

import { isStrataError, strataError } from "../../core/errors.ts";
import type { JobRecord } from "../../core/jobs/jobs.ts";
import type { StrataAdmin, StrataJobs } from "../types.ts";

export function jobsClient(admin: () => StrataAdmin, pfs: string): StrataJobs {
  return {
    sweep: (options = {}) => admin().call<JobRecord>("placement.sweep", { pfs, ...options }),
    list: (options = {}) => admin().call("job.list", { ...options }),
    get: (id) => admin().call<JobRecord>("job.get", { id }),
    cancel: (id) => admin().call<JobRecord>("job.cancel", { id }),
    async wait(id, options = {}) {
      const deadline = Date.now() + (options.timeoutMs ?? 600_000);
      for (;;) {
        if (options.signal?.aborted) throw strataError("EABORTED", `jobs.wait ${id}: aborted`, { job: id });
        const left = Math.max(0, deadline - Date.now());
        try {
          return await admin().call<JobRecord>("job.wait", { id, timeoutSeconds: Math.min(20, left / 1000) });
        } catch (err) {
          if (!isStrataError(err, "ETIMEDOUT") || Date.now() >= deadline) throw err;
        }
      }
    },
  };
}
