import type { IngestOptions, IngestSummary, RejectRecord } from '../../ingest/index.js';
import { UsageError } from '../../common/errors.js';
import { terminalSafe } from '../../common/terminal.js';
import { defineCommand, EXIT, type Io } from '../command.js';
import { dataFlag, s3ReadFlags, s3ReadOptions } from '../common-flags.js';
import { bool, choice, integer, time } from '../flags.js';
import { MAX_REJECTS } from '../../ingest/reject.js';
import { formatCount, ProgressBar } from '../progress.js';

const flags = {
  data: dataFlag,
  format: choice({ choices: ['auto', 'access-log', 'cloudtrail'], default: 'auto', value: 'F', help: 'auto (told by content), access-log or cloudtrail' }),
  force: bool({ help: 're-read sources already ingested, replacing their rows' }),
  strict: bool({ help: 'commit nothing and exit 3 if any line is rejected' }),
  'max-rejects': integer({ min: 0, max: 1_000_000_000, default: MAX_REJECTS, help: 'rejected lines kept in the rejects file per source; the rest are counted' }),
  ...s3ReadFlags,
  since: time({ help: "s3:// only: list and read only the objects whose key dates (AWS's delivery\nlayouts) fall in the window, give or take a day" }),
  until: time({ help: 's3:// only: the end of that window' }),
} as const;

export const ingestCommand = defineCommand({
  name: 'ingest',
  summary: 'parse access logs and CloudTrail into the Parquet dataset',
  usage: 'SOURCE... [options]',
  description: `
Parse S3 server access logs and CloudTrail events into a typed Parquet
dataset that DuckDB, Athena, Spark and pandas read
(DIR/access_log/date=YYYY-MM-DD/*.parquet, DIR/cloudtrail/date=.../*.parquet).

SOURCE is a file, a folder (read recursively; hidden files, and s3sift.yaml,
the config, passed over), - for stdin, or s3://bucket/prefix (every object
under it; one already ingested, same key and ETag, is passed over without
being downloaded; credentials and region from the standard AWS chain,
--profile, --region, --endpoint-url for any S3-compatible store). Gzip is recognised by content, whatever the name.
The format is told by content too: JSON is CloudTrail, in any of its shapes
(log files {"Records":[...]} as delivered under AWSLogs/, one record per line,
a JSON array, EventBridge "AWS API Call via CloudTrail" events, CloudTrail
Lake CSV exports); the rest is read as server access logs.

Every line or record is accounted for: ingested, rejected (written with file,
line or record number, and reason to DIR/rejects/*.ndjson), or skipped on
purpose (blank lines, CloudTrail digest files, Insights records). A source
already in the dataset is passed over; one that changed since (or with
--force) replaces its earlier rows. A run killed at any moment leaves no
partial file; the next run finishes or discards its work.`,
  flags,
  notes: `
Exit codes: 0 done (also with rejects), 2 bad arguments or unreadable source
(a source that fails part-way is named; the rest is committed and the next
run reads it again), 3 --strict and something was rejected.`,
  examples: [
    's3sift ingest ./logs/ --data ./s3sift-data',
    'aws s3 cp s3://my-log-bucket/2025-03-10-00-00-00-ABC - | s3sift ingest -',
    's3sift ingest access.log.gz --strict',
    's3sift ingest ./AWSLogs/111122223333/CloudTrail/ --data ./s3sift-data',
    's3sift ingest s3://my-trail-bucket/AWSLogs/111122223333/CloudTrail/ --since 2025-03-01 --profile audit',
  ],
  async run({ flags: f, positionals }, io) {
    if (positionals.length === 0) throw new UsageError('ingest needs at least one SOURCE (a file, a folder, - for stdin, or s3://bucket/prefix)');
    const summary = await ingestWithProgress(positionals, { data: f.data, format: f.format, force: f.force, strict: f.strict, maxRejects: f['max-rejects'], s3: s3ReadOptions(f, io) }, io);
    io.stdout.write(renderSummary(summary, f.data) + '\n');
    if (!summary.strictFailed && summary.files.length + summary.passed.length > 0) {
      const { datasetOverview } = await import('../overview.js');
      io.stdout.write((await datasetOverview(f.data)) + '\n');
    }
    if (summary.strictFailed) {
      for (const r of summary.firstRejects) io.stderr.line(rejectLine(r));
      io.stderr.write(`error: --strict: ${formatCount(summary.rejected)} line(s) or record(s) rejected; nothing was committed\n`);
      return EXIT.strict;
    }
    return reportUnreadable(summary, io);
  },
});

