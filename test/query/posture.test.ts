import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../ingest/ingest.js';
import { openDataset } from '../../query/dataset.js';
import { posture, type BucketPosture } from '../../query/posture.js';
import { CONFORMANCE, tempDir } from '../helpers/dataset.js';
import { loadDetections } from '../../query/detection.js';
import { runDetections, selectDetections } from '../../query/detect.js';

const OWNER = '111122223333';
let seq = 0;
/** A successful S3 call by alice on prod-data, as CloudTrail records it. */
function call(time: string, eventName: string, params: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const data = eventName === 'GetObject';
  return {
    eventVersion: '1.09', userIdentity: { type: 'IAMUser', principalId: 'AIDAALICE', arn: `arn:aws:iam::${OWNER}:user/alice`, accountId: OWNER, userName: 'alice' },
    eventTime: time, eventSource: 's3.amazonaws.com', eventName, awsRegion: 'us-east-1', sourceIPAddress: '203.0.113.9', userAgent: 'aws-cli/2',
    requestParameters: { bucketName: 'prod-data', Host: 'prod-data.s3.us-east-1.amazonaws.com', ...params }, responseElements: null,
    requestID: `R${++seq}`, eventID: `e-${seq}`, readOnly: data, eventType: 'AwsApiCall', managementEvent: !data, recipientAccountId: OWNER,
    eventCategory: data ? 'Data' : 'Management', ...extra,
  };
}

