import { UsageError } from '../../common/errors.js';
import { EXPORT_FORMATS } from '../../query/finding.js';
import { defineCommand, EXIT } from '../command.js';
import { checkCsvRaw, csvRawFlag, dataFlag } from '../common-flags.js';
import { choice, integer, text } from '../flags.js';

/** Rows the table shows unless told (query/export.ts DEFAULT_MAX_ROWS: not imported, so --help loads no DuckDB). */
const DEFAULT_MAX_ROWS = 40;

export const queryCommand = defineCommand({
  name: 'query',
  summary: 'ad-hoc SQL over the dataset',
  usage: '[options] SQL',
  description: `
Run SQL (DuckDB's dialect) over the dataset. The tables:
  access_log    one row per S3 server access log record
  cloudtrail    one row per CloudTrail record (any service)
  s3_requests   both in one shape: source, event_time, bucket, key, operation
                (CloudTrail API names), principal, principal_account, source_ip, ...
A table nothing was ingested into is empty, never an error. Times are UTC.
Columns and their meaning: docs/dataset.md.

Any size of result: the table shows the first --max-rows rows and says how
many there were; csv, json, ndjson and parquet are written by DuckDB's own
writers, arrow batch by batch, all in flat memory. parquet and arrow are
binary: not to a terminal (use --output FILE or redirect). --output FILE is
written beside FILE first and renamed, so a failed run leaves no partial file.`,
  flags: {
    data: dataFlag,
    format: choice({ choices: EXPORT_FORMATS, default: 'table', value: 'F', help: 'table, line (one column a line), json, ndjson, csv, arrow (an Arrow IPC\nstream) or parquet' }),
    output: text({ short: 'o', value: 'FILE', help: 'write the result to FILE (any format) instead of standard output' }),
    'max-rows': integer({ min: 1, max: 1_000_000, value: 'N', help: `with --format table: show the first N rows (default ${DEFAULT_MAX_ROWS})` }),
    'csv-raw': csvRawFlag,
  },
  examples: [
    's3sift query "SELECT operation, count(*) FROM s3_requests GROUP BY ALL ORDER BY 2 DESC"',
    '# plain HTTP (records older than the TLS field, 24th, cannot tell: field_count < 24)',
    's3sift query --format csv "SELECT * FROM access_log WHERE tls_version IS NULL AND field_count >= 24 AND remote_ip IS NOT NULL"',
    's3sift query --format arrow "SELECT * FROM cloudtrail WHERE event_source = \'s3.amazonaws.com\'" > s3-events.arrows',
    's3sift query --format parquet -o requests.parquet "SELECT * FROM s3_requests WHERE event_time >= now() - INTERVAL 7 DAY"',
    's3sift query --format line "SELECT * FROM cloudtrail LIMIT 3"',
  ],
  async run({ flags: f, positionals }, io) {
    const sql = positionals.join(' ').trim();
    if (!sql) throw new UsageError('query needs the SQL to run, as one argument (quote it)');
    checkCsvRaw(f);
    if (f['max-rows'] !== undefined && f.format !== 'table') throw new UsageError(`--max-rows goes with --format table (got --format ${f.format})`);
    const [{ openDataset }, { exportQuery }] = await Promise.all([import('../../query/dataset.js'), import('../../query/export.js')]);
    const ds = await openDataset(f.data);
    try {
      // Every format is written as it comes: the table and line formats escape log content for a terminal themselves.
      const stdout = io.raw.stdout;
      await exportQuery(ds.conn, sql, f.format, { stream: stdout, isTTY: stdout.isTTY === true, ...(f.output ? { path: f.output } : {}) },
        { csvRaw: f['csv-raw'], ...(f['max-rows'] !== undefined ? { maxRows: f['max-rows'] } : {}) });
    } finally {
      ds.close();
    }
    return EXIT.ok;
  },
});
