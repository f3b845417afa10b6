import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { text as readText } from 'node:stream/consumers';
import { InputError, UsageError, describe } from '../../common/errors.js';
import { EXPORT_FORMATS } from '../../query/finding.js';
import { defineCommand, EXIT } from '../command.js';
import { checkCsvRaw, csvRawFlag, dataFlag } from '../common-flags.js';
import { bool, choice, integer, text } from '../flags.js';
import { escapingOut } from '../terminal-io.js';

const isTerminal = (s: unknown): boolean => (s as { isTTY?: boolean }).isTTY === true;

/** The SQL to run: the argument, the --file, or stdin (`-`, or no SQL with stdin not a terminal); undefined: start the shell. */
async function sqlToRun(f: { file: string | undefined; shell: boolean }, positionals: readonly string[], stdin: Readable): Promise<string | undefined> {
  const given = positionals.join(' ').trim();
  if (f.shell) {
    if (given || f.file !== undefined) throw new UsageError('--shell reads its SQL from the terminal: give no SQL and no --file');
    return undefined;
  }
  if (f.file !== undefined) {
    if (given) throw new UsageError('give the SQL either as an argument or with --file, not both');
    try {
      return await readFile(f.file, 'utf8');
    } catch (err) {
      throw new InputError(`cannot read the SQL file ${f.file}: ${describe(err)}`);
    }
  }
  if (given === '-' || (!given && !isTerminal(stdin))) return readText(stdin);
  return given || undefined;
}

/** Rows the table shows unless told (query/export.ts DEFAULT_MAX_ROWS: not imported, so --help loads no DuckDB). */
const DEFAULT_MAX_ROWS = 40;

export const queryCommand = defineCommand({
  name: 'query',
  summary: 'ad-hoc SQL over the dataset',
  usage: '[options] [SQL | -]',
  description: `
Run SQL (DuckDB's dialect) over the dataset. The tables:
  access_log    one row per S3 server access log record
  cloudtrail    one row per CloudTrail record (any service)
  s3_requests   both in one shape: source, event_time, bucket, key, operation
                (CloudTrail API names), principal, principal_account, source_ip, ...
A table nothing was ingested into is empty, never an error. Times are UTC.
Columns and their meaning: docs/dataset.md.

The SQL comes from the argument, from --file, or from stdin (SQL given as -,
or no SQL while stdin is not a terminal). It may hold several statements
(CREATE TEMP TABLE ...; SELECT ...): they run in order, and a table shows
each result under a line naming its statement. json, ndjson, csv and arrow
hold one result: only the last statement may return rows there. A failing
statement stops the run; the error names it and how many ran before it.

With no SQL and stdin a terminal (or with --shell), an interactive shell:
a statement ends with ; (it may span lines), .help lists the dot-commands
(.tables, .schema [TABLE], .mode FORMAT, .quit), Ctrl-C cancels the
statement running or being typed, Ctrl-D leaves. Its history is kept in
~/.s3sift_history ($S3SIFT_HISTORY: another file).

--print-views prints the SQL that gives any DuckDB client (the duckdb CLI,
Python) the same tables, views and macros, with the dataset's absolute
paths.

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
    file: text({ short: 'f', value: 'FILE', help: 'read the SQL from FILE' }),
    shell: bool({ help: 'start the interactive shell (the default with no SQL and stdin a terminal)' }),
    'print-views': bool({ help: 'print the SQL that makes the same tables and views in another DuckDB client' }),
  },
  examples: [
    's3sift query "SELECT operation, count(*) FROM s3_requests GROUP BY ALL ORDER BY 2 DESC"',
    '# plain HTTP (records older than the TLS field, 24th, cannot tell: field_count < 24)',
    's3sift query --format csv "SELECT * FROM access_log WHERE tls_version IS NULL AND field_count >= 24 AND remote_ip IS NOT NULL"',
    's3sift query --format arrow "SELECT * FROM cloudtrail WHERE event_source = \'s3.amazonaws.com\'" > s3-events.arrows',
    's3sift query -f hunt.sql             # several statements, each result shown',
    'echo "SELECT count(*) FROM s3_requests" | s3sift query -',
    's3sift query                         # the interactive shell',
    's3sift query --print-views > views.sql && duckdb -init views.sql',
    's3sift query --format parquet -o requests.parquet "SELECT * FROM s3_requests WHERE event_time >= now() - INTERVAL 7 DAY"',
    's3sift query --format line "SELECT * FROM cloudtrail LIMIT 3"',
  ],
  async run({ flags: f, positionals }, io) {
    checkCsvRaw(f);
    if (f['print-views']) {
      if (positionals.length || f.file !== undefined || f.shell) throw new UsageError('--print-views prints the views only: give no SQL, --file or --shell');
      const [{ openDataset }, { viewsSql }] = await Promise.all([import('../../query/dataset.js'), import('../../query/views-sql.js')]);
      // Absolute paths: the views must read the same files from wherever the other client runs.
      const ds = await openDataset(resolve(f.data));
      try {
        io.raw.stdout.write(await viewsSql(ds));
      } finally {
        ds.close();
      }
      return EXIT.ok;
    }
    if (f['max-rows'] !== undefined && f.format !== 'table') throw new UsageError(`--max-rows goes with --format table (got --format ${f.format})`);
    const sql = await sqlToRun(f, positionals, io.stdin);
    if (sql !== undefined && !sql.trim()) throw new UsageError(`query needs the SQL to run: as one argument (quote it), with --file${f.file === undefined ? '' : ` (${f.file} is empty)`}, or on stdin`);
    const [{ openDataset, datasetReadError }, { runStatements }, { exportQuery }] = await Promise.all([import('../../query/dataset.js'), import('../query-run.js'), import('../../query/export.js')]);
    const ds = await openDataset(f.data);
    try {
      if (sql === undefined) {
        if (f.output) throw new UsageError('--output goes with SQL to run (the shell writes to the terminal)');
        const { runShell } = await import('../query-shell.js');
        await runShell({ conn: ds.conn, input: io.stdin, output: io.raw.stdout, format: f.format, csvRaw: f['csv-raw'], historyFile: historyFile(io.env), exportQuery });
      } else {
        // CSV or JSON on a terminal is read by a person: what the terminal would act on is escaped (to a pipe or file, byte for byte).
        const toTerminal = isTerminal(io.raw.stdout);
        try {
          await runStatements(ds.conn, sql, { text: io.stdout, out: { stream: toTerminal ? escapingOut(io.raw.stdout) : io.raw.stdout, isTTY: toTerminal, ...(f.output ? { path: f.output } : {}) }, format: f.format, csvRaw: f['csv-raw'],
            ...(f['max-rows'] !== undefined ? { maxRows: f['max-rows'] } : {}), exportQuery });
        } catch (err) {
          // A Parquet file DuckDB could not read: name it, rather than the statement's bare read error.
          throw (await datasetReadError(ds, err)) ?? err;
        }
      }
    } finally {
      ds.close();
    }
    return EXIT.ok;
  },
});

/** Where the shell keeps its history: $S3SIFT_HISTORY, else ~/.s3sift_history (none without a home). */
function historyFile(env: NodeJS.ProcessEnv): string | undefined {
  if (env.S3SIFT_HISTORY) return env.S3SIFT_HISTORY;
  const home = env.HOME ?? env.USERPROFILE;
  return home ? resolve(home, '.s3sift_history') : undefined;
}
