/**
 * Seeded generator of realistic CloudTrail records, for benchmarks and
 * large-input tests: S3 data events (GetObject, PutObject with and without
 * SSE, pre-signed reads, deletes), S3 management events, and other services'
 * calls (EC2, STS, KMS, IAM). Same seed, same records. Written as gzipped
 * `{"Records": [...]}` files in CloudTrail's S3 delivery layout.
 *
 *   node dist/scripts/gen-cloudtrail.js --records 300000 --out ./ct-big
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scriptArgs } from './args.js';
import { gzipSync } from 'node:zlib';
import { rng } from './gen-access-logs.js';

const ACCOUNT = '111122223333';
const BUCKETS = ['prod-data', 'prod-backups', 'web-assets', 'finance-reports', 'ml-datasets'];
const AGENTS = [
  '[aws-sdk-java/1.12.470 Linux/5.10.178-162.673.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/25.372-b07 java/1.8.0_372 vendor/Oracle_Corporation cfg/retry-mode/standard]',
  '[aws-cli/2.13.0 Python/3.11.4 Linux/6.2.0 exe/x86_64.ubuntu.22 prompt/off command/s3.cp]',
  '[Boto3/1.28.1 md/Botocore#1.31.1 ua/2.0 os/linux#5.15.0 md/arch#x86_64 lang/python#3.10.12 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.1]',
  '[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488 Linux/5.10.184-154.731.amzn2int.x86_64]',
];

type Identity = Record<string, unknown>;
const IDENTITIES: Identity[] = [
  { type: 'IAMUser', principalId: 'AIDAJ45Q7YFFAREXAMPLE', arn: `arn:aws:iam::${ACCOUNT}:user/alice`, accountId: ACCOUNT, accessKeyId: 'AKIAIOSFODNN7EXAMPLE', userName: 'alice' },
  {
    type: 'AssumedRole', principalId: 'AROAIDPPEZS35WEXAMPLE:i-0abc123def456', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/etl-role/i-0abc123def456`,
    accountId: ACCOUNT, accessKeyId: 'ASIAIOSFODNN7EXAMPLE',
    sessionContext: {
      sessionIssuer: { type: 'Role', principalId: 'AROAIDPPEZS35WEXAMPLE', arn: `arn:aws:iam::${ACCOUNT}:role/etl-role`, accountId: ACCOUNT, userName: 'etl-role' },
      attributes: { creationDate: '2025-03-10T00:00:00Z', mfaAuthenticated: 'false' },
      ec2RoleDelivery: '2.0',
    },
  },
  { type: 'AWSAccount', principalId: 'AIDAPARTNEREXAMPLE', accountId: '444455556666' },
  { type: 'Root', principalId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, accessKeyId: 'ASIAROOTEXAMPLE', sessionContext: { attributes: { creationDate: '2025-03-10T00:00:00Z', mfaAuthenticated: 'true' } } },
];

const hex = (r: () => number, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += '0123456789ABCDEF'[Math.floor(r() * 16)];
  return s;
};

const uuid = (r: () => number): string => {
  const h = hex(r, 32).toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

function s3Event(r: () => number, time: string, id: Identity): Record<string, unknown> {
  const bucket = BUCKETS[Math.floor(r() * BUCKETS.length)] as string;
  const key = `data/${2020 + Math.floor(r() * 6)}/part-${Math.floor(r() * 100000)}.parquet`;
  const x = r();
  const name = x < 0.55 ? 'GetObject' : x < 0.75 ? 'PutObject' : x < 0.88 ? 'HeadObject' : x < 0.95 ? 'ListObjects' : 'DeleteObject';
  const req: Record<string, unknown> = { bucketName: bucket, Host: `${bucket}.s3.us-east-1.amazonaws.com` };
  if (name !== 'ListObjects') req.key = key;
  else Object.assign(req, { prefix: 'data/', 'list-type': '2' });
  const extra: Record<string, unknown> = {
    SignatureVersion: 'SigV4', CipherSuite: 'ECDHE-RSA-AES128-GCM-SHA256', bytesTransferredIn: 0,
    AuthenticationMethod: 'AuthHeader', 'x-amz-id-2': hex(r, 76), bytesTransferredOut: Math.floor(r() * 5_000_000),
  };
  let response: Record<string, unknown> | null = null;
  if (name === 'PutObject') {
    extra.bytesTransferredIn = Math.floor(r() * 5_000_000);
    extra.bytesTransferredOut = 0;
    const sse = r();
    if (sse < 0.5) req['x-amz-server-side-encryption'] = 'aws:kms';
    extra.SSEApplied = sse < 0.5 ? 'SSE_KMS' : 'Default_SSE_S3';
    response = { 'x-amz-server-side-encryption': sse < 0.5 ? 'aws:kms' : 'AES256', 'x-amz-version-id': hex(r, 32) };
  }
  if (name === 'GetObject' && r() < 0.05) {
    Object.assign(req, { 'X-Amz-Algorithm': 'AWS4-HMAC-SHA256', 'X-Amz-Expires': String([300, 3600, 604800][Math.floor(r() * 3)]), 'X-Amz-SignedHeaders': 'host' });
    extra.AuthenticationMethod = 'QueryString';
  }
  const failed = r() < 0.02;
  return {
    eventVersion: '1.09', userIdentity: id, eventTime: time, eventSource: 's3.amazonaws.com', eventName: name, awsRegion: 'us-east-1',
    sourceIPAddress: `203.0.113.${Math.floor(r() * 250)}`, userAgent: AGENTS[Math.floor(r() * AGENTS.length)],
    ...(failed ? { errorCode: 'AccessDenied', errorMessage: 'Access Denied' } : {}),
    requestParameters: req, responseElements: response, additionalEventData: extra,
    requestID: hex(r, 16), eventID: uuid(r), readOnly: name !== 'PutObject' && name !== 'DeleteObject',
    resources: [
      ...(req.key ? [{ type: 'AWS::S3::Object', ARN: `arn:aws:s3:::${bucket}/${key}` }] : []),
      { accountId: ACCOUNT, type: 'AWS::S3::Bucket', ARN: `arn:aws:s3:::${bucket}` },
    ],
    eventType: 'AwsApiCall', managementEvent: false, recipientAccountId: ACCOUNT, eventCategory: 'Data',
    tlsDetails: { tlsVersion: 'TLSv1.2', cipherSuite: 'ECDHE-RSA-AES128-GCM-SHA256', clientProvidedHostHeader: `${bucket}.s3.us-east-1.amazonaws.com` },
  };
}

function otherEvent(r: () => number, time: string, id: Identity): Record<string, unknown> {
  const x = r();
  const [source, name, req, resp]: [string, string, unknown, unknown] =
    x < 0.4 ? ['ec2.amazonaws.com', 'DescribeInstances', { instancesSet: {}, filterSet: {} }, null]
    : x < 0.6 ? ['sts.amazonaws.com', 'AssumeRole', { roleArn: `arn:aws:iam::${ACCOUNT}:role/etl-role`, roleSessionName: `s-${hex(r, 8)}`, durationSeconds: 3600 },
      { credentials: { accessKeyId: `ASIA${hex(r, 16)}`, sessionToken: hex(r, 120), expiration: 'Mar 10, 2025, 1:00:00 AM' }, assumedRoleUser: { assumedRoleId: `AROA${hex(r, 17)}:s`, arn: `arn:aws:sts::${ACCOUNT}:assumed-role/etl-role/s` } }]
    : x < 0.85 ? ['kms.amazonaws.com', 'Decrypt', { encryptionAlgorithm: 'SYMMETRIC_DEFAULT', encryptionContext: { 'aws:s3:arn': `arn:aws:s3:::prod-data/${hex(r, 10)}` } }, null]
    : x < 0.97 ? ['iam.amazonaws.com', 'ListUsers', null, null]
    : ['s3.amazonaws.com', 'PutBucketPolicy', { bucketName: 'web-assets', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::web-assets/*' }] }, Host: 'web-assets.s3.amazonaws.com' }, null];
  return {
    eventVersion: '1.08', userIdentity: id, eventTime: time, eventSource: source, eventName: name, awsRegion: 'us-east-1',
    sourceIPAddress: r() < 0.3 ? 'AWS Internal' : `198.51.100.${Math.floor(r() * 250)}`, userAgent: AGENTS[Math.floor(r() * AGENTS.length)],
    requestParameters: req, responseElements: resp, requestID: uuid(r), eventID: uuid(r), readOnly: name.startsWith('Describe') || name.startsWith('List') || name === 'Decrypt',
    eventType: 'AwsApiCall', managementEvent: true, recipientAccountId: ACCOUNT, eventCategory: 'Management',
    tlsDetails: { tlsVersion: 'TLSv1.2', cipherSuite: 'ECDHE-RSA-AES128-GCM-SHA256', clientProvidedHostHeader: `${source.split('.')[0]}.us-east-1.amazonaws.com` },
  };
}

export interface GenCloudTrailOptions {
  records: number;
  seed?: number;
  /** Epoch ms of the first record; records advance through `days` days. */
  start?: number;
  days?: number;
}

