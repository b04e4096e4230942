/**
 * The API's request and response as plain data, apart from the handler (functions/api/handle.ts)
 * so that layers the handler uses (the idempotency records) can name them without importing it.
 */
export interface ApiRequest {
  method: string;
  /** Path without the query string, e.g. "/v1/pfs/default/ops/fs.stat". */
  path: string;
  /** Header names lowercase. */
  headers: Record<string, string | undefined>;
  body?: string;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}
