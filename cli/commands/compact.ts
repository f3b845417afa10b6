import { UsageError } from '../../common/errors.js';
import { defineCommand, EXIT } from '../command.js';
import { dataFlag } from '../common-flags.js';
import { bool, choice, text } from '../flags.js';
import { formatCount } from '../progress.js';

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** A date partition's folder name: a day, or the partition of records without an event time. */
const DATE = /^(\d{4}-\d\d-\d\d|__HIVE_DEFAULT_PARTITION__)$/;

export const compactCommand = defineCommand({
  name: 'compact',
  summary: "merge each date partition's small Parquet files into one",
  usage: '[options]',
  description: `
Each ingest run writes one Parquet file per table and date, so a dataset fed
every few minutes gathers many small files a day, and every query opens
them all. compact rewrites each date partition's small files (under 32 MB)
into one (or one per 256 MB of them), the rows unchanged: the same columns,
values and row count, checked before the commit.

It is a commit like an ingest's: journaled, and under the dataset's write
lock (an ingest started meanwhile is refused, naming the compact's pid).
Readers never see a partial state: detect, query and serve read the files
the manifest names, which the commit swaps in one step. The merged
files stay on disk for an hour for readers that opened the dataset before,
and a later ingest or compact removes them. ingest says when a partition it
wrote to holds 16 small files or more.`,
  flags: {
    data: dataFlag,
    table: choice({ choices: ['access_log', 'cloudtrail'], value: 'T', help: "only this table's partitions" }),
    date: text({ value: 'YYYY-MM-DD', help: 'only this date partition' }),
    'dry-run': bool({ help: 'say what would be merged; change nothing (a commit an earlier run left\ninterrupted is still finished first, as by any run)' }),
  },
  notes: `
Exit codes: 0 done (also when nothing needed merging), 2 bad arguments, or
the dataset cannot be read or written (nothing is changed).`,
  examples: ['s3sift compact --data ./s3sift-data', 's3sift compact --table cloudtrail --date 2025-03-10 --dry-run'],
  async run({ flags: f, positionals }, io) {
    if (positionals.length) throw new UsageError(`compact takes no arguments (got ${positionals[0]}); the dataset is --data`);
    if (f.date !== undefined && !DATE.test(f.date)) throw new UsageError(`--date takes a day as YYYY-MM-DD (got ${f.date})`);
    const [{ checkDataset }, { compact }] = await Promise.all([import('../../ingest/dataset.js'), import('../../ingest/compact.js')]);
    await checkDataset(f.data);
    const dry = f['dry-run'];
    const s = await compact({
      data: f.data, table: f.table, date: f.date, dryRun: dry,
      onMerge: (m) => io.stderr.line(`${dry ? 'would merge' : 'merged'} ${m.partition}: ${formatCount(m.files.length)} files (${mb(m.bytes)}, ${formatCount(m.rows)} rows)${dry ? '' : ` into ${m.into} (${mb(m.intoBytes)})`}`),
    });
    if (s.recovered) io.stdout.line(`finished the interrupted run ${s.recovered} first`);
    const files = s.merges.reduce((n, m) => n + m.files.length, 0);
    const partitions = new Set(s.merges.map((m) => m.partition)).size;
    if (s.merges.length === 0) io.stdout.line(`nothing to compact in ${f.data}: no date partition holds two small Parquet files that can be merged`);
    else if (dry) io.stdout.line(`would merge ${formatCount(files)} files into ${formatCount(s.merges.length)} in ${formatCount(partitions)} date partition(s); nothing was changed`);
    else {
      io.stdout.line(`compacted ${f.data}: ${formatCount(files)} files into ${formatCount(s.merges.length)} in ${formatCount(partitions)} date partition(s) in ${s.seconds.toFixed(1)} s`);
      io.stdout.line(`  the merged files stay for readers that opened the dataset before, until ${s.retiredUntil ?? ''}; a later ingest or compact removes them`);
    }
    const apart = s.keptApart.names + s.keptApart.kinds;
    if (apart) {
      io.stdout.line(`  ${formatCount(apart)} small file(s) left as they are, in partitions with other small files:`);
      if (s.keptApart.names) {
        io.stdout.line(`    ${formatCount(s.keptApart.names)} hold rows of a source whose name other files' rows carry for another source (stdin \`-\`, or one`);
        io.stdout.line('    relative path given from two folders): merged, replacing one source would drop the others\' rows');
      }
      if (s.keptApart.kinds) {
        io.stdout.line(`    ${formatCount(s.keptApart.kinds)} are the only small file of their kind in their partition: CloudTrail management events and data`);
        io.stdout.line('    events are kept in files apart, and so are files of other columns (another s3sift version wrote them) and files no source names');
      }
    }
    if (s.removed) io.stdout.line(`  removed ${formatCount(s.removed)} file(s) merged or replaced more than an hour ago`);
    return EXIT.ok;
  },
});
