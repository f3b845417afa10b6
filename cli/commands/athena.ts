import { UsageError } from '../../common/errors.js';
import { athenaDdl } from '../../query/athena/ddl.js';
import type { Command } from '../command.js';

const REGIONS = 'us-east-1,us-east-2,us-west-1,us-west-2,ca-central-1,eu-west-1,eu-west-2,eu-west-3,eu-central-1,eu-north-1,ap-northeast-1,ap-northeast-2,ap-southeast-1,ap-southeast-2,ap-south-1,sa-east-1';

export const athenaCommand: Command = {
  name: 'athena',
  summary: 'the Athena backend: DDL for the dataset and raw logs in S3',
  help: `Usage: s3sift athena ddl --location s3://BUCKET/PREFIX [--database D]
                        [--raw-access-logs s3://...] [--raw-cloudtrail s3://BUCKET[/PREFIX]
                         --accounts ID,... [--regions R,...] [--org-id o-...]]

Print the Athena statements, in the order to run them, for:
  - the Parquet dataset uploaded to --location (tables access_log and cloudtrail,
    partition projection on date: no MSCK REPAIR, ever) and the s3_requests view;
  - with --raw-access-logs, server access logs as delivered (RegexSerDe; every
    trailing field optional on its own, quotes dropped, referrers with spaces kept whole);
  - with --raw-cloudtrail, CloudTrail as delivered (CloudTrailInputFormat,
    projection on account, region and date; --org-id for an organisation trail).

Options:
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
  },
  async run(values, positionals, io) {
    const [action, ...rest] = positionals;
    if (action !== 'ddl' || rest.length) throw new UsageError("athena takes 'ddl' (Athena detection runs are not in this version)");
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
