/**
 * The CloudTrail side of the samples' story (called by make-samples.ts).
 * The trail logs management events for every bucket and data events for
 * `prod-data` only (a common event selector), so the requests the access
 * logs show on `prod-data` appear here too, under the same request IDs,
 * next to what only CloudTrail sees: policy, ACL, versioning, encryption
 * and logging changes, the trail itself, Glacier vault policies.
 *
 * Files: hourly gzipped `{"Records": [...]}` files in the delivery layout,
 * a digest file (skipped on ingest), and day 3 as an EventBridge archive
 * (one "AWS API Call via CloudTrail" event per line).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Req } from './make-samples.js';

const ACCOUNT = '111122223333';
const EXTERNAL = '999988887777';
type Rec = Record<string, unknown>;

const ALICE: Rec = {
  type: 'IAMUser', principalId: 'AIDA6ON6E4XEGITEXAMPLE', arn: `arn:aws:iam::${ACCOUNT}:user/alice`, accountId: ACCOUNT,
  accessKeyId: 'ASIA6ON6E4XECONSOLE1', userName: 'alice',
  sessionContext: { attributes: { creationDate: '2025-03-10T07:00:00Z', mfaAuthenticated: 'true' } },
};
const ETL: Rec = {
  type: 'AssumedRole', principalId: 'AROA6ON6E4XEETLROLE1:i-0a1b2c3d4e5f67890', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/etl-role/i-0a1b2c3d4e5f67890`,
  accountId: ACCOUNT, accessKeyId: 'ASIA6ON6E4XEETLKEY01',
  sessionContext: {
    sessionIssuer: { type: 'Role', principalId: 'AROA6ON6E4XEETLROLE1', arn: `arn:aws:iam::${ACCOUNT}:role/etl-role`, accountId: ACCOUNT, userName: 'etl-role' },
    attributes: { creationDate: '2025-03-10T00:55:00Z', mfaAuthenticated: 'false' }, ec2RoleDelivery: '2.0',
  },
};
const ROOT: Rec = {
  type: 'Root', principalId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, accessKeyId: 'ASIA6ON6E4XEROOTSES1',
  sessionContext: { attributes: { creationDate: '2025-03-11T07:58:00Z', mfaAuthenticated: 'true' } },
};
const INTRUDER: Rec = {
  type: 'IAMUser', principalId: 'AIDA6ON6E4XECIDEPLOY', arn: `arn:aws:iam::${ACCOUNT}:user/ci-deployer`, accountId: ACCOUNT,
  accessKeyId: 'AKIA6ON6E4XECIDEPLOY', userName: 'ci-deployer',
};
const PARTNER: Rec = { type: 'AWSAccount', principalId: 'AIDAPARTNERSYNC00001', accountId: '444455556666' };
const ANONYMOUS: Rec = { type: 'AWSAccount', principalId: '', accountId: 'ANONYMOUS_PRINCIPAL' };

const IDENTITY: Record<string, Rec> = {
  [`arn:aws:iam::${ACCOUNT}:user/alice`]: ALICE,
  [`arn:aws:sts::${ACCOUNT}:assumed-role/etl-role/i-0a1b2c3d4e5f67890`]: ETL,
  [`arn:aws:iam::${ACCOUNT}:root`]: ROOT,
  [`arn:aws:iam::${ACCOUNT}:user/ci-deployer`]: INTRUDER,
  'arn:aws:iam::444455556666:user/partner-sync': PARTNER,
};

/** Access-log operations as CloudTrail names them, and whether they are data events. */
const OPS: Record<string, [string, boolean]> = {
  'REST.GET.OBJECT': ['GetObject', true],
  'REST.PUT.OBJECT': ['PutObject', true],
  'REST.HEAD.OBJECT': ['HeadObject', true],
  'REST.DELETE.OBJECT': ['DeleteObject', true],
  'REST.POST.MULTI_OBJECT_DELETE': ['DeleteObjects', true],
  'REST.GET.BUCKET': ['ListObjects', true],
  'REST.GET.ACL': ['GetBucketAcl', false],
  'REST.GET.BUCKETPOLICY': ['GetBucketPolicy', false],
  'REST.GET.VERSIONING': ['GetBucketVersioning', false],
  'REST.PUT.VERSIONING': ['PutBucketVersioning', false],
};

