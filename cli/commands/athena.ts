import { nativeFunctionIn } from '../../query/dialect.js';
import { version } from '../../common/version.js';
import { AthenaClient } from '@aws-sdk/client-athena';
import { UsageError } from '../../common/errors.js';
import { athenaDdl } from '../../query/athena/ddl.js';
import { runDetectionsOnAthena } from '../../query/athena/run.js';
import { parseParamFlags, selectDetections } from '../../query/detect.js';
import { loadDetections, SEVERITIES } from '../../query/detection.js';
import { FINDING_FORMATS, formatFindings } from '../../query/format.js';
import { oneOf, timeFlag, type Command, type Io } from '../command.js';
import { findingFlags, reachesFailOn } from './detect.js';

const REGIONS = 'us-east-1,us-east-2,us-west-1,us-west-2,ca-central-1,eu-west-1,eu-west-2,eu-west-3,eu-central-1,eu-north-1,ap-northeast-1,ap-northeast-2,ap-southeast-1,ap-southeast-2,ap-south-1,sa-east-1';

export const athenaCommand: Command = {
  name: 'athena',
  summary: 'the Athena backend: run the detections on Athena, print its DDL',
  help: `Usage: s3sift athena detect --database D --workgroup W [--output-location s3://...] [--region R]
                        [--endpoint-url URL] [--reuse-minutes N] [detect's --only --since --until --param --rules --format --fail-on]
       s3sift athena ddl --location s3://BUCKET/PREFIX [--database D]
                        [--raw-access-logs s3://...] [--raw-cloudtrail s3://BUCKET[/PREFIX]
                         --accounts ID,... [--regions R,...] [--org-id o-...]]

detect runs the detection library on Athena over the dataset's tables (made by
'athena ddl'), each detection's SQL rendered for Athena engine v3 with its
parameters bound (ExecutionParameters), and prints the findings in the same
formats as 'detect'. Throttling is retried; a detection whose query fails is
reported with Athena's message and the others go on (exit 2 at the end).
Bytes scanned and the cost (at $5 per TB) go to stderr. AWS credentials and
region come from the standard chain (environment, profile); --endpoint-url
points the client elsewhere, as the AWS CLI's does.

ddl prints the Athena statements, in the order to run them, for:
  - the Parquet dataset uploaded to --location (tables access_log and cloudtrail,
    partition projection on date: no MSCK REPAIR, ever) and the s3_requests view;
  - with --raw-access-logs, server access logs as delivered (RegexSerDe; every
    trailing field optional on its own, quotes dropped, referrers with spaces kept whole);
  - with --raw-cloudtrail, CloudTrail as delivered (CloudTrailInputFormat,
    projection on account, region and date; --org-id for an organisation trail).

 --database D       Athena database (default s3sift); --workgroup W (default primary)
  --output-location  S3 folder for results, when the workgroup sets none

ddl options:
  --location S3       where the dataset's access_log/ and cloudtrail/ folders are
  --database D        Athena database (default s3sift)
  --raw-access-logs S3, --raw-cloudtrail S3, --accounts, --regions (default: ${REGIONS.split(',').length} common ones), --org-id
  -h, --help          show this help

Example:
  s3sift athena ddl --location s3://sec-data/s3sift --raw-cloudtrail s3://org-trail --accounts 111122223333 --org-id o-abc123de45`,
  options: {
    location: { type: 'string' },
    database: { type: 'string', default: 's3sift' },
    'raw-access-logs': { type: 'string' },
    'raw-cloudtrail': { type: 'string' },
    accounts: { type: 'string' },
    regions: { type: 'string', default: REGIONS },
    'org-id': { type: 'string' },
    workgroup: { type: 'string', default: 'primary' },
    'output-location': { type: 'string' },
    'endpoint-url': { type: 'string' },
    region: { type: 'string' },
    'reuse-minutes': { type: 'string' },
    ...findingFlags,
  },
  async run(values, positionals, io) {
    const [action, ...rest] = positionals;
    if (action === 'detect' && !rest.length) return detectOnAthena(values, io);
    if (action !== 'ddl' || rest.length) throw new UsageError("athena takes 'detect' or 'ddl'");
    if (typeof values.location !== 'string') throw new UsageError('athena ddl needs --location s3://BUCKET/PREFIX (where the dataset is uploaded)');
    const database = values.database as string;
    if (!/^[a-z0-9_]+$/.test(database)) throw new UsageError(`--database must be lower-case letters, digits and _ (Athena's rule), got ${JSON.stringify(database)}`);
    const accounts = ((values.accounts as string | undefined) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    if (values['raw-cloudtrail'] && !accounts.length) throw new UsageError('--raw-cloudtrail needs --accounts ID,... (the accounts whose logs are there)');
    if (accounts.some((a) => !/^\d{12}$/.test(a))) throw new UsageError('--accounts takes 12-digit account IDs, comma-separated');
    let ddl: string[];
    try {
      ddl = athenaDdl({
        database, location: values.location, rawAccessLogs: values['raw-access-logs'] as string | undefined, rawCloudTrail: values['raw-cloudtrail'] as string | undefined,
        cloudTrail: { accounts, regions: (values.regions as string).split(',').map((s) => s.trim()), orgId: values['org-id'] as string | undefined },
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    io.stdout.write(ddl.join('\n\n') + '\n');
    return 0;
  },
};

async function detectOnAthena(values: Record<string, unknown>, io: Io): Promise<number> {
  const format = oneOf('format', values.format, FINDING_FORMATS);
  const failOn = values['fail-on'] === undefined ? undefined : oneOf('fail-on', values['fail-on'], SEVERITIES);
  const reuse = values['reuse-minutes'] === undefined ? 0 : Number(values['reuse-minutes']);
  if (!Number.isInteger(reuse) || reuse < 0 || reuse > 10080) throw new UsageError('--reuse-minutes takes 0 to 10080 (a week)');
  const only = ((values.only as string[] | undefined) ?? []).flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
  const selected = selectDetections(await loadDetections((values.rules as string[] | undefined) ?? []), only);
  // Detections that call s3sift's own functions run on DuckDB only: left out of a whole-library run (and said),
  // reported as failed when asked for by name.
  const duckdbOnly = only.length ? [] : selected.filter((d) => nativeFunctionIn(d.sql));
  const detections = selected.filter((d) => !duckdbOnly.includes(d));
  for (const d of duckdbOnly) io.stderr.write(`skip   ${d.id}: runs on DuckDB only (s3sift's policy evaluator); run it with 's3sift detect'\n`);
  const client = new AthenaClient({
    ...(values.region ? { region: values.region as string } : {}),
    ...(values['endpoint-url'] ? { endpoint: values['endpoint-url'] as string } : {}),
    maxAttempts: 6,
  });
  const r = await runDetectionsOnAthena(client, detections, {
    database: values.database as string, workgroup: values.workgroup as string, outputLocation: values['output-location'] as string | undefined,
    reuseMinutes: reuse, since: timeFlag('since', values.since), until: timeFlag('until', values.until),
  }, parseParamFlags((values.param as string[] | undefined) ?? []), (run) => {
    io.stderr.write(`${run.error ? 'FAILED' : 'ok    '} ${run.id}: ${run.error ?? `${run.findings} finding(s), ${(run.bytes / 1e6).toFixed(1)} MB scanned`}\n`);
  });
  io.stdout.write(formatFindings(r.findings, format, { detections, runs: r.runs, version: version() }));
  io.stderr.write(`Athena scanned ${(r.bytesScanned / 1e9).toFixed(3)} GB, about $${r.costUsd.toFixed(4)}; ${r.failures.length} of ${detections.length} detections failed\n`);
  if (reachesFailOn(r.findings, failOn)) return 1;
  return r.failures.length ? 2 : 0;
}
