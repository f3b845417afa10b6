/**
 * The app's one error boundary: each error type to its HTTP status and the
 * contract's envelope `{"ok": false, "error", "status"}`. No stack reaches
 * a client; an internal error's line goes to the server's log, escaped.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { DatasetError, DetectionError, InputError, QueryError, S3siftError, UsageError, describe } from '../common/errors.js';
import { terminalLines } from '../common/terminal.js';
import { SandboxError } from './sandbox.js';

/** DuckDB's error for a file it cannot read (a Parquet file removed or damaged under the server). */
const IO_ERROR = /^IO Error:|^Invalid Input Error: .*(parquet|magic bytes)/i;

export interface Mapped {
  status: number;
  message: string;
  /** Whether it goes to the server's log (the client sees only "internal error"). */
  log: boolean;
}

/** The status and message an error answers with. */
export function mapError(err: unknown): Mapped {
  if (err instanceof HTTPException) return { status: err.status, message: err.message || 'request refused', log: false };
  if (err instanceof SandboxError) return { status: err.status, message: err.message, log: false };
  // Bad parameters, SQL or detections the request named: the client's to fix.
  if (err instanceof UsageError || err instanceof QueryError || err instanceof DetectionError) return { status: 400, message: describe(err), log: false };
  if (err instanceof InputError) return { status: 422, message: describe(err), log: false };
  // The dataset cannot be used now (locked, its manifest unreadable, a file gone): the server's, not the request's; try again later.
  if (err instanceof DatasetError) return { status: 503, message: `the dataset cannot be read now: ${describe(err)}`, log: true };
  if (err instanceof S3siftError) return { status: 400, message: describe(err), log: false };
  // DuckDB's text names a file of the server's (a path, a bucket's name in a folder): the log has it, the client only the status.
  if (err instanceof Error && IO_ERROR.test(err.message)) return { status: 503, message: 'the dataset cannot be read now: a file of it changed or was damaged under the server (the server log names it)', log: true };
  return { status: 500, message: 'internal error (see the server log)', log: true };
}

/** The boundary for `app.onError`: `log` receives one escaped line per logged error. */
export function errorBoundary(log: (line: string) => void): (err: Error, c: Context) => Response {
  return (err, c) => {
    const m = mapError(err);
    // Its text may quote log content (a bucket name, say): escaped, like every line s3sift writes to a terminal.
    if (m.log) log(terminalLines(`${m.status === 500 ? 'internal error' : `error ${m.status}`} on ${c.req.method} ${c.req.path}: ${m.status === 500 && err.stack ? err.stack : describe(err)}`));
    return c.json({ ok: false, error: m.message, status: m.status }, m.status as 500);
  };
}
