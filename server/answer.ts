/**
 * An answer in the format the client accepts: the JSON envelope (default),
 * CSV, NDJSON or Arrow IPC. The rows are already within the row and byte
 * caps (`budget.ts`), so no answer grows past them in any format.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { arrowStream } from '../query/arrow.js';
import { csv } from '../query/format.js';
import type { QueryResult } from './sandbox.js';

export interface Extra {
  /** Fields added to the JSON envelope. */
  json?: Record<string, unknown>;
  /** Headers added to every format. */
  headers?: Record<string, string>;
}

/** `r` as the client's `Accept` asks; `truncated` (and why) in the envelope, or in `x-truncated` headers. */
export function respond(c: Context, r: QueryResult, extra: Extra = {}): Response {
  const accept = c.req.header('accept') ?? '';
  const names = r.columns.map((x) => x.name);
  const headers: Record<string, string> = { 'x-truncated': String(r.truncated), ...extra.headers };
  if (r.truncatedBy) headers['x-truncated-by'] = r.truncatedBy;
  if (accept.includes('application/vnd.apache.arrow.stream')) {
    return c.body(arrowStream(r) as unknown as ArrayBuffer, 200, { 'content-type': 'application/vnd.apache.arrow.stream', ...headers });
  }
  if (accept.includes('text/csv')) {
    // Text cells a spreadsheet would run as a formula get a ' in front; ?csv=raw, for programs, keeps them exact.
    const mode = c.req.query('csv');
    if (mode !== undefined && mode !== 'raw') throw new HTTPException(400, { message: `csv: only csv=raw is known (got ${JSON.stringify(mode.slice(0, 40))})` });
    return c.body(csv(names, r.rows, { raw: mode === 'raw' }), 200, { 'content-type': 'text/csv; charset=utf-8', ...headers });
  }
  if (accept.includes('application/x-ndjson')) {
    return c.body(r.rows.map((x) => JSON.stringify(x)).join('\n') + (r.rows.length ? '\n' : ''), 200, { 'content-type': 'application/x-ndjson', ...headers });
  }
  const truncatedBy = r.truncatedBy ? { truncated_by: r.truncatedBy } : {};
  return c.json({ ok: true, columns: r.columns, rows: r.rows, truncated: r.truncated, ...truncatedBy, ...extra.json }, 200, extra.headers);
}
