import { version } from '../../common/version.js';
import { UsageError } from '../../common/errors.js';
import { openDataset } from '../../query/dataset.js';
import { parseParamFlags, runDetections, selectDetections, type Finding } from '../../query/detect.js';
import { loadDetections, SEVERITIES, type Severity } from '../../query/detection.js';
import { FINDING_FORMATS, formatFindings } from '../../query/format.js';
import { oneOf, timeFlag, type Command, type Io } from '../command.js';
import { DEFAULT_DATA, ingestWithProgress, renderSummary, reportUnreadable, S3_OPTIONS, s3FlagSpecs, s3Flags } from './ingest.js';

const DETECT_OPTIONS = `  --data DIR          dataset folder (default ${DEFAULT_DATA})
  --only ID,...       run only these detections
  --since T           only events at or after T (ISO 8601: 2025-03-12, 2025-03-12T08:00:00Z)
  --until T           only events before T
  --param NAME=VALUE  set a detection parameter (ID.NAME=VALUE for one detection); repeatable
  --rules DIR         also load the detection files in DIR (an id already loaded is replaced); repeatable
  --format F          table (the report, default), json, ndjson, csv, or ocsf (OCSF Detection Findings)
  --fail-on SEV       exit 1 if a finding is at least SEV (info, low, medium, high, critical)
  -h, --help          show this help`;

/** The flags that pick detections and shape findings, shared with 'athena detect'. */
export const findingFlags = {
  only: { type: 'string', multiple: true },
  since: { type: 'string' },
  until: { type: 'string' },
  param: { type: 'string', multiple: true },
  rules: { type: 'string', multiple: true },
  format: { type: 'string', default: 'table' },
  'fail-on': { type: 'string' },
} as const;

const detectFlags = { data: { type: 'string', default: DEFAULT_DATA }, ...findingFlags } as const;

/** True when a finding is at least `failOn` severe (exit 1). */
export function reachesFailOn(findings: readonly Finding[], failOn: Severity | undefined): boolean {
  if (!failOn) return false;
  return findings.some((f) => SEVERITIES.indexOf(f.severity) >= SEVERITIES.indexOf(failOn));
}

/** detect's work, shared with analyze: run the library, print findings, exit 1 past --fail-on. */
async function detect(values: Record<string, unknown>, io: Io): Promise<number> {
  const format = oneOf('format', values.format, FINDING_FORMATS);
  const failOn = values['fail-on'] === undefined ? undefined : oneOf('fail-on', values['fail-on'], SEVERITIES);
  const since = timeFlag('since', values.since);
  const until = timeFlag('until', values.until);
  if (since && until && since >= until) throw new UsageError('--since must be before --until');
  const only = ((values.only as string[] | undefined) ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  const overrides = parseParamFlags((values.param as string[] | undefined) ?? []);
  const detections = selectDetections(await loadDetections((values.rules as string[] | undefined) ?? []), only);
  const ds = await openDataset(values.data as string, { since, until });
  let findings: Finding[];
  let runs;
  try {
    ({ findings, runs } = await runDetections(ds, detections, overrides));
  } finally {
    ds.close();
  }
  io.stdout.write(formatFindings(findings, format, { detections, runs, version: version() }));
  return reachesFailOn(findings, failOn) ? 1 : 0;
}

export const detectCommand: Command = {
  name: 'detect',
  summary: 'run the detection library over the dataset, print findings',
  help: `Usage: s3sift detect [options]

Run the saved S3 security detections ('s3sift detections list') over the
dataset and print their findings: by default a report grouped by severity and
detection, with the evidence for each (who, what, from where, which file and
line, and the detection's details).

Options:
${DETECT_OPTIONS}

Exit codes: 0 done, 1 a finding at or above --fail-on, 2 bad arguments, a bad
detection file or failing SQL.

Examples:
  s3sift detect
  s3sift detect --only presigned-url-long-expiry --param max_expires_s=86400
  s3sift detect --since 2025-03-11 --format ndjson --fail-on high
  s3sift detect --rules ./my-rules --format ocsf > findings.ocsf.ndjson`,
  options: detectFlags,
  run: (values, _positionals, io) => detect(values, io),
};

export const analyzeCommand: Command = {
  name: 'analyze',
  summary: 'ingest, then detect: the main batch job',
  help: `Usage: s3sift analyze SOURCE... [options]

Ingest SOURCE... (files, folders, .gz, - for stdin; access logs and CloudTrail
told apart by content, see 's3sift ingest --help'), then run the detection
library over the whole dataset and print the findings.

Options:
${DETECT_OPTIONS}
${S3_OPTIONS}

--since and --until also narrow the s3:// listing: only objects whose key
dates fall in the window (give or take a day) are read.

With --format table the ingest summary comes first on stdout; with the other
formats it goes to stderr, so stdout holds only findings.

Exit codes: 0 done, 1 a finding at or above --fail-on, 2 bad arguments or an
unreadable source (a source that fails part-way is named, the rest is
ingested and analysed, and the next run reads it again).

Examples:
  s3sift analyze ./logs/ ./AWSLogs/
  s3sift analyze samples/ --fail-on high
  s3sift analyze s3://my-log-bucket/access/ --since 2025-03-01 --region eu-west-1`,
  options: { ...detectFlags, ...s3FlagSpecs },
  async run(values, positionals, io) {
    if (positionals.length === 0) throw new UsageError('analyze needs at least one SOURCE (a file, a folder, or - for stdin)');
    oneOf('format', values.format, FINDING_FORMATS);
    const summary = await ingestWithProgress(positionals, { data: values.data as string, format: 'auto', force: false, strict: false, s3: s3Flags(values, io) }, io);
    (values.format === 'table' ? io.stdout : io.stderr).write(renderSummary(summary, values.data as string) + '\n\n');
    const found = await detect(values, io);
    return reportUnreadable(summary, io) || found;
  },
};
