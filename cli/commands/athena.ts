import { UsageError } from '../../common/errors.js';
import { version } from '../../common/version.js';
import { configFlag, loadConfigFlag, showSuppressedFlag, suppressedNotice } from '../config.js';
import { defineCommand, defineGroup, EXIT } from '../command.js';
import { checkCsvRaw, checkWindow, dataFlag, findingFlags, s3Options, s3ReachFlags } from '../common-flags.js';
import { bool, integer, list, text } from '../flags.js';
import { stdoutFor } from '../terminal-io.js';
import { reachesFailOn } from './detect.js';

/** The regions every account has (opt-in regions, such as ap-east-1 or me-south-1, must be listed with --regions). */
const REGIONS = ['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'ca-central-1', 'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1', 'eu-north-1', 'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-southeast-1', 'ap-southeast-2', 'ap-south-1', 'sa-east-1'];

/** Where and how to reach Athena: detect and verify take the same. */
const athenaReach = {
  workgroup: text({ value: 'W', help: 'Athena workgroup (engine version 3)', default: 'primary' }),
  'output-location': text({ value: 'S3', help: 'S3 folder for query results, when the workgroup sets none' }),
  'endpoint-url': text({ value: 'URL', help: 'another Athena endpoint' }),
};

const database = text({ value: 'D', help: "Athena database (lower-case letters, digits and _)", default: 's3sift' });

function checkDatabase(name: string): string {
  if (!/^[a-z0-9_]+$/.test(name)) throw new UsageError(`--database must be lower-case letters, digits and _ (Athena's rule), got ${JSON.stringify(name)}`);
  return name;
}

const ddl = defineCommand({
  name: 'ddl',
  summary: "print the Athena DDL for the dataset in S3 and for raw logs",
  usage: '--location s3://BUCKET/PREFIX [options]',
  description: `
Print the Athena statements, in the order to run them, for:
  - the Parquet dataset uploaded to --location ('s3sift publish'; tables
    access_log and cloudtrail, partition projection on date from the
    dataset's first day: no MSCK REPAIR, ever) and the s3_requests view;
  - with --raw-access-logs, server access logs as delivered (RegexSerDe; every
    trailing field optional on its own, quotes dropped, referrers with spaces
    kept whole);
  - with --raw-cloudtrail, CloudTrail as delivered (CloudTrailInputFormat,
    projection on account, region and date; --org-id for an organisation trail).
The first day is the earliest date partition of the local dataset (--data),
or --first-day. CREATE ... IF NOT EXISTS leaves existing tables alone: to
move the first day of tables made earlier (after publishing older logs),
give --first-day, and each table's CREATE is followed by ALTER TABLE ... SET
TBLPROPERTIES with that day.`,
  flags: {
    location: text({ value: 'S3', help: "where the dataset's access_log/ and cloudtrail/ folders are" }),
    database,
    data: dataFlag,
    'first-day': text({ value: 'YYYY-MM-DD', help: "where the date projection starts (default: the local dataset's first day)" }),
    'raw-access-logs': text({ value: 'S3', help: 'server access logs as delivered, for a raw_access_log table' }),
    'raw-cloudtrail': text({ value: 'S3', help: 'CloudTrail as delivered (the folder holding AWSLogs/), for raw_cloudtrail' }),
    accounts: list({ value: 'ID,...', help: 'with --raw-cloudtrail: the 12-digit accounts whose logs are there' }),
    regions: list({ value: 'R,...', help: 'with --raw-cloudtrail: the regions to project (list opt-in regions you use)', default: REGIONS, shownDefault: `the ${REGIONS.length} regions every account has` }),
    'org-id': text({ value: 'o-...', help: 'with --raw-cloudtrail: the organisation, for an organisation trail' }),
  },
  examples: [
    's3sift athena ddl --location s3://sec-data/s3sift > s3sift.sql',
    's3sift athena ddl --location s3://sec-data/s3sift --first-day 2024-01-01 > s3sift.sql',
    's3sift athena ddl --location s3://sec-data/s3sift --raw-cloudtrail s3://org-trail --accounts 111122223333 --org-id o-abc123de45',
  ],
  async run({ flags: f, positionals }, io) {
    if (positionals.length) throw new UsageError(`athena ddl takes no arguments (got ${positionals.join(' ')})`);
    if (f.location === undefined) throw new UsageError('athena ddl needs --location s3://BUCKET/PREFIX (where the dataset is uploaded)');
    const database = checkDatabase(f.database);
    if (f['raw-cloudtrail'] && !f.accounts.length) throw new UsageError('--raw-cloudtrail needs --accounts ID,... (the accounts whose logs are there)');
    if (f.accounts.some((a) => !/^\d{12}$/.test(a))) throw new UsageError('--accounts takes 12-digit account IDs, comma-separated');
    const { athenaDdl, checkDay, datasetDays, S3_FIRST_DAY } = await import('../../query/athena/ddl.js');
    const days = await datasetDays(f.data);
    let firstDay = f['first-day'];
    if (firstDay !== undefined) {
      try {
        checkDay(firstDay);
      } catch (err) {
        throw new UsageError(`--first-day: ${err instanceof Error ? err.message : String(err)}`);
      }
    } else if (days.first) firstDay = days.first;
    else {
      firstDay = S3_FIRST_DAY;
      io.stderr.write(`warning: no dataset at ${f.data} and no --first-day: the date projection starts at ${S3_FIRST_DAY}, and a query without a date filter lists every day since\n`);
    }
    for (const t of days.undated) {
      io.stderr.write(`warning: ${f.data}/${t} has records with no event time (date=__HIVE_DEFAULT_PARTITION__); the projected table never reads them, so Athena does not see them (s3sift detect does)\n`);
    }
    let statements: string[];
    try {
      statements = athenaDdl({
        database, location: f.location, firstDay, resetRange: f['first-day'] !== undefined, rawAccessLogs: f['raw-access-logs'], rawCloudTrail: f['raw-cloudtrail'],
        cloudTrail: { accounts: f.accounts, regions: f.regions, orgId: f['org-id'] },
      });
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
    // SQL to run, written as it is (its values come from the flags and the dataset's dates, not the logs).
    io.raw.stdout.write(statements.join('\n\n') + '\n');
    return EXIT.ok;
  },
});

const detect = defineCommand({
  name: 'detect',
  summary: 'run the detection library on Athena, print findings as detect does',
  usage: '--database D --workgroup W [options]',
  description: `
Run the detection library on Athena over the dataset's tables (made by
'athena ddl'), each detection's SQL rendered for Athena engine v3 with its
parameter values written in as typed literals, and print the findings in
the same formats as 's3sift detect', with what the detections could not
judge (coverage: one query to see which tables hold rows, then each
detection's coverage SQL, rendered the same way). Throttling is retried; a
detection whose query, or coverage query, fails is reported with Athena's
message, its coverage says it was not checked, and the others go on (exit 2
at the end). Bytes scanned and the cost (at $5 per TB) go to stderr. AWS credentials
and region come from the standard chain (environment, profile);
--endpoint-url points the client elsewhere, as the AWS CLI's does.
Detections that run on DuckDB only are left out and named. The config file
(--config, else ./s3sift.yaml; docs/config.md) applies as it does for
detect: its accounts and params, and its suppress rules.`,
  flags: {
    database,
    ...athenaReach,
    region: s3ReachFlags.region,
    'reuse-minutes': integer({ help: "reuse Athena's results of the same query up to N minutes old", min: 0, max: 10080, default: 0 }),
    ...findingFlags,
    config: configFlag,
    'show-suppressed': showSuppressedFlag,
  },
  notes: 'Exit codes: 0 done, 1 a finding at or above --fail-on, 2 bad arguments or a detection that failed on Athena.',
  examples: ['s3sift athena detect --database s3sift --workgroup security --region us-east-1 --since 2025-03-01 --fail-on high'],
  async run({ flags: f, positionals }, io) {
    if (positionals.length) throw new UsageError(`athena detect takes no arguments (got ${positionals.join(' ')})`);
    checkWindow(f.since, f.until);
    checkCsvRaw(f);
    const database = checkDatabase(f.database);
    const [{ AthenaClient }, { runDetectionsOnAthena }, { parseParamFlags, selectDetections }, { loadDetections }, { formatFindings, coverageNotice }, { nativeFunctionIn }, { suppressor, suppressOutput }] = await Promise.all([
      import('@aws-sdk/client-athena'), import('../../query/athena/run.js'), import('../../query/detect.js'), import('../../query/detection.js'), import('../../query/format.js'), import('../../query/dialect.js'), import('../../query/suppress.js'),
    ]);
    const library = await loadDetections(f.rules);
    const selected = selectDetections(library, f.only);
    // The config file, as detect reads it (./s3sift.yaml when not named: there is no local dataset): its accounts and
    // params under the --param flags, its suppress rules judging each event. Its intel lists serve threat-intel-address, which runs on DuckDB only.
    const config = await loadConfigFlag({ config: f.config, data: '.', param: parseParamFlags(f.param), intel: [] }, { all: library, selected }, io);
    const sup = suppressor(config.suppress);
    // Detections that call s3sift's own functions run on DuckDB only: left out of a whole-library run (and said),
    // reported as failed when asked for by name.
    const duckdbOnly = f.only.length ? [] : selected.filter((d) => nativeFunctionIn(d.sql));
    const detections = selected.filter((d) => !duckdbOnly.includes(d));
    for (const d of duckdbOnly) io.stderr.write(`skip   ${d.id}: runs on DuckDB only (s3sift's policy evaluator); run it with 's3sift detect'\n`);
    const client = new AthenaClient({ ...(f.region ? { region: f.region } : {}), ...(f['endpoint-url'] ? { endpoint: f['endpoint-url'] } : {}), maxAttempts: 6 });
    const r = await runDetectionsOnAthena(client, detections, {
      database, workgroup: f.workgroup, outputLocation: f['output-location'], reuseMinutes: f['reuse-minutes'], since: f.since, until: f.until, ungrouped: f.ungrouped, sift: sup.filter,
    }, config.overrides, (run) => {
      io.stderr.line(`${run.error ? 'FAILED' : 'ok    '} ${run.id}: ${run.error ?? `${run.findings} finding(s), ${(run.bytes / 1e6).toFixed(1)} MB scanned`}`);
    });
    const { suppressed, expiry } = suppressOutput(sup.suppression, f['show-suppressed']);
    for (const line of expiry) io.stderr.line(line);
    stdoutFor(io, f.format).write(formatFindings(r.findings, f.format, { detections, runs: r.runs, coverage: r.coverage, version: version(), csv: { raw: f['csv-raw'] }, suppressed }));
    const notice = f.format === 'table' || f.format === 'json' ? null : coverageNotice(r.coverage);
    if (notice) io.stderr.line(notice);
    const silenced = suppressedNotice(f.format, suppressed);
    if (silenced) io.stderr.line(silenced);
    io.stderr.write(`Athena scanned ${(r.bytesScanned / 1e9).toFixed(3)} GB, about $${r.costUsd.toFixed(4)}; ${r.failures.length} of ${detections.length} detections failed\n`);
    if (reachesFailOn(r.findings, f['fail-on'])) return EXIT.findings;
    return r.failures.length ? EXIT.usage : EXIT.ok;
  },
});

const verify = defineCommand({
  name: 'verify',
  summary: "check once per account that Athena gives DuckDB's findings, on the samples",
  usage: '--database D --location s3://BUCKET/PREFIX [options]',
  description: `
The check to run once per AWS account (and after changing the workgroup or
s3sift): it ingests the bundled samples into a temporary dataset and runs
the library on DuckDB; creates --database (a new, scratch one: a database
that exists is refused, never used or dropped); uploads the dataset to
LOCATION/s3sift-verify-RUN/ and creates its tables there; runs the library
on Athena; and compares the two engines' findings, detection by detection,
finding by finding. The comparison goes to stdout (examples of the findings
only one engine gave, escaped for a terminal), each step to stderr. Then it
drops the views, tables and database it made and deletes the objects it
uploaded, also after a failure or Ctrl-C (press it twice to leave them);
--keep leaves them, and says how to remove them. It costs well under a
cent: the samples are under a megabyte, and Athena bills 10 MB a query at
least. Detections that run on DuckDB only are skipped on both sides, and
named. Permissions: docs/athena.md.`,
  flags: {
    database: text({ value: 'D', help: 'the scratch Athena database to create and drop (must not exist)' }),
    location: text({ value: 'S3', help: 'where the scratch prefix s3sift-verify-RUN/ goes' }),
    ...athenaReach,
    's3-endpoint-url': text({ value: 'URL', help: 'an S3-compatible endpoint for the upload (path-style addressing)' }),
    region: s3ReachFlags.region,
    profile: s3ReachFlags.profile,
    keep: bool({ help: 'keep the scratch database, prefix and local dataset for inspection (says where)' }),
  },
  notes: 'Exit codes: 0 every detection agrees, 1 a detection disagrees, 2 bad arguments, or the check is incomplete: a step or a detection failed on Athena or S3, it was interrupted, or something it made could not be removed (named, with how to remove it).',
  examples: ['s3sift athena verify --database s3sift_verify --location s3://sec-scratch/s3sift --workgroup security --region us-east-1'],
  async run({ flags: f, positionals }, io) {
    if (positionals.length) throw new UsageError(`athena verify takes no arguments (got ${positionals.join(' ')})`);
    if (f.database === undefined) throw new UsageError('athena verify needs --database D: a new database it creates and drops (one that exists is refused)');
    const database = checkDatabase(f.database);
    if (f.location === undefined) throw new UsageError('athena verify needs --location s3://BUCKET/PREFIX (the scratch prefix goes under it)');
    const { s3Folder } = await import('../../query/athena/ddl.js');
    try {
      s3Folder(f.location);
    } catch (err) {
      throw new UsageError(`--location: ${err instanceof Error ? err.message : String(err)}`);
    }
    const s3Reach = s3Options({ 'endpoint-url': f['s3-endpoint-url'], region: f.region, profile: f.profile }, io);
    const [{ AthenaClient }, { s3Client }, { verifyOnAthena, verifyOutcome }, { comparisonReport }, { loadDetections }] = await Promise.all([
      import('@aws-sdk/client-athena'), import('../../ingest/s3.js'), import('../../query/athena/verify.js'), import('../../query/athena/compare.js'), import('../../query/detection.js'),
    ]);
    const detections = await loadDetections();
    const athena = new AthenaClient({ ...(f.region ? { region: f.region } : {}), ...(f['endpoint-url'] ? { endpoint: f['endpoint-url'] } : {}), maxAttempts: 6 });
    const s3 = s3Client(s3Reach);
    // The first Ctrl-C stops the check and cleans up; the handler goes, so a second one ends the process as usual.
    const controller = new AbortController();
    const interrupt = (): void => {
      io.stderr.write('interrupted: removing what the check made (Ctrl-C again to leave it)\n');
      controller.abort();
    };
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    let r;
    try {
      r = await verifyOnAthena(athena, s3, { database, location: f.location, workgroup: f.workgroup, outputLocation: f['output-location'], detections, keep: f.keep, signal: controller.signal },
        (step, message) => io.stderr.line(`${step.padEnd(9)}${message}`));
    } finally {
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
      athena.destroy();
      s3.destroy();
    }
    if (r.comparisons.length) io.stdout.write(comparisonReport(r.comparisons));
    io.stderr.write(`Athena scanned ${(r.bytesScanned / 1e6).toFixed(1)} MB, about $${r.costUsd.toFixed(4)}\n`);
    if (r.failure) io.stderr.line(`error: ${r.failure.step}: ${r.failure.error}`);
    for (const x of r.left) io.stderr.line(`left behind: ${x.what} (${x.error ?? ''}); remove it with: ${x.how}`);
    const outcome = verifyOutcome(r);
    return outcome === 'agree' ? EXIT.ok : outcome === 'disagree' ? EXIT.findings : EXIT.usage;
  },
});

export const athenaCommand = defineGroup({
  name: 'athena',
  summary: 'the Athena backend: run the detections on Athena, print its DDL, check it',
  description: `
When the logs outgrow one machine: put the dataset in S3 ('s3sift publish'),
create its tables with the statements 'athena ddl' prints, and run the same
detection library on Athena with 'athena detect'. 'athena verify' checks,
once per account, that Athena gives the findings DuckDB gives. Set-up and
IAM permissions: docs/athena.md.`,
  subcommands: [ddl, detect, verify],
});