const PUBLIC_READ = { Version: '2012-10-17', Statement: [{ Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::prod-data/*' }] };
const ENFORCING = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'DenyUnencrypted', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: 'arn:aws:s3:::prod-data/*', Condition: { Null: { 's3:x-amz-server-side-encryption': 'true' } } },
    { Sid: 'DenyHttp', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: ['arn:aws:s3:::prod-data', 'arn:aws:s3:::prod-data/*'], Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
  ],
};

const HISTORY = [
  call('2025-03-01T00:00:00Z', 'CreateBucket', { 'x-amz-acl': ['private'] }),
  call('2025-03-01T01:00:00Z', 'PutBucketVersioning', { VersioningConfiguration: { Status: 'Enabled', MfaDelete: 'Disabled' } }),
  call('2025-03-01T02:00:00Z', 'PutBucketLogging', { BucketLoggingStatus: { LoggingEnabled: { TargetBucket: 'log-bucket', TargetPrefix: 'prod-data/' } } }),
  call('2025-03-01T03:00:00Z', 'PutBucketEncryption', { ServerSideEncryptionConfiguration: { Rule: { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'arn:aws:kms:us-east-1:111122223333:key/k1' } } } }),
  call('2025-03-02T00:00:00Z', 'PutBucketPolicy', { bucketPolicy: ENFORCING }),
  call('2025-03-03T00:00:00Z', 'PutBucketVersioning', { VersioningConfiguration: { Status: 'Suspended' } }),
  call('2025-03-03T12:00:00Z', 'GetObject', { key: 'a.csv' }),
  call('2025-03-04T00:00:00Z', 'PutBucketPolicy', { bucketPolicy: PUBLIC_READ }),
  // A call that failed changes nothing.
  call('2025-03-04T06:00:00Z', 'PutBucketAcl', { 'x-amz-acl': ['public-read-write'] }, { errorCode: 'AccessDenied', errorMessage: 'Access Denied' }),
  call('2025-03-04T12:00:00Z', 'GetObject', { key: 'b.csv' }),
  call('2025-03-05T00:00:00Z', 'PutBucketPublicAccessBlock', { PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true } }),
  call('2025-03-06T00:00:00Z', 'PutBucketVersioning', { VersioningConfiguration: { Status: 'Enabled', MfaDelete: 'Enabled' } }),
  call('2025-03-07T00:00:00Z', 'PutBucketLogging', { BucketLoggingStatus: {} }),
  call('2025-03-08T00:00:00Z', 'GetObject', { key: 'c.csv' }),
];

let tmp: { dir: string; cleanup: () => void };
let data: string;
beforeAll(async () => {
  tmp = tempDir();
  data = join(tmp.dir, 'data');
  const file = join(tmp.dir, 'history.ndjson');
  writeFileSync(file, HISTORY.map((r) => JSON.stringify(r)).join('\n') + '\n');
  await ingest([file], { data, format: 'auto', force: false, strict: false });
});
afterAll(() => tmp.cleanup());

async function at(t: string): Promise<BucketPosture> {
  const ds = await openDataset(data);
  try {
    const [p] = await posture(ds, { bucket: 'prod-data', at: new Date(t) });
    return p as BucketPosture;
  } finally {
    ds.close();
  }
}

describe('posture reconstructed from CloudTrail', () => {
  it('knows nothing before the first call: every setting unknown, no window', async () => {
    const p = await at('2025-02-28T00:00:00Z');
    expect(Object.values(p.settings).every((s) => s === null)).toBe(true);
    expect(p.windows).toEqual([]);
  });

  it('gives each setting its last value, when and by whom, and leaves unseen settings unknown', async () => {
    const p = await at('2025-03-04T06:00:00Z');
    const v = Object.fromEntries(Object.entries(p.settings).map(([k, s]) => [k, s && { value: s.value, since: s.since, by: s.by }]));
    const alice = `arn:aws:iam::${OWNER}:user/alice`;
    expect(v).toEqual({
      versioning: { value: 'Suspended', since: '2025-03-03T00:00:00.000Z', by: alice },
      mfa_delete: { value: 'Disabled', since: '2025-03-01T01:00:00.000Z', by: alice },
      default_encryption: { value: 'SSE-KMS (arn:aws:kms:us-east-1:111122223333:key/k1)', since: '2025-03-01T03:00:00.000Z', by: alice },
      bucket_policy: { value: 'public (s3:GetObject); does not enforce encryption; allows plain HTTP', since: '2025-03-04T00:00:00.000Z', by: alice },
      acl: { value: 'not public; canned private', since: '2025-03-01T00:00:00.000Z', by: alice },
      block_public_access: null,
      logging: { value: 'to log-bucket/prod-data/', since: '2025-03-01T02:00:00.000Z', by: alice },
      lifecycle_expiration: null,
      replication: null,
      object_ownership: null,
    });
  });

  it('reads the enforcing policy for what it denies', async () => {
    const p = await at('2025-03-02T12:00:00Z');
    expect(p.settings.bucket_policy?.value).toBe('not public; uploads must use AES256 or aws:kms or aws:kms:dsse; denies plain HTTP');
    expect(p.windows.map((w) => w.exposure)).toEqual(['no_mfa_delete']);
  });

  it('gives the exact exposure windows, with the requests that fell in each', async () => {
    const p = await at('2025-03-09T00:00:00Z');
    expect(p.windows.map(({ exposure, from, until, requests }) => ({ exposure, from, until, requests }))).toEqual([
      { exposure: 'no_mfa_delete', from: '2025-03-01T01:00:00.000Z', until: '2025-03-06T00:00:00.000Z', requests: 2 },
      { exposure: 'unversioned', from: '2025-03-03T00:00:00.000Z', until: '2025-03-06T00:00:00.000Z', requests: 2 },
      { exposure: 'public', from: '2025-03-04T00:00:00.000Z', until: '2025-03-05T00:00:00.000Z', requests: 1 },
      { exposure: 'no_encryption_policy', from: '2025-03-04T00:00:00.000Z', until: null, requests: 2 },
      { exposure: 'no_logging', from: '2025-03-07T00:00:00.000Z', until: null, requests: 1 },
    ]);
    expect(p.windows[2]?.opened_by).toBe(`PutBucketPolicy by arn:aws:iam::${OWNER}:user/alice`);
    // The failed PutBucketAcl is not in the timeline.
    expect(p.timeline.map((c) => c.event_name)).not.toContain('PutBucketAcl');
    expect(p.timeline).toHaveLength(12);
  });
});

describe('the backdoored bucket policy of the real attack run (invictus-ir)', () => {
  it('fires bucket-policy-external-account once, and posture shows the grant and its removal', async () => {
    const d = join(tmp.dir, 'invictus');
    await ingest([new URL('invictus-ir/', CONFORMANCE).pathname], { data: d, format: 'cloudtrail', force: false, strict: false });
    const ds = await openDataset(d);
    try {
      const lib = selectDetections(await loadDetections(), ['bucket-policy-external-account']);
      const { findings } = await runDetections(ds, lib);
      expect(findings.map((f) => [f.bucket, f.principal, f.details.external_accounts])).toEqual([
        ['stratus-red-team-bdbp-lhfzvgcamn', expect.stringMatching(/^arn:aws:/), ['193672423079']],
      ]);
      const [p] = await posture(ds, { bucket: 'stratus-red-team-bdbp-lhfzvgcamn', at: new Date('2023-07-10T12:25:00Z') });
      expect(p?.settings.bucket_policy?.value).toBe('not public; does not enforce encryption; allows plain HTTP; grants accounts 193672423079');
      const [after] = await posture(ds, { bucket: 'stratus-red-team-bdbp-lhfzvgcamn', at: new Date('2023-07-11T00:00:00Z') });
      expect(after?.settings.bucket_policy).toMatchObject({ value: 'none', event_name: 'DeleteBucketPolicy' });
    } finally {
      ds.close();
    }
  });
});
