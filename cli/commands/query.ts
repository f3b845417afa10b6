import { QueryError, UsageError, describe } from '../../common/errors.js';
import { openDataset } from '../../query/dataset.js';
import { formatRows, QUERY_FORMATS } from '../../query/format.js';
import { rowsOf } from '../../query/rows.js';
import { oneOf, type Command } from '../command.js';
import { DEFAULT_DATA } from './ingest.js';

export const queryCommand: Command = {
  name: 'query',
  summary: 'ad-hoc SQL over the dataset',
  help: `Usage: s3sift query [--data DIR] [--format table|json|ndjson|csv|arrow] SQL

Run SQL (DuckDB's dialect) over the dataset. The tables:
  access_log    one row per S3 server access log record
  cloudtrail    one row per CloudTrail record (any service)
  s3_requests   both in one shape: source, event_time, bucket, key, operation
                (CloudTrail API names), principal, principal_account, source_ip, ...
A table nothing was ingested into is empty, never an error. Times are UTC.

Options:
  --data DIR      dataset folder (default ${DEFAULT_DATA})
  --format F      table (default), json, ndjson, csv, or arrow (Arrow IPC stream)
  -h, --help      show this help

Examples:
  s3sift query "SELECT operation, count(*) FROM s3_requests GROUP BY ALL ORDER BY 2 DESC"
  s3sift query --format csv "SELECT * FROM access_log WHERE tls_version IS NULL AND remote_ip IS NOT NULL"
  s3sift query --format arrow "SELECT * FROM cloudtrail" > cloudtrail.arrows`,
  options: {
    data: { type: 'string', default: DEFAULT_DATA },
    format: { type: 'string', default: 'table' },
  },
  async run(values, positionals, io) {
    const format = oneOf('format', values.format, QUERY_FORMATS);
    const sql = positionals.join(' ').trim();
    if (!sql) throw new UsageError('query needs the SQL to run, as one argument (quote it)');
    const ds = await openDataset(values.data as string);
    try {
      let result;
      try {
        result = rowsOf(await ds.conn.runAndReadAll(sql));
      } catch (err) {
        throw new QueryError(describe(err));
      }
      const out = formatRows(result, format);
      io.stdout.write(out);
    } finally {
      ds.close();
    }
    return 0;
  },
};