/** Sources that could not be read to the end: one error line each, and exit 2 (the rest is committed). */
export function reportUnreadable(s: IngestSummary, io: Io): number {
  if (s.unreadable.length === 0) return EXIT.ok;
  for (const u of s.unreadable) io.stderr.line(`error: ${u.name}: ${u.reason}`);
  io.stderr.write(`error: ${formatCount(s.unreadable.length)} source(s) could not be read to the end; the rest is committed, and the next run reads them again\n`);
  return EXIT.usage;
}

/** Ingest with a progress bar (on a TTY) and warnings on stderr; shared by ingest and analyze. */
export async function ingestWithProgress(sources: string[], opts: Pick<IngestOptions, 'data' | 'format' | 'force' | 'strict' | 'maxRejects' | 's3'>, io: Io): Promise<IngestSummary> {
  const { ingest } = await import('../../ingest/index.js');
  const bar = new ProgressBar(io.raw.stderr);
  try {
    return await ingest(sources, {
      ...opts,
      stdin: io.stdin,
      onProgress: (p) => bar.update(p),
      onWarning: (m) => {
        bar.done();
        io.stderr.line(`warning: ${m}`);
      },
    });
  } finally {
    bar.done();
  }
}

/** A rejected line as the summary and --strict show it: where, and why. */
const rejectLine = (r: RejectRecord): string => `${r.source_file}:${r.line}: ${r.reason}`;

/** The human summary of a run, each line escaped for a terminal (source names and reasons come from the logs). */
export function renderSummary(s: IngestSummary, data: string): string {
  const out: string[] = [];
  if (s.recovered) out.push(`finished the interrupted run ${s.recovered} first`);
  const files = `${formatCount(s.sources)} source${s.sources === 1 ? '' : 's'}`;
  out.push(
    `read ${formatCount(s.lines)} lines and records from ${files}: ${formatCount(s.rows)} ingested, ` +
      `${formatCount(s.rejected)} rejected, ${formatCount(s.skipped)} skipped` +
      (s.skipped > 0 ? ` (${Object.entries(s.skippedWhy).map(([why, n]) => `${formatCount(n)} ${why}${n === 1 ? '' : 's'}`).join(', ')})` : '') +
      (s.seconds > 0 ? ` in ${s.seconds.toFixed(1)} s` : ''),
  );
  for (const [table, rows] of Object.entries(s.byTable)) {
    const n = s.files.filter((f) => f.startsWith(table + '/')).length;
    out.push(`  ${table}: ${formatCount(rows)} rows in ${n} new Parquet file${n === 1 ? '' : 's'}`);
  }
  if (s.replaced.length) out.push(`  replaced the earlier rows of: ${s.replaced.join(', ')}`);
  if (s.compactable.length) {
    const [first] = s.compactable as [IngestSummary['compactable'][number]];
    const more = s.compactable.length > 1 ? ` and ${s.compactable.length - 1} more date partition(s)` : '';
    out.push(`  note: ${first.partition} holds ${formatCount(first.files)} small Parquet files${more}: \`s3sift compact --data ${data}\` merges them, so queries open fewer files`);
  }
  const reasons = new Map<string, number>();
  for (const p of s.passed) {
    const r = p.reason.startsWith('same content') ? 'duplicate content' : p.reason;
    reasons.set(r, (reasons.get(r) ?? 0) + 1);
  }
  for (const [r, n] of reasons) out.push(`  passed over ${formatCount(n)} source${n === 1 ? '' : 's'}: ${r}${r === 'already ingested' ? ' (--force to re-read)' : ''}`);
  if (s.rejected > 0 && !s.strictFailed) {
    out.push(`  rejects: ${data}/${s.rejectsFile}`);
    if (s.rejectsNotKept > 0) out.push(`    (${formatCount(s.rejectsNotKept)} of them counted but not kept: past --max-rejects for their source)`);
    for (const r of s.firstRejects.slice(0, 5)) out.push(`    ${rejectLine(r)}`);
  }
  return out.map(terminalSafe).join('\n');
}