let eventSeq = 0;
function eventId(): string {
  eventSeq++;
  const h = (0x5a17c0de00000000 + eventSeq * 104729).toString(16).padStart(32, '0').slice(-32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function tls(version: string | undefined): Rec | undefined {
  if (version === '-') return undefined; // plain HTTP: no TLS details
  const v = version === 'TLSV1' ? 'TLSv1' : (version ?? 'TLSv1.2');
  return { tlsVersion: v, cipherSuite: v === 'TLSv1.3' ? 'TLS_AES_128_GCM_SHA256' : 'ECDHE-RSA-AES128-GCM-SHA256' };
}

/** A CloudTrail S3 record; `over` adds or replaces fields. */
function s3Record(at: string, who: Rec, name: string, data: boolean, bucket: string, over: Rec = {}): Rec {
  const host = `${bucket}.s3.us-east-1.amazonaws.com`;
  const t = tls(over.tlsVersion as string | undefined);
  delete over.tlsVersion;
  return {
    eventVersion: data ? '1.09' : '1.08', userIdentity: who, eventTime: at.replace(/\.000Z$/, 'Z'), eventSource: 's3.amazonaws.com', eventName: name,
    awsRegion: 'us-east-1', sourceIPAddress: '198.51.100.7', userAgent: '[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488]',
    requestParameters: { bucketName: bucket, Host: host }, responseElements: null,
    additionalEventData: { SignatureVersion: 'SigV4', ...(t ? { CipherSuite: t.cipherSuite } : {}), bytesTransferredIn: 0, AuthenticationMethod: 'AuthHeader', 'x-amz-id-2': 'sample' + String(eventSeq).padStart(6, '0'), bytesTransferredOut: 0 },
    requestID: `CT${String(eventSeq + 1).padStart(14, '0')}`, eventID: eventId(), readOnly: /^(Get|List|Head)/.test(name),
    resources: [{ accountId: ACCOUNT, type: 'AWS::S3::Bucket', ARN: `arn:aws:s3:::${bucket}` }],
    eventType: 'AwsApiCall', managementEvent: !data, recipientAccountId: ACCOUNT, eventCategory: data ? 'Data' : 'Management',
    ...(t ? { tlsDetails: { ...t, clientProvidedHostHeader: host } } : {}),
    ...over,
  };
}

/** The CloudTrail record of a request the access logs also show. */
function fromRequest(r: Req): Rec | null {
  const op = OPS[r.op];
  if (!op || !r.requester || r.requester === 'AmazonS3' || r.requester.startsWith('svc:')) return null;
  const [name, data] = op;
  if (data && r.bucket !== 'prod-data') return null; // data events are selected for prod-data only
  const who = IDENTITY[r.requester] ?? ANONYMOUS;
  const rec = s3Record(r.at, who, name, data, r.bucket, { tlsVersion: r.tls });
  const req = rec.requestParameters as Rec;
  const extra = rec.additionalEventData as Rec;
  if (r.key) {
    req.key = r.key;
    (rec.resources as Rec[]).unshift({ type: 'AWS::S3::Object', ARN: `arn:aws:s3:::${r.bucket}/${r.key}` });
  }
  const query = /\?([^ ]*)/.exec(r.uri ?? '')?.[1];
  for (const kv of query?.split('&') ?? []) {
    const [k, v] = kv.split('=');
    if (k?.startsWith('X-Amz-') || k === 'versionId') req[k] = decodeURIComponent(v ?? '');
  }
  if (req['X-Amz-Expires']) extra.AuthenticationMethod = 'QueryString';
  if (r.sig === 'SigV2') extra.SignatureVersion = 'SigV2';
  if (name === 'GetObject') extra.bytesTransferredOut = r.sent ?? 0;
  if (name === 'PutObject') {
    extra.bytesTransferredIn = r.size ?? 0;
    // The ETL role asks for SSE-KMS; everyone else leaves it to the bucket default.
    if (who === ETL) {
      req['x-amz-server-side-encryption'] = 'aws:kms';
      req['x-amz-server-side-encryption-aws-kms-key-id'] = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a10`;
      extra.SSEApplied = 'SSE_KMS';
    } else extra.SSEApplied = 'Default_SSE_S3';
  }
  if (name === 'PutBucketVersioning') req.VersioningConfiguration = { Status: 'Enabled', MfaDelete: 'Enabled', xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' };
  if (name === 'DeleteObjects') req.delete = '';
  return {
    ...rec, sourceIPAddress: r.ip, userAgent: `[${r.ua ?? 'aws-sdk-java/1.12.470'}]`, requestID: r.requestId,
    ...(r.error ? { errorCode: r.error, errorMessage: 'Access Denied' } : {}),
    ...(r.error ? { additionalEventData: { ...extra, bytesTransferredOut: 0 } } : {}),
  };
}

const at = (day: number, h: number, m: number, s = 0): string => new Date(Date.UTC(2025, 2, 10 + day, h, m, s)).toISOString();
const policy = (statements: Rec[]): Rec => ({ Version: '2012-10-17', Statement: statements });

/** What only CloudTrail sees. */
function managementStory(): Rec[] {
  const m = (t: string, who: Rec, name: string, bucket: string, req: Rec, over: Rec = {}): Rec => {
    const rec = s3Record(t, who, name, false, bucket, over);
    Object.assign(rec.requestParameters as Rec, req);
    return rec;
  };
  const kmsKey = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a10`;
  return [
    // Day 1: alice sets the buckets up.
    m(at(0, 7, 30), ALICE, 'PutBucketEncryption', 'prod-data', { ServerSideEncryptionConfiguration: { Rule: { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: kmsKey }, BucketKeyEnabled: true } }, encryption: '' }),
    m(at(0, 7, 31), ALICE, 'PutBucketPolicy', 'prod-data', { bucketPolicy: policy([
      { Sid: 'DenyUnencryptedUploads', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: 'arn:aws:s3:::prod-data/*', Condition: { Null: { 's3:x-amz-server-side-encryption': 'true' } } },
      { Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: ['arn:aws:s3:::prod-data', 'arn:aws:s3:::prod-data/*'], Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
      { Sid: 'PartnerRead', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::prod-data/exports/*' },
    ]), policy: [''] }),
    m(at(0, 7, 35), ALICE, 'PutBucketPolicy', 'web-assets', { bucketPolicy: policy([{ Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::web-assets/*' }]), policy: [''] }),
    m(at(0, 7, 36), ALICE, 'DeleteBucketPublicAccessBlock', 'web-assets', { publicAccessBlock: '' }),
    m(at(0, 7, 40), ALICE, 'PutBucketLogging', 'prod-data', { BucketLoggingStatus: { LoggingEnabled: { TargetBucket: 'logs-archive', TargetPrefix: 'access/prod-data/' } }, logging: '' }),
    // Access logs delivered into their own bucket: each delivery is logged again, forever.
    m(at(0, 7, 41), ALICE, 'PutBucketLogging', 'logs-archive', { BucketLoggingStatus: { LoggingEnabled: { TargetBucket: 'logs-archive', TargetPrefix: 'access/logs-archive/' } }, logging: '' }),
    m(at(0, 7, 45), ALICE, 'PutBucketAcl', 'logs-archive', { AccessControlPolicy: { AccessControlList: { Grant: [
      { Grantee: { 'xsi:type': 'Group', URI: 'http://acs.amazonaws.com/groups/s3/LogDelivery' }, Permission: 'WRITE' },
      { Grantee: { 'xsi:type': 'Group', URI: 'http://acs.amazonaws.com/groups/s3/LogDelivery' }, Permission: 'READ_ACP' },
    ] } }, acl: '' }),
    // Uploads outside the ETL's SSE-KMS: one with a customer-provided key (SSE-C), one with another account's KMS key.
    { ...s3Record(at(0, 11, 15), ALICE, 'PutObject', true, 'prod-data', {}), requestParameters: { bucketName: 'prod-data', Host: 'prod-data.s3.us-east-1.amazonaws.com', key: 'uploads/contract-signed.pdf', 'x-amz-server-side-encryption-customer-algorithm': 'AES256' }, additionalEventData: { SignatureVersion: 'SigV4', CipherSuite: 'ECDHE-RSA-AES128-GCM-SHA256', bytesTransferredIn: 88120, AuthenticationMethod: 'AuthHeader', SSEApplied: 'SSE_C', bytesTransferredOut: 0 } },
    { ...s3Record(at(0, 11, 20), INTRUDER, 'PutObject', true, 'prod-data', {}), sourceIPAddress: '185.220.101.4', userAgent: '[python-requests/2.31.0]', requestParameters: { bucketName: 'prod-data', Host: 'prod-data.s3.us-east-1.amazonaws.com', key: 'sales/2025/03/_SUCCESS', 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': `arn:aws:kms:us-east-1:${EXTERNAL}:key/0badc0de-0000-4000-8000-000000000001` }, additionalEventData: { SignatureVersion: 'SigV4', CipherSuite: 'ECDHE-RSA-AES128-GCM-SHA256', bytesTransferredIn: 0, AuthenticationMethod: 'AuthHeader', SSEApplied: 'SSE_KMS', bytesTransferredOut: 0 } },
    // Glacier: a vault policy open to everyone, and a Vault Lock started.
    { ...s3Record(at(0, 16, 0), ALICE, 'SetVaultAccessPolicy', false, 'finance-archive'), eventSource: 'glacier.amazonaws.com', requestParameters: { accountId: '-', vaultName: 'finance-archive', policy: { policy: JSON.stringify(policy([{ Effect: 'Allow', Principal: '*', Action: 'glacier:InitiateJob', Resource: `arn:aws:glacier:us-east-1:${ACCOUNT}:vaults/finance-archive` }])) } }, resources: undefined, additionalEventData: undefined },
    { ...s3Record(at(0, 16, 5), ALICE, 'InitiateVaultLock', false, 'finance-archive'), eventSource: 'glacier.amazonaws.com', requestParameters: { accountId: '-', vaultName: 'finance-archive', policy: { policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"glacier:DeleteArchive","Resource":"*","Condition":{"NumericLessThan":{"glacier:ArchiveAgeInDays":"365"}}}]}' } }, resources: undefined, additionalEventData: undefined },
    // Day 2: the intruder looks around, suspends versioning, switches logging off, tries the trail, plants a policy.
    { ...s3Record(at(1, 1, 58), INTRUDER, 'GetCallerIdentity', false, 'x'), eventSource: 'sts.amazonaws.com', sourceIPAddress: '185.220.101.4', userAgent: 'python-requests/2.31.0', requestParameters: null, resources: undefined, additionalEventData: undefined, readOnly: true },
    { ...m(at(1, 1, 59), INTRUDER, 'ListBuckets', 'x', {}), requestParameters: { Host: 's3.us-east-1.amazonaws.com' }, resources: undefined, sourceIPAddress: '185.220.101.4', userAgent: '[python-requests/2.31.0]' },
    { ...m(at(1, 2, 20), INTRUDER, 'PutBucketVersioning', 'prod-data', { VersioningConfiguration: { Status: 'Suspended', xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' }, versioning: '' }), sourceIPAddress: '185.220.101.4', userAgent: '[python-requests/2.31.0]' },
    { ...m(at(1, 2, 25), INTRUDER, 'PutBucketLogging', 'prod-data', { BucketLoggingStatus: { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' }, logging: '' }), sourceIPAddress: '185.220.101.4', userAgent: '[python-requests/2.31.0]' },
    { ...s3Record(at(1, 2, 26), INTRUDER, 'StopLogging', false, 'x'), eventSource: 'cloudtrail.amazonaws.com', sourceIPAddress: '185.220.101.4', userAgent: 'python-requests/2.31.0', requestParameters: { name: `arn:aws:cloudtrail:us-east-1:${ACCOUNT}:trail/org-trail` }, resources: undefined, additionalEventData: undefined, errorCode: 'AccessDenied', errorMessage: `User: arn:aws:iam::${ACCOUNT}:user/ci-deployer is not authorized to perform: cloudtrail:StopLogging` },
    { ...m(at(1, 2, 50), INTRUDER, 'PutBucketPolicy', 'prod-data', { bucketPolicy: policy([
      { Sid: 'DenyUnencryptedUploads', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: 'arn:aws:s3:::prod-data/*', Condition: { Null: { 's3:x-amz-server-side-encryption': 'true' } } },
      { Sid: 'Backup', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${EXTERNAL}:root` }, Action: ['s3:GetObject', 's3:ListBucket'], Resource: ['arn:aws:s3:::prod-data', 'arn:aws:s3:::prod-data/*'] },
    ]), policy: [''] }), sourceIPAddress: '185.220.101.4', userAgent: '[python-requests/2.31.0]' },
    // Root signs in with MFA, puts versioning and MFA Delete back (in the access logs too), and removes the planted policy.
    { ...s3Record(at(1, 7, 58), ROOT, 'ConsoleLogin', false, 'x'), eventSource: 'signin.amazonaws.com', eventType: 'AwsConsoleSignIn', sourceIPAddress: '2001:db8:85a3::8a2e:370:7334', userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)', requestParameters: null, responseElements: { ConsoleLogin: 'Success' }, additionalEventData: { MFAUsed: 'Yes', LoginTo: 'https://console.aws.amazon.com/console/home', MobileVersion: 'No' }, resources: undefined, readOnly: false },
    { ...m(at(1, 8, 5), ROOT, 'DeleteBucketPolicy', 'prod-data', { policy: '' }), sourceIPAddress: '2001:db8:85a3::8a2e:370:7334' },
  ];
}

/** Day 3, as the security team's EventBridge archive holds it. */
function dayThree(): Rec[] {
  const m = (t: string, who: Rec, name: string, bucket: string, req: Rec): Rec => {
    const rec = s3Record(t, who, name, false, bucket);
    Object.assign(rec.requestParameters as Rec, req);
    return rec;
  };
  return [
    m(at(2, 9, 0), ALICE, 'PutBucketVersioning', 'prod-backups', { VersioningConfiguration: { Status: 'Enabled', MfaDelete: 'Disabled' }, versioning: '' }),
    m(at(2, 10, 0), ALICE, 'DeleteBucketEncryption', 'prod-backups', { encryption: '' }),
    m(at(2, 10, 5), ALICE, 'PutBucketAcl', 'prod-backups', { 'x-amz-acl': ['public-read'], acl: '' }),
  ];
}

/** Write the CloudTrail samples under `out`; returns a one-line summary. */
export function writeCloudTrailSamples(out: string, story: readonly Req[]): string {
  const records = [...story.map(fromRequest).filter((r): r is Rec => r !== null), ...managementStory()]
    .sort((a, b) => String(a.eventTime).localeCompare(String(b.eventTime)));
  // Calls to other services name their own endpoint.
  for (const r of records) {
    const source = String(r.eventSource);
    if (source !== 's3.amazonaws.com' && r.tlsDetails) (r.tlsDetails as Rec).clientProvidedHostHeader = source === 'signin.amazonaws.com' ? 'signin.aws.amazon.com' : source.replace('.amazonaws.com', '.us-east-1.amazonaws.com');
  }
  const byHour = new Map<string, Rec[]>();
  for (const r of records) {
    const hour = String(r.eventTime).slice(0, 13);
    byHour.set(hour, [...(byHour.get(hour) ?? []), r]);
  }
  let n = 0;
  for (const [hour, recs] of byHour) {
    const [y, mo, d] = hour.slice(0, 10).split('-') as [string, string, string];
    const dir = join(out, 'AWSLogs', ACCOUNT, 'CloudTrail', 'us-east-1', y, mo, d);
    mkdirSync(dir, { recursive: true });
    const stamp = `${y}${mo}${d}T${hour.slice(11, 13)}00Z`;
    writeFileSync(join(dir, `${ACCOUNT}_CloudTrail_us-east-1_${stamp}_s3siftSample${String(n++).padStart(2, '0')}.json.gz`), gzipSync(JSON.stringify({ Records: recs })));
  }
  const digestDir = join(out, 'AWSLogs', ACCOUNT, 'CloudTrail-Digest', 'us-east-1', '2025', '03', '11');
  mkdirSync(digestDir, { recursive: true });
  writeFileSync(join(digestDir, `${ACCOUNT}_CloudTrail-Digest_us-east-1_org-trail_us-east-1_20250311T030000Z.json.gz`), gzipSync(JSON.stringify({
    awsAccountId: ACCOUNT, digestStartTime: '2025-03-11T02:00:00Z', digestEndTime: '2025-03-11T03:00:00Z', digestS3Bucket: 'org-trail-logs',
    digestS3Object: `AWSLogs/${ACCOUNT}/CloudTrail-Digest/us-east-1/2025/03/11/x.json.gz`, digestSignatureAlgorithm: 'SHA256withRSA', logFiles: [],
  })));
  const bus = join(out, 'eventbridge');
  mkdirSync(bus, { recursive: true });
  const envelopes = dayThree().map((detail, i) => JSON.stringify({
    version: '0', id: `7bf73129-1428-4cd3-a780-95db273d1${String(600 + i)}`, 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3',
    account: ACCOUNT, time: detail.eventTime, region: 'us-east-1', resources: [], detail,
  }));
  writeFileSync(join(bus, 'security-bus-2025-03-12.ndjson'), envelopes.join('\n') + '\n');
  return `wrote ${records.length} CloudTrail records in ${byHour.size} files, a digest file and ${envelopes.length} EventBridge events under ${out}`;
}