/** Records in time order, as objects. */
export function* generateCloudTrailRecords(opts: GenCloudTrailOptions): Generator<Record<string, unknown>> {
  const r = rng(opts.seed ?? 1);
  const start = opts.start ?? Date.UTC(2025, 2, 10);
  const span = (opts.days ?? 7) * 86_400_000;
  for (let i = 0; i < opts.records; i++) {
    const t = new Date(start + Math.floor((i / opts.records) * span)).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const id = IDENTITIES[Math.floor(r() * (r() < 0.02 ? IDENTITIES.length : 2))] as Identity;
    yield r() < 0.7 ? s3Event(r, t, id) : otherEvent(r, t, id);
  }
}

/**
 * Write gzipped CloudTrail log files of `perFile` records under
 * `out/AWSLogs/<account>/CloudTrail/us-east-1/YYYY/MM/DD/`. Returns the file count.
 */
export function writeCloudTrailFiles(out: string, opts: GenCloudTrailOptions & { perFile?: number }): number {
  const perFile = opts.perFile ?? 2000;
  let batch: Array<Record<string, unknown>> = [];
  let files = 0;
  const flush = (): void => {
    if (!batch.length) return;
    const t = String(batch[0]?.eventTime);
    const [y, m, d] = t.slice(0, 10).split('-');
    const dir = join(out, 'AWSLogs', ACCOUNT, 'CloudTrail', 'us-east-1', y as string, m as string, d as string);
    mkdirSync(dir, { recursive: true });
    const stamp = t.replace(/[-:]/g, '').slice(0, 13) + 'Z';
    const name = `${ACCOUNT}_CloudTrail_us-east-1_${stamp}_${String(files).padStart(6, '0')}.json.gz`;
    writeFileSync(join(dir, name), gzipSync(JSON.stringify({ Records: batch }), { level: 6 }));
    files++;
    batch = [];
  };
  for (const rec of generateCloudTrailRecords(opts)) {
    batch.push(rec);
    if (batch.length >= perFile) flush();
  }
  flush();
  return files;
}

const HELP = `Usage: npm run gen:cloudtrail -- [--records N] [--seed S] [--days D] [--out DIR]

Write N generated CloudTrail records (default 100000), seeded, over D days
(default 7) from 2025-03-10, as gzipped {"Records":[...]} files of 2,000
under DIR/AWSLogs/111122223333/CloudTrail/us-east-1/YYYY/MM/DD/ (default
./ct-generated): S3 data and management events and other services' calls.`;

if (import.meta.url === `file://${process.argv[1]}`) {
  const values = scriptArgs(HELP, {
    records: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    days: { type: 'string', default: '7' },
    out: { type: 'string', default: './ct-generated' },
  }, ['records', 'seed', 'days']);
  if (values) {
    const n = writeCloudTrailFiles(values.out as string, { records: Number(values.records), seed: Number(values.seed), days: Number(values.days) });
    process.stderr.write(`wrote ${n} files to ${values.out}\n`);
  }
}
