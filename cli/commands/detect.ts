import { UsageError } from '../../common/errors.js';
import { version } from '../../common/version.js';
import { SEVERITIES, type Finding, type Severity } from '../../query/finding.js';
import { defineCommand, EXIT, type Io } from '../command.js';
import { checkCsvRaw, checkWindow, dataFlag, findingFlags, intelFlag, loadIntelFlag, s3ReadFlags, s3ReadOptions } from '../common-flags.js';
import { bool, type FlagValues } from '../flags.js';
import { configFlag, loadConfigFlag, showSuppressedFlag, suppressedNotice } from '../config.js';
import { stdoutFor } from '../terminal-io.js';
import type { DetectResult, ParamOverrides } from '../../query/detect.js';
import type { Detection } from '../../query/detection.js';
import type { IntelSet } from '../../query/intel.js';
import type { SuppressRule } from '../../query/config.js';
import type { Suppression } from '../../query/suppress.js';
import { ingestWithProgress, renderSummary, reportUnreadable } from './ingest.js';

const detectFlags = {
  data: dataFlag, ...findingFlags, intel: intelFlag, config: configFlag, 'show-suppressed': showSuppressedFlag,
  timing: bool({ help: 'after the findings, print on stderr how long each detection took (its SQL\nand its coverage SQL, and the CPU time of both), slowest first' }),
  new: bool({ help: "print only findings not seen before (by finding_id) in the dataset's findings\nstate, and those reopened; every run records what it found there ('s3sift findings')" }),
} as const;

/** True when a finding is at least `failOn` severe (exit 1). */
export function reachesFailOn(findings: readonly Finding[], failOn: Severity | undefined): boolean {
  if (!failOn) return false;
  return findings.some((f) => SEVERITIES.indexOf(f.severity) >= SEVERITIES.indexOf(failOn));
}

type DetectArgs = FlagValues<typeof detectFlags>;

/** What a detection run needs, loaded and checked: the detections, the parameters (config, then --param), the intel lists, the suppress rules. */
export interface DetectPlan {
  detections: Detection[];
  overrides: ParamOverrides;
  intel: IntelSet;
  suppress: SuppressRule[];
}

/**
 * Load and check what a run of the library needs (detect, analyze and watch
 * share it): the detections, --param, the config file (its accounts and
 * params go under the --param flags, its intel lists before --intel's, its
 * suppress rules into the plan) and the intel lists.
 */
export async function prepareDetections(f: Pick<DetectArgs, 'rules' | 'only' | 'param' | 'intel' | 'config' | 'data'>, io: Io): Promise<DetectPlan> {
  const [{ checkOverrides, parseParamFlags, selectDetections }, { loadDetections }] = await Promise.all([import('../../query/detect.js'), import('../../query/detection.js')]);
  const flags = parseParamFlags(f.param);
  const library = await loadDetections(f.rules);
  const detections = selectDetections(library, f.only);
  checkOverrides(detections, flags);
  const config = await loadConfigFlag({ config: f.config, data: f.data, param: flags, intel: f.intel }, { all: library, selected: detections }, io);
  const intel = await loadIntelFlag(config.intel, io);
  return { detections, overrides: config.overrides, intel, suppress: config.suppress };
}

/** Run a plan over the dataset at `data` (in the window, if given; --ungrouped: one finding per event), its suppress rules judging each event. */
export async function runPlan(plan: DetectPlan, data: string, window: { since?: Date; until?: Date } = {}, opts: { ungrouped?: boolean } = {}): Promise<DetectResult & { suppression: Suppression }> {
  const [{ openDataset }, { runDetections }, { suppressor }] = await Promise.all([import('../../query/dataset.js'), import('../../query/detect.js'), import('../../query/suppress.js')]);
  const ds = await openDataset(data, { ...window, intel: plan.intel });
  const s = suppressor(plan.suppress);
  try {
    return { ...(await runDetections(ds, plan.detections, plan.overrides, undefined, { ungrouped: opts.ungrouped ?? false, sift: s.filter })), suppression: s.suppression };
  } finally {
    ds.close();
  }
}

