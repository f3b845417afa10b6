import { UsageError } from '../../common/errors.js';
import { version } from '../../common/version.js';
import { SEVERITIES, type Finding, type Severity } from '../../query/finding.js';
import { defineCommand, EXIT, type Io } from '../command.js';
import { checkCsvRaw, checkWindow, dataFlag, findingFlags, intelFlag, loadIntelFlag, s3ReadFlags, s3ReadOptions } from '../common-flags.js';
import { bool, type FlagValues } from '../flags.js';
import { stdoutFor } from '../terminal-io.js';
import { ingestWithProgress, renderSummary, reportUnreadable } from './ingest.js';

const detectFlags = {
  data: dataFlag, ...findingFlags, intel: intelFlag,
  timing: bool({ help: 'after the findings, print on stderr how long each detection took (its SQL\nand its coverage SQL), slowest first' }),
} as const;

/** True when a finding is at least `failOn` severe (exit 1). */
export function reachesFailOn(findings: readonly Finding[], failOn: Severity | undefined): boolean {
  if (!failOn) return false;
  return findings.some((f) => SEVERITIES.indexOf(f.severity) >= SEVERITIES.indexOf(failOn));
}

type DetectArgs = FlagValues<typeof detectFlags>;

/**
 * Everything detect checks before it reads data: the window, the detection
 * files, --only and --param (analyze does this before it ingests, so a typo
 * stops the run before anything is committed).
 */
async function prepare(f: DetectArgs, io: Io): Promise<(io: Io) => Promise<number>> {
  checkWindow(f.since, f.until);
  checkCsvRaw(f);
  const [{ openDataset }, { checkOverrides, parseParamFlags, runDetections, selectDetections, timingReport }, { loadDetections }, { formatFindings, coverageNotice }] = await Promise.all([
    import('../../query/dataset.js'), import('../../query/detect.js'), import('../../query/detection.js'), import('../../query/format.js'),
  ]);
  const overrides = parseParamFlags(f.param);
  const detections = selectDetections(await loadDetections(f.rules), f.only);
  checkOverrides(detections, overrides);
  const intel = await loadIntelFlag(f.intel, io);
  // Run the detections, print the findings, exit 1 past --fail-on.
  return async (io) => {
    const ds = await openDataset(f.data, { since: f.since, until: f.until, intel });
    let result;
    try {
      result = await runDetections(ds, detections, overrides, undefined, { ungrouped: f.ungrouped });
    } finally {
      ds.close();
    }
    stdoutFor(io, f.format).write(formatFindings(result.findings, f.format, { detections, runs: result.runs, coverage: result.coverage, version: version(), csv: { raw: f['csv-raw'] } }));
    // NDJSON, CSV and OCSF carry findings only: what was not checked goes to stderr.
    const notice = f.format === 'table' || f.format === 'json' ? null : coverageNotice(result.coverage);
    if (notice) io.stderr.line(notice);
    if (f.timing) io.stderr.write(timingReport(result) + '\n');
    return reachesFailOn(result.findings, f['fail-on']) ? EXIT.findings : EXIT.ok;
  };
}

const DETECT_NOTES = `Exit codes: 0 done, 1 a finding at or above --fail-on, 2 bad arguments, a bad
detection file or failing SQL.`;

export const detectCommand = defineCommand({
  name: 'detect',
  summary: 'run the detection library over the dataset, print findings',
  usage: '[options]',
  description: `
Run the saved S3 security detections ('s3sift detections list') over the
dataset and print their findings: by default a report grouped by severity and
detection, with the evidence for each (who, what, from where, which file and
line, and the detection's details), then what the detections could not judge
and why (NOT CHECKED: a bucket without the logs a detection needs, records
older than a field it reads). --format json has that as "coverage"; with
ndjson, csv and ocsf one line on stderr says which detections could not
judge some of the data.`,
  flags: detectFlags,
  notes: DETECT_NOTES,
  examples: [
    's3sift detect',
    's3sift detect --only presigned-url-long-expiry --param max_expires_s=86400',
    's3sift detect --since 2025-03-11 --format ndjson --fail-on high',
    's3sift detect --rules ./my-rules --format ocsf > findings.ocsf.ndjson',
    's3sift detect --intel tor-exits.csv --intel my-blocklist.txt',
    's3sift detect --timing > /dev/null',
  ],
  async run({ flags, positionals }, io) {
    if (positionals.length) throw new UsageError(`detect takes no arguments (got ${positionals.join(' ')}); to read new logs first, use 's3sift analyze SOURCE...'`);
    return (await prepare(flags, io))(io);
  },
});

export const analyzeCommand = defineCommand({
  name: 'analyze',
  summary: 'ingest, then detect: the main batch job',
  usage: 'SOURCE... [options]',
  description: `
Ingest SOURCE... (files, folders, .gz, - for stdin, s3://bucket/prefix;
access logs and CloudTrail told apart by content, see 's3sift ingest --help'),
then run the detection library over the whole dataset and print the findings.

--since and --until also narrow the s3:// listing: only objects whose key
dates fall in the window (give or take a day) are read.

With --format table the ingest summary comes first on stdout; with the other
formats it goes to stderr, so stdout holds only findings.`,
  flags: { ...detectFlags, ...s3ReadFlags },
  notes: `Exit codes: 0 done, 1 a finding at or above --fail-on, 2 bad arguments or an
unreadable source (a source that fails part-way is named, the rest is
ingested and analysed, and the next run reads it again).`,
  examples: [
    's3sift analyze ./logs/ ./AWSLogs/',
    's3sift analyze samples/ --fail-on high',
    's3sift analyze s3://my-log-bucket/access/ --since 2025-03-01 --region eu-west-1',
  ],
  async run({ flags: f, positionals }, io) {
    if (positionals.length === 0) throw new UsageError('analyze needs at least one SOURCE (a file, a folder, - for stdin, or s3://bucket/prefix)');
    const detect = await prepare(f, io);
    const summary = await ingestWithProgress(positionals, { data: f.data, format: 'auto', force: false, strict: false, s3: s3ReadOptions(f, io) }, io);
    (f.format === 'table' ? io.stdout : io.stderr).write(renderSummary(summary, f.data) + '\n\n');
    const found = await detect(io);
    return reportUnreadable(summary, io) || found;
  },
});
