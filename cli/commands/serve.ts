import { UsageError } from '../../common/errors.js';
import { DEFAULTS } from '../../server/app.js';
import { serve } from '../../server/serve.js';
import type { Command } from '../command.js';
import { DEFAULT_DATA } from './ingest.js';

function int(flag: string, v: unknown, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} must be a whole number of at least ${min} (got ${JSON.stringify(v)})`);
  return n;
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'the HTTP API and the dashboard page',
  help: `Usage: s3sift serve [--data DIR] [--host 127.0.0.1] [--port 8080] [--token T]

Serve the dataset over HTTP for dashboards, notebooks and scripts, with a
built-in dashboard page at /. Routes (JSON envelope {"ok":true,"columns","rows",
"truncated"}; Accept: text/csv, application/x-ndjson or
application/vnd.apache.arrow.stream for the other formats):

  GET  /health                         {"ok":true}
  GET  /api/tables                     tables, columns, types, row counts
  GET  /api/detections                 the detection library
  GET  /api/findings?detection=&since=&until=&severity=
  POST /api/query  {"sql": "SELECT ...", "params": {...}}   one read-only SELECT
  GET  /api/queries, /api/queries/NAME?since=&until=&bucket=   saved queries

User SQL runs in a sandbox: one SELECT, no file, network, extension or
settings access, a time limit and a row cap.

Options:
  --data DIR          dataset folder (default ${DEFAULT_DATA})
  --host H            address to bind (default 127.0.0.1; another needs --token)
  --port N            port (default 8080; 0 picks a free one)
  --token T           require Authorization: Bearer T (default: $S3SIFT_TOKEN)
  --timeout-ms N      longest a query may run (default ${DEFAULTS.timeoutMs})
  --row-cap N         most rows a query returns (default ${DEFAULTS.rowCap})
  --max-concurrent N  queries running at once (default ${DEFAULTS.maxConcurrent}); up to ${DEFAULTS.maxQueued} more wait, then 429
  -h, --help          show this help

Examples:
  s3sift serve
  S3SIFT_TOKEN=s3cret s3sift serve --host 0.0.0.0 --port 8443
  curl -s localhost:8080/api/query -d '{"sql":"SELECT count(*) FROM s3_requests"}'`,
  options: {
    data: { type: 'string', default: DEFAULT_DATA },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8080' },
    token: { type: 'string' },
    'timeout-ms': { type: 'string' },
    'row-cap': { type: 'string' },
    'max-concurrent': { type: 'string' },
  },
  async run(values, positionals, io) {
    if (positionals.length) throw new UsageError(`serve takes no arguments (got ${positionals.join(' ')})`);
    const port = int('port', values.port, 0) as number;
    const token = (values.token as string | undefined) ?? io.env.S3SIFT_TOKEN;
    const s = await serve({
      data: values.data as string, host: values.host as string, port, token,
      timeoutMs: int('timeout-ms', values['timeout-ms'], 1), rowCap: int('row-cap', values['row-cap'], 1), maxConcurrent: int('max-concurrent', values['max-concurrent'], 1),
    });
    io.stderr.write(`s3sift serving ${values.data as string} at ${s.url}/ (Ctrl-C to stop)\n`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        void s.close().then(resolve);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};