/**
 * Everything detect checks before it reads data: the window, the detection
 * files, --only and --param (analyze does this before it ingests, so a typo
 * stops the run before anything is committed).
 */
async function prepare(f: DetectArgs, io: Io): Promise<(io: Io) => Promise<number>> {
  checkWindow(f.since, f.until);
  checkCsvRaw(f);
  const [{ parseParamFlags, timingReport }, { formatFindings, coverageNotice }, { recordFindings }, { runsAfter, suppressOutput }, { GROUP_PARAM }] = await Promise.all([
    import('../../query/detect.js'), import('../../query/format.js'), import('./findings.js'), import('../../query/suppress.js'), import('../../query/finding-groups.js'),
  ]);
  // The findings state holds findings as the configured grouping makes them: a run grouped otherwise has other
  // finding IDs, so it is not recorded (it would fill the state with them), and --new cannot compare it.
  const regrouped = f.ungrouped || Object.keys(parseParamFlags(f.param)).some((k) => k === GROUP_PARAM || k.endsWith(`.${GROUP_PARAM}`));
  if (f.new && regrouped) throw new UsageError(`--new compares with the findings state, which holds findings grouped as configured: drop --ungrouped and --param ${GROUP_PARAM}`);
  const plan = await prepareDetections(f, io);
  const { detections } = plan;
  // Run the detections, print the findings, exit 1 past --fail-on.
  return async (io) => {
    const result = await runPlan(plan, f.data, { since: f.since, until: f.until }, { ungrouped: f.ungrouped });
    // Suppressed events left the findings, the state and --fail-on in the run; they are reported apart (query/suppress.ts).
    const { suppressed, expiry } = suppressOutput(result.suppression, f['show-suppressed']);
    for (const line of expiry) io.stderr.line(line);
    // Recorded in the findings state; --new keeps only what the state had not seen.
    const findings = regrouped ? result.findings : await recordFindings(f.data, result.findings, { onlyNew: f.new }, io);
    const runs = runsAfter(result.runs, findings);
    stdoutFor(io, f.format).write(formatFindings(findings, f.format, { detections, runs, coverage: result.coverage, version: version(), csv: { raw: f['csv-raw'] }, suppressed }));
    // NDJSON, CSV and OCSF carry findings only: what was not checked, and what was suppressed, go to stderr.
    const notice = f.format === 'table' || f.format === 'json' ? null : coverageNotice(result.coverage);
    if (notice) io.stderr.line(notice);
    const silenced = suppressedNotice(f.format, suppressed);
    if (silenced) io.stderr.line(silenced);
    if (f.timing) io.stderr.write(timingReport({ ...result, runs }) + '\n');
    return reachesFailOn(findings, f['fail-on']) ? EXIT.findings : EXIT.ok;
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
judge some of the data.

The config file (--config, else ./s3sift.yaml, else s3sift.yaml in the
--data folder; docs/config.md) names your own and trusted accounts, sets
parameters (--param flags win), adds intel lists, and holds suppress rules:
the findings they silence are left out of the counts and --fail-on, and
counted by rule (the report's SUPPRESSED section; "suppressed" in JSON; a
line on stderr with the other formats); --show-suppressed lists them.`,
  flags: detectFlags,
  notes: DETECT_NOTES,
  examples: [
    's3sift detect',
    's3sift detect --only presigned-url-long-expiry --param max_expires_s=86400',
    's3sift detect --since 2025-03-11 --format ndjson --fail-on high',
    's3sift detect --rules ./my-rules --format ocsf > findings.ocsf.ndjson',
    's3sift detect --intel tor-exits.csv --intel my-blocklist.txt',
    's3sift detect --timing > /dev/null',
    's3sift detect --config s3sift.yaml --show-suppressed',
    's3sift detect --new --format ndjson >> new-findings.ndjson   # daily job: only what is new',
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
    's3sift analyze samples/ --config samples/s3sift.yaml',
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
