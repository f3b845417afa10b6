import { QueryError, UsageError, describe } from '../../common/errors.js';
import { QUERY_FORMATS } from '../../query/finding.js';
import { defineCommand, EXIT } from '../command.js';
import { checkCsvRaw, csvRawFlag, dataFlag } from '../common-flags.js';
import { choice } from '../flags.js';

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
Columns and their meaning: docs/dataset.md.`,
  flags: {
    data: dataFlag,
    format: choice({ choices: QUERY_FORMATS, default: 'table', value: 'F', help: 'table, json, ndjson, csv, or arrow (an Arrow IPC stream)' }),
    'csv-raw': csvRawFlag,
  },
  examples: [
    's3sift query "SELECT operation, count(*) FROM s3_requests GROUP BY ALL ORDER BY 2 DESC"',
    '# plain HTTP (records older than the TLS field, 24th, cannot tell: field_count < 24)',
    's3sift query --format csv "SELECT * FROM access_log WHERE tls_version IS NULL AND field_count >= 24 AND remote_ip IS NOT NULL"',
    's3sift query --format arrow "SELECT * FROM cloudtrail WHERE event_source = \'s3.amazonaws.com\'" > s3-events.arrows',
  ],
  async run({ flags: f, positionals }, io) {
    const sql = positionals.join(' ').trim();
    if (!sql) throw new UsageError('query needs the SQL to run, as one argument (quote it)');
    checkCsvRaw(f);
    const [{ openDataset, datasetReadError }, { rowsOf }, { formatRows }] = await Promise.all([import('../../query/dataset.js'), import('../../query/rows.js'), import('../../query/format.js')]);
    const ds = await openDataset(f.data);
    try {
      let result;
      try {
        result = rowsOf(await ds.conn.runAndReadAll(sql));
      } catch (err) {
        throw (await datasetReadError(ds, err)) ?? new QueryError(describe(err));
      }
      const out = await formatRows(result, f.format, { raw: f['csv-raw'] });
      // The table is for a person; every other format is written byte for byte.
      if (typeof out === 'string' && f.format === 'table') io.stdout.write(out);
      else io.raw.stdout.write(out);
    } finally {
      ds.close();
    }
    return EXIT.ok;
  },
});
